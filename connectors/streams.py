"""What every REST connector shares: guarded streams, checked parsers, provider times, and the
HTTP status -> error mapping.

- ``guarded`` runs one stream. A missing permission ends that stream ``Skipped`` with the
  permission to grant, and the other streams go on (the source ends partial); an HTTP error the
  connector's ``translate`` hook knows becomes its records (a warning, a Skipped).
- ``Shapes`` runs a pure parser: a missing or wrongly typed field fails as ResponseShapeError
  naming the item, so nothing is half-stored.
- ``provider_time`` reads Graph, Google and Okta timestamps leniently; ``strict_time`` is the
  same parser for callers that turn an unreadable time into their own error.
- ``status_error`` turns an HTTP status into our error from a provider's table of messages.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar

from scanner.core.errors import ConnectorError, PermissionMissing, ResponseShapeError
from scanner.core.models import Skipped, SourceRecord
from scanner.net.http import HttpStatusError

P = ParamSpec("P")
T = TypeVar("T")

# -- streams --------------------------------------------------------------------------------


def skipped(source: str, stream: str, err: ConnectorError) -> Skipped:
    """A stream that could not be read, with the permission to grant when one is missing."""
    permission = err.permission if isinstance(err, PermissionMissing) else None
    return Skipped(source, stream, str(err), permission)


def guarded(
    source: str,
    stream: str,
    records: Iterable[SourceRecord],
    *,
    also: Sequence[str] = (),
    give_up: tuple[type[ConnectorError], ...] = (PermissionMissing,),
    translate: Callable[[HttpStatusError], Iterable[SourceRecord]] | None = None,
) -> Generator[SourceRecord, None, bool]:
    """Yield one stream's records; True when it ran to its end.

    A ``give_up`` error (PermissionMissing unless the connector names more, e.g. throttling
    that outlasted the retries) ends the stream with one Skipped for it and for each stream in
    ``also`` that depends on it. An HttpStatusError goes to ``translate``, which yields what
    the stream becomes or raises the connector's error; without ``translate`` it propagates.
    Either way nothing of the stream is marked complete, so nothing of it is marked gone.
    """
    try:
        yield from records
    except HttpStatusError as err:
        if translate is None:
            raise
        yield from translate(err)
        return False
    except give_up as err:
        for name in (stream, *also):
            yield skipped(source, name, err)
        return False
    return True


# -- parsers --------------------------------------------------------------------------------

SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
"""What a parser raises on a provider item it cannot read: a missing field (KeyError), one of
the wrong type (TypeError, AttributeError: a list for a string, a bool for an object) or an
unreadable value (ValueError)."""


@dataclass(frozen=True)
class Shapes:
    """How one provider words a malformed item.

    ``template`` may use ``{what}`` (the item, e.g. ``users.list``), ``{kind}`` (the exception's
    type name) and ``{error}`` (the exception itself; ``{error!r}`` for its repr).
    """

    source: str
    template: str

    def error(self, what: str, err: Exception) -> ResponseShapeError:
        message = self.template.format(what=what, kind=type(err).__name__, error=err)
        return ResponseShapeError(self.source, message)

    def parse(self, what: str, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``parse(*args, **kwargs)``; a missing or wrongly typed field -> ResponseShapeError."""
        try:
            return parse(*args, **kwargs)
        except SHAPE_ERRORS as err:
            raise self.error(what, err) from None

    def checked(self, what: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """A decorator: the parser itself fails as ResponseShapeError naming ``what``."""

        def wrap(parse: Callable[P, T]) -> Callable[P, T]:
            @functools.wraps(parse)
            def parsed(*args: P.args, **kwargs: P.kwargs) -> T:
                return self.parse(what, parse, *args, **kwargs)

            return parsed

        return wrap


# -- times ----------------------------------------------------------------------------------

_LOOSE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{1,2}(?::?\d{2})?)?$"
)


def strict_time(text: str) -> datetime:
    """A provider timestamp as aware UTC; ValueError (``fromisoformat``'s) when it is none.

    ISO 8601 as ``datetime.fromisoformat`` reads it (Okta's ``...01.000Z``, Google's RFC 3339,
    Graph's 7-digit fractions such as ``...41.6195833Z``), then what it refuses but providers
    send: the beta activity report's offsets such as ``2021-03-01T00:00:00-8:00``, a lower-case
    ``z``, surrounding spaces. No offset means UTC.
    """
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        loose = _loose_time(text)
        if loose is None:
            raise
        return loose
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def provider_time(value: object) -> datetime | None:
    """``strict_time`` for any value: None when it is absent, not a string or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return strict_time(value)
    except ValueError:
        return None


def _loose_time(text: str) -> datetime | None:
    match = _LOOSE_TIME.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, UTC
        )
    except ValueError:
        return None
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
        stamp -= sign * timedelta(hours=int(hours), minutes=int(minutes))
    return stamp


def utc_seconds(value: datetime) -> str:
    """``2026-03-01T12:00:05Z``: UTC, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_millis(value: datetime) -> str:
    """``2026-03-01T12:00:05.123Z``: UTC with milliseconds (RFC 3339, ISO 8601)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}Z"
    )


# -- HTTP status -> our error ---------------------------------------------------------------

StatusTable = Mapping[int | None, tuple[type[ConnectorError], str]]
"""A provider's HTTP status -> (our error type, message template); ``None`` is every other
status. Templates name their fields (``{stream}``, ``{status}`` and what the connector passes)."""


def status_error(
    source: str,
    status: int,
    table: StatusTable,
    *,
    stream: str = "",
    permission: str = "",
    **fields: object,
) -> ConnectorError:
    """The error ``table`` names for ``status``, its message filled from ``fields``.

    A PermissionMissing carries ``stream`` and ``permission`` so ``guarded`` can turn it into a
    Skipped that names the permission."""
    kind, template = table[status] if status in table else table[None]
    message = template.format(stream=stream, status=status, permission=permission, **fields)
    if issubclass(kind, PermissionMissing):
        return kind(source, stream, permission, message)
    return kind(source, message)
