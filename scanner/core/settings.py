"""Turn TOML tables into frozen settings dataclasses, naming the key path on every error.

``build(cls, table, path, file)`` checks each field's type from its annotation (str, int,
float, bool, date, Path-like str, tuples/lists of those, nested dataclasses, ``dict[str, X]``,
``X | None``) and rejects unknown keys, so a typo is an error instead of a silently ignored
setting. Secrets are never values: ``secret()`` reads the environment variable or file a setting
names.

Two markers refine a field's type, and every settings dataclass uses them:

- ``Annotated[int, Range(1, 3650)]``: a number outside the range is refused, naming the key
  (``policy.dormant_days: must be 1 or more, not -5 (config.toml)``). ``check_ranges`` applies
  the same ranges to settings built in code, so a connector checks them once more.
- ``InputFile`` (a file shadowit reads: a CA bundle, a key) and ``OutputPath`` (where it
  writes: the store, the report folder): resolved against the config file's folder when the
  config loads (``scanner.core.paths.resolve``), never against the working directory.
  ``path_settings`` lists them for ``doctor`` and the scan's pre-flight.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from scanner.core import paths
from scanner.core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: ``low`` to ``high`` (either may be open)."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    """``low`` itself is refused: a duration or a size must be more than 0."""
    why: str | None = None
    """Said after the range, e.g. "the System Log keeps 90 days"."""

    def problem(self, value: float) -> str | None:
        """What is wrong with ``value`` (after the key in a message), or None."""
        too_low = self.low is not None and (value <= self.low if self.above else value < self.low)
        too_high = self.high is not None and value > self.high
        if not (too_low or too_high):
            return None
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            bound = f"more than {low}" if self.above else f"{low} or more"
            text = f"must be {bound}, not {_number(value)}"
        elif self.low is None:
            text = f"must be at most {high}, not {_number(value)}"
        elif self.above:
            text = f"{_number(value)} is out of range (more than {low}, at most {high})"
        else:
            text = f"{_number(value)} is out of range ({low} to {high})"
        return f"{text}: {self.why}" if self.why else text


@dataclass(frozen=True)
class PathSetting:
    """Marks a str setting as a path, resolved against the config file's folder on load."""

    reads: bool
    """True: a file shadowit reads (checked before a scan); False: where it writes."""


InputFile = Annotated[str, PathSetting(reads=True)]
"""A file shadowit reads: a CA bundle, a key or secret file, a catalog addition."""
OutputPath = Annotated[str, PathSetting(reads=False)]
"""Where shadowit writes: the store file, the report folder, the message folder."""


def build(cls: type[T], table: Any, path: str, file: Path | None) -> T:
    """Validate ``table`` (from TOML) into ``cls``; raise ConfigError naming ``path``."""
    where = f" ({file})" if file else ""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a table, got {_type_name(table)}{where}")
    hints = get_type_hints(cls, include_extras=True)
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
    if origin is Annotated:
        return _annotated(tp, value, key, file)
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


def _annotated(tp: Any, value: Any, key: str, file: Path | None) -> Any:
    """A value of ``Annotated[X, Range(...)]`` or of a path setting."""
    where = f" ({file})" if file else ""
    converted = _convert(get_args(tp)[0], value, key, file)
    for marker in tp.__metadata__:
        if isinstance(marker, Range):
            problem = marker.problem(converted)
            if problem:
                raise ConfigError(f"{key}: {problem}{where}")
        elif isinstance(marker, PathSetting):
            if not converted.strip():
                raise ConfigError(
                    f"{key}: the path is empty; name a file or remove the line{where}"
                )
            # Against the config file's folder as an absolute path: ``Config.path`` resolves
            # the setting again, and a relative config path (``--config site/config.toml``)
            # would otherwise put its folder in front twice.
            converted = str(paths.resolve(converted, file.absolute() if file else None))
    return converted


def check_ranges(settings: Any, key: str, file: Path | None = None) -> None:
    """ConfigError for the first field of the dataclass ``settings`` outside its ``Range``
    (for settings built in code rather than loaded; ``build`` checks the same ranges)."""
    where = f" ({file})" if file else ""
    for name, marker in _markers(type(settings), Range):
        value = getattr(settings, name)
        problem = None if value is None else marker.problem(value)
        if problem:
            raise ConfigError(f"{_join(key, name)}: {problem}{where}")


def path_settings(settings: Any, key: str) -> list[tuple[str, Path, PathSetting]]:
    """The path settings set on the dataclass ``settings``: (key path, path, marker)."""
    found = []
    for name, marker in _markers(type(settings), PathSetting):
        value = getattr(settings, name)
        if value:
            found.append((_join(key, name), Path(value), marker))
    return found


def _markers(cls: type, kind: type[T]) -> list[tuple[str, T]]:
    """(field name, marker) for every field of ``cls`` annotated with a ``kind`` marker,
    directly or inside ``X | None``."""
    found = []
    for name, hint in get_type_hints(cls, include_extras=True).items():
        options = get_args(hint) if get_origin(hint) in (typing.Union, types.UnionType) else ()
        for option in (hint, *options):
            if get_origin(option) is Annotated:
                found += [(name, m) for m in option.__metadata__ if isinstance(m, kind)]
    return found


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
        path = paths.resolve(file, config_file)
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


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
