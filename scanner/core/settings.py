"""Turn TOML tables into frozen settings dataclasses, naming the key path on every error.

``build(cls, table, path, file)`` checks each field's type from its annotation (str, int,
float, bool, date, Path-like str, tuples/lists of those, nested dataclasses, ``dict[str, X]``,
``X | None``) and rejects unknown keys, so a typo is an error instead of a silently ignored
setting. Secrets are never values: ``secret()`` reads the environment variable or file a setting
names.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from scanner.core.errors import ConfigError

T = TypeVar("T")


def build(cls: type[T], table: Any, path: str, file: Path | None) -> T:
    """Validate ``table`` (from TOML) into ``cls``; raise ConfigError naming ``path``."""
    where = f" ({file})" if file else ""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a table, got {_type_name(table)}{where}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise ConfigError(f"{_join(path, unknown[0])}: unknown setting (known: {known}){where}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(path, name)
        if name in table:
            values[name] = _convert(hints[name], table[name], key, file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required setting is missing{where}")
    return cls(**values)


def _convert(tp: Any, value: Any, key: str, file: Path | None) -> Any:
    where = f" ({file})" if file else ""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, key, file)
        for option in options:
            try:
                return _convert(option, value, key, file)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: unexpected {_type_name(value)}{where}")
    if origin is typing.Literal:
        allowed = get_args(tp)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"{key}: {value!r} is not one of {choices}{where}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_type_name(value)}{where}")
        item_type = get_args(tp)[0]
        items = [_convert(item_type, v, f"{key}[{i}]", file) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {_type_name(value)}{where}")
        value_type = get_args(tp)[1]
        return {k: _convert(value_type, v, _join(key, k), file) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key, file)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_type_name(value)}{where}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {_type_name(value)}{where}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {_type_name(value)}{where}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_type_name(value)}{where}")
        return value
    if tp is date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a date like 2026-01-31, got {value!r}{where}")
    if tp is Any:
        return value
    raise TypeError(f"settings type {tp!r} at {key} is not supported")


def secret(
    env: str | None,
    file: str | None,
    key: str,
    config_file: Path | None,
    required: bool = True,
) -> str | None:
    """Read a secret from the environment variable or file a setting names.

    ``key`` is the setting's path without the ``_env``/``_file`` suffix, for messages.
    """
    where = f" ({config_file})" if config_file else ""
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(
                f"{key}_env: environment variable {env} is not set; export it before the scan"
                f"{where}"
            )
        return value.strip()
    if file:
        path = Path(file).expanduser()
        if not path.is_absolute() and config_file is not None:
            path = config_file.parent / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(
                f"{key}_file: cannot read {path}: {err.strerror or err}{where}"
            ) from None
    if required:
        raise ConfigError(f"{key}: set {key}_env (an environment variable) or {key}_file{where}")
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(value: Any) -> str:
    names = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
