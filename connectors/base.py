"""The connector interface: a source of records, read-only, page by page.

A connector is built from its settings (a frozen dataclass that ``scanner.app.config`` validates)
and a ``ConnectorContext``. ``collect(since)`` yields ``SourceRecord``s: after each page a
``Checkpoint``; for a stream it may not read a ``Skipped`` with the permission to grant; for
a full listing that ended a ``Checkpoint(complete=True)``. It never builds whole lists and never
touches the store. Raw provider dicts never leave the connector.

``check()`` (for ``shadowit doctor``) acquires a token and probes each permission with the
cheapest call, yielding one ``Probe`` per permission.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import requests

from scanner.core import paths
from scanner.core.errors import ConfigError
from scanner.core.models import Capability, SourceRecord
from scanner.net.http import MIB, RetryPolicy

TRANSPORT_SETTINGS = ("timeout", "deadline_hours", "max_response_mib")
"""Every HTTP source has these (see ``transport_policy``): one name, one meaning everywhere."""


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may know of the run it is part of."""

    config_path: Path | None = None
    """The config file; relative paths in settings resolve against its folder."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    full: bool = False
    """Force a full sweep, ignoring stored cursors."""
    session: requests.Session | None = None
    """A prepared requests.Session (tests and the demo inject one that trusts their CA)."""
    sleep: Callable[[float], None] | None = None
    """Replaces time.sleep in retries and pacing (tests pass a recorder)."""
    options: Mapping[str, Any] = field(default_factory=dict)

    def resolve_path(self, value: str) -> Path:
        """A path setting against the config file's folder (``scanner.core.paths.resolve``);
        settings loaded from a file hold resolved paths already, so this changes only
        settings built in code."""
        return paths.resolve(value, self.config_path)


@dataclass(frozen=True)
class Probe:
    """One line of ``shadowit doctor``: a capability and whether it works."""

    source: str
    check: str
    ok: bool
    detail: str
    fix: str | None = None


class Connector(Protocol):
    name: ClassVar[str]

    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        """Yield records page by page; ``since`` holds last scan's cursors per stream."""
        ...

    def check(self) -> Iterator[Probe]:
        """Probe credentials and every permission with the cheapest call."""
        ...


@dataclass(frozen=True)
class ConnectorSpec:
    """How the registry builds a connector: its settings type and its factory."""

    name: str
    settings: type
    factory: Callable[[Any, ConnectorContext], Connector]
    summary: str
    capabilities: frozenset[Capability] = frozenset()
    """What its records let the analysis conclude (see ``scanner.core.models.Capability``)."""


def transport_policy(
    source: str, settings: Any, sleep: Callable[[float], None] | None
) -> tuple[RetryPolicy, float]:
    """The retry policy and the monotonic deadline a source's settings ask for.

    ``timeout`` bounds the connect and each read, ``max_response_mib`` one answer, and
    ``deadline_hours`` the whole source; all three are checked here so a bad value is one line.
    """
    for name in TRANSPORT_SETTINGS:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"sources.{source}.{name}: must be more than 0")
    policy = RetryPolicy(
        timeout=settings.timeout,
        max_bytes=int(settings.max_response_mib * MIB),
        sleep=sleep if sleep is not None else time.sleep,
    )
    return policy, policy.clock() + settings.deadline_hours * 3600
