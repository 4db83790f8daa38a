"""A sweep's search space, read from YAML: config keys (dotted, as for ``--set``) and their values.

    objective.noise: [unit_uniform, symmetric_uniform]    # categorical: a list of values
    generator.hidden_keep: [1.0, 0.5]
    train.learning_rate: {low: 0.01, high: 0.3, log: true}  # a float range (log-uniform)
    train.momentum_saturate_epoch: {low: 10, high: 250}     # whole numbers: an int range
    discriminator.hidden_keep: {low: 0.3, high: 1.0, step: 0.1}

Every value is checked against the experiment's config schema before any trial starts, so an
unknown key or an impossible value is reported with the key's name, not after hours of trials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cgan.errors import ConfigError

RANGE_KEYS = {"low", "high", "log", "step", "type"}


def yaml_text(value: Any) -> str:
    """A value as the YAML text of a ``--set key=value`` override (parsed back to the same value)."""
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip().removesuffix("...").strip()


@dataclass(frozen=True)
class Param:
    key: str
    choices: tuple[Any, ...] | None = None  # categorical values (as YAML text when not scalars)
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False

    @property
    def categorical(self) -> bool:
        return self.choices is not None

    def bounds(self) -> list[Any]:
        """Values to check against the config schema: every choice, or both ends of a range."""
        return list(self.choices) if self.categorical else [self.low, self.high]

    def override(self, value: Any) -> str:
        return f"{self.key}={value if isinstance(value, str) and self.categorical else yaml_text(value)}"

    def suggest(self, trial) -> Any:
        """This parameter's value for an Optuna trial."""
        if self.categorical:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1),
                                     log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)


def _choice(value: Any) -> Any:
    """Optuna stores scalars only: a list or mapping choice is kept as its YAML text."""
    return value if value is None or isinstance(value, (bool, int, float)) else yaml_text(value)


def parse_param(key: Any, spec: Any) -> Param:
    where = f"{key}"
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"{key!r}: a key is a dotted config name, e.g. train.learning_rate")
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where}: the list of values is empty")
        choices = tuple(_choice(v) for v in spec)
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{where}: a value is listed twice")
        return Param(key, choices=choices)
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: give a list of values or a range {{low: ..., high: ...}}, not {spec!r}")
    unknown = sorted(set(spec) - RANGE_KEYS)
    if unknown or "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: a range has low and high (and optionally log, step, type); "
                          f"got {', '.join(map(str, spec))}")
    low, high = spec["low"], spec["high"]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (low, high)):
        raise ConfigError(f"{where}: low and high must be numbers, got {low!r} and {high!r}")
    kind = spec.get("type", "int" if isinstance(low, int) and isinstance(high, int) else "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"{where}: type must be int or float, not {kind!r}")
    if low > high:
        raise ConfigError(f"{where}: low ({low}) is above high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
    step = spec.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
        raise ConfigError(f"{where}: step must be a number > 0")
    if step is not None and log:
        raise ConfigError(f"{where}: a range cannot have both log and step")
    return Param(key, low=low, high=high, log=log, step=step, integer=kind == "int")


BASE_CONFIG_KEY = "base_config"  # the config a space's trials override (a path from the repository root)


def _space_data(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"space file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping of config keys to values or ranges")
    return data


def space_base_config(path: str | Path) -> str | None:
    """The config a space file names as its base (``base_config:``), or None."""
    value = _space_data(path).get(BASE_CONFIG_KEY)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: {BASE_CONFIG_KEY} must be a path to a config file")
    return value


def read_space(path: str | Path) -> list[Param]:
    """The parameters of a space file, in file order (its base_config aside)."""
    data = {k: v for k, v in _space_data(path).items() if k != BASE_CONFIG_KEY}
    if not data:
        raise ConfigError(f"{path}: expected a mapping of config keys to values or ranges")
    try:
        return [parse_param(key, spec) for key, spec in data.items()]
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def check_space(params: list[Param], load: Callable[[list[str]], Any], space_path: str | Path) -> None:
    """Load the experiment's config with every value of every parameter (each alone): an unknown
    key or an impossible value raises ConfigError naming the key, before any trial starts."""
    for param in params:
        for value in param.bounds():
            try:
                load([param.override(value)])
            except ConfigError as error:
                raise ConfigError(f"{space_path}: {param.key} = {value!r} is rejected by the config: "
                                  f"{error}") from None


def grid(params: list[Param]) -> dict[str, list[Any]]:
    """The search space of Optuna's GridSampler: every parameter must list its values."""
    ranges = [p.key for p in params if not p.categorical]
    if ranges:
        raise ConfigError(f"the grid sampler needs a list of values for every key; {', '.join(ranges)} "
                          "is a range (use --sampler random or tpe, or list the values)")
    return {p.key: list(p.choices) for p in params}
