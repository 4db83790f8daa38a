"""Typed configs from YAML: unknown keys and impossible values are rejected with a clear message.

A config class is a (nested) dataclass whose fields carry type hints. Values may be
overridden from the command line as ``section.key=value`` (the value is parsed as YAML).
A dataclass may define ``check(self)`` that raises ``ConfigError`` for impossible values.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from cgan.errors import ConfigError
from cgan.runs.paths import REPO_ROOT

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types recursively."""
    label = where or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: expected a mapping of settings, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{label}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}"
        )
    values = {}
    for name, field in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            values[name] = _convert(hints[name], data[name], key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: missing required setting")
    obj = cls(**values)
    check = getattr(obj, "check", None)
    if check is not None:
        check()
    return obj


def _convert(hint: Any, value: Any, key: str) -> Any:
    """Convert one YAML value to the annotated type, or explain why it cannot be."""
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} fits none of {hint}")
    if origin is Literal:
        if value not in get_args(hint):
            allowed = ", ".join(repr(a) for a in get_args(hint))
            raise ConfigError(f"{key}: {value!r} is not one of {allowed}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = get_args(hint)[:1] or (Any,)
        return [_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-6 (no dot) as text; take it as the number it is
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported setting type {hint}")


def override_keys(overrides: list[str]) -> set[str]:
    """The dotted keys that ``key=value`` overrides set."""
    return {override.split("=", 1)[0].strip() for override in overrides}


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML) to a nested mapping."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like section.key=value")
        dotted, raw = override.split("=", 1)
        keys = dotted.strip().split(".")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {override!r}: {key} is not a section")
        try:
            node[keys[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            raise ConfigError(f"override {override!r}: value is not valid YAML ({error})") from None
    return data


def read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A config file as a mapping; ``base: other.yaml`` (relative to the file) is read first and
    this file's keys are merged over it, so a variant config lists only what it changes."""
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ConfigError(f"{path}: its base: chain comes back to itself ({chain})")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    base = data.pop("base", None)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}: base must be the name of another config file, not {base!r}")
    return _merge(read_yaml(path.parent / base, (*seen, path.resolve())), data) if base else data


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(cls: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Read a YAML config file into ``cls``, after applying command-line overrides. A relative path
    that does not exist from the current folder is looked up in the repository (so that
    ``--config experiments/mnist/mnist_cgan.yaml`` works from any folder)."""
    path = Path(path)
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path
    data = read_yaml(path)
    try:
        return from_dict(cls, apply_overrides(data, list(overrides or [])))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def to_dict(obj: Any) -> Any:
    """Plain-data view of a config, for checkpoints and result files."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def require(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds; used by ``check`` methods."""
    if not condition:
        raise ConfigError(message)


# Settings that say where things go or how fast they run, not what is computed.
PLACEMENT_KEYS = ("name", "results_dir", "run_dir", "threads", "device", "eval.batch_images", "eval.table_images")


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_changes(reference: dict, other: dict, ignore_prefixes: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """(dotted key, reference value, other value) for every setting of two configs (as plain data)
    that differs, leaving out where outputs go, speed settings and keys under ``ignore_prefixes``;
    a key one config lacks (an older config, from before the setting existed) reads 'not set'."""
    before, after = flatten(reference), flatten(other)
    keys = sorted(k for k in (set(before) | set(after)) - set(PLACEMENT_KEYS) if not k.startswith(ignore_prefixes))
    return [(key, before.get(key, NOT_SET), after.get(key, NOT_SET)) for key in keys
            if before.get(key, NOT_SET) != after.get(key, NOT_SET)]


NOT_SET = "not set"


def unless_off(settings: dict[str, Any], added_later: tuple[str, ...]) -> dict[str, Any]:
    """``settings`` without the keys of ``added_later`` whose value is off (0, False, None): a run's
    identity holds a setting added after runs were keyed only when it is on, so those runs keep
    their keys (and resume) while any run that uses the setting is told apart."""
    return {k: v for k, v in settings.items() if k not in added_later or v}
