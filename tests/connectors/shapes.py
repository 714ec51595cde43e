"""What a record must look like when it leaves a connector (scanner.core.models conventions):
an instance of one of the ``SourceRecord`` types, a frozen dataclass, every field of its
annotated type, times timezone-aware UTC, ``None`` instead of ``""``, tuples instead of lists."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime, timedelta
from typing import Any, get_args, get_origin, get_type_hints

from scanner.core.models import SourceRecord

RECORD_TYPES: tuple[type, ...] = get_args(SourceRecord)
"""Every type a connector may yield."""


def problems(record: object) -> list[str]:
    """What is wrong with ``record`` (empty when it is a well-formed source record)."""
    kind = type(record)
    if kind not in RECORD_TYPES:
        names = ", ".join(t.__name__ for t in RECORD_TYPES)
        return [f"{kind.__name__} is not a SourceRecord type ({names})"]
    found: list[str] = []
    if not kind.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        found.append(f"{kind.__name__} is not a frozen dataclass")
    hints = get_type_hints(kind)
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        problem = _conforms(value, hints[field.name])
        if problem:
            found.append(f"{kind.__name__}.{field.name}={value!r}: {problem}")
    return found


def _conforms(value: Any, tp: Any) -> str | None:
    origin = get_origin(tp)
    if tp is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        answers = [_conforms(value, o) for o in options if o is not type(None)]
        return None if None in answers else " / ".join(a for a in answers if a)
    if origin is typing.Literal:
        return None if value in get_args(tp) else f"not one of {get_args(tp)}"
    if origin is tuple:
        if not isinstance(value, tuple):
            return f"a {type(value).__name__}, not a tuple"
        item = get_args(tp)[0]
        return next((p for p in (_conforms(v, item) for v in value) if p), None)
    if origin is dict:
        return None if isinstance(value, dict) else "not a dict"
    return _scalar(value, tp)


def _scalar(value: Any, tp: Any) -> str | None:
    if tp is datetime:
        if not isinstance(value, datetime):
            return f"a {type(value).__name__}, not a datetime"
        if value.tzinfo is None or value.utcoffset() is None:
            return "a naive datetime (times are timezone-aware UTC)"
        return None if value.utcoffset() == timedelta(0) else "not in UTC"
    if tp is date:
        ok = isinstance(value, date) and not isinstance(value, datetime)
        return None if ok else f"a {type(value).__name__}, not a date"
    if tp is bool:
        return None if type(value) is bool else f"a {type(value).__name__}, not a bool"
    if tp in (int, float):
        ok = isinstance(value, tp) and not isinstance(value, bool)
        return None if ok else f"a {type(value).__name__}, not a {tp.__name__}"
    if tp is str:
        if not isinstance(value, str):
            return f"a {type(value).__name__}, not a str"
        return None if value else 'an empty string (optional values are None, never "")'
    return f"the checker does not know the type {tp!r}"
