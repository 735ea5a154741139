"""Dataclass configuration from plain dicts, TOML or JSON, with errors that name the bad key."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


class ConfigError(ValueError):
    pass


def _matches(value, kind) -> bool:
    """Whether a parsed TOML/JSON value fits a field's type hint (ints count as floats, not as bools)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float):
        return isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if origin is list or kind is list:
        return isinstance(value, list) and (not args or all(_matches(v, args[0]) for v in value))
    if origin is dict or kind is dict:
        return isinstance(value, dict) and (not args or all(_matches(k, args[0]) and _matches(v, args[1])
                                                            for k, v in value.items()))
    return isinstance(value, kind) if isinstance(kind, type) else True


def _describe(kind) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def from_dict(cls, d: dict, where: str = ""):
    """Build dataclass `cls` from `d`, recursing into dataclass-typed fields; unknown keys are errors."""
    prefix = f"{where}." if where else ""
    if not isinstance(d, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a table of settings, got {d!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown setting; allowed: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in d.items():
        kind = hints[name]
        inner = [k for k in typing.get_args(kind) if dataclasses.is_dataclass(k)]
        if dataclasses.is_dataclass(kind) or (inner and isinstance(value, dict)):
            value = from_dict(kind if dataclasses.is_dataclass(kind) else inner[0], value, prefix + name)
        elif not _matches(value, kind):
            raise ConfigError(f"{prefix}{name}: expected {_describe(kind)}, got {value!r}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where or cls.__name__}: {e}") from None


def read_file(path: str | Path) -> dict:
    """A TOML or JSON file (by suffix) as a dict."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({e})") from None
