"""Errors that users see: each one says what went wrong and what to do about it."""


class UserFacingError(Exception):
    """An error whose message is meant for the user, printed without a traceback."""


class DataError(UserFacingError):
    """Missing, truncated or corrupt data."""


class ConfigError(UserFacingError):
    """A config file or override that names an unknown key or holds an impossible value."""
