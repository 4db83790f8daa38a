"""The fixtures of tests/ (one torch thread per module), for the studies' tests too."""

from tests.conftest import one_thread  # noqa: F401
