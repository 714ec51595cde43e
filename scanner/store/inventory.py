"""What the inventory is built from and written to: the current raw apps, users, grants,
sign-in aggregates and spend, the canonical ``apps`` table, and each scan's ``app_snapshots``.

Reads that return one row per user, grant or (app, person) stream their rows as named tuples
straight from the cursor: a large tenant has hundreds of thousands of them, and the inventory
reads each once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple

from scanner.core.models import InventoryApp, RawApp
from scanner.store.database import Store, dumps, iso, loads, parse_iso, raw_app_from_row


@dataclass(frozen=True, slots=True)
class CurrentRawApp:
    """A raw app not gone, with when the store first and last saw it."""

    app: RawApp
    first_seen: datetime | None
    last_seen: datetime | None


class DirectoryUser(NamedTuple):
    """A user of a source directory: who they are, the addresses that name them, where they
    sit in the organisation and whether the account is still in use."""

    source: str
    id: str
    email: str | None
    aliases: tuple[str, ...]
    department: str | None
    groups: tuple[str, ...]
    enabled: bool
    is_guest: bool
    gone: bool
    """No longer listed by its directory (deleted)."""


class CurrentGrant(NamedTuple):
    """A current grant, as the inventory aggregates it."""

    source: str
    client_id: str
    user_id: str | None
    user_email: str | None
    consent_type: str
    scopes: tuple[str, ...]
    granted_at: str | None
    """ISO timestamp, as stored."""
    first_seen: str | None
    """ISO timestamp, as stored."""


class PersonUsage(NamedTuple):
    """Sign-in counts of one person (``user_key``) into one app of one source."""

    source: str
    client_id: str
    user_key: str
    """Lower-case email, ``id:<source user id>``, or ``*`` when the event named nobody."""
    last_at: str | None
    """The last successful sign-in, ISO text as stored (None when every one failed): a
    large tenant has a row per app and person, so the caller parses only the latest."""
    recent: int
    """Successful sign-ins on or after the day asked for."""
    total: int
    """Successful sign-ins."""
    failures: int
    """Failed sign-ins: no use, counted apart."""


class EventEvidence(NamedTuple):
    """The events of one kind that named one app of one source (``app_evidence``)."""

    source: str
    client_id: str
    kind: str
    events: int
    """Every event of the kind, failed ones too."""
    failures: int
    last_at: datetime | None
    """The latest event of the kind."""


class UnlistedApp(NamedTuple):
    """An app named by evidence (events, grants, spend) but in no current listing: the gone
    listing when the store still has it, else the name the events gave it."""

    source: str
    client_id: str
    name: str | None
    """The name the events gave it, if any."""
    kind: str | None
    """The kind of event that named it most, if any."""
    gone_listing: RawApp | None
    first_seen: datetime | None
    last_seen: datetime | None


class AppSpend(NamedTuple):
    """What was paid to one app of one source, in one currency."""

    source: str
    client_id: str
    currency: str | None
    total: float
    emails: tuple[str, ...]
    """The people named on its expense lines."""
    lines: int


class RawAppKey(NamedTuple):
    """The canonical app a raw app resolved to."""

    app_key: str
    source: str
    client_id: str


class SnapshotData(NamedTuple):
    """One app of a scan's snapshot: the app as saved (``asdict(InventoryApp)`` in JSON
    form) and its policy status then."""

    data: dict[str, Any]
    sanction_status: str


# -- what the inventory is built from ---------------------------------------------------------
def current_raw_apps(store: Store) -> Iterator[CurrentRawApp]:
    """Every raw app not gone, with its first and last sighting."""
    for row in store.db.query("SELECT * FROM raw_apps WHERE gone_scan IS NULL"):
        yield CurrentRawApp(
            raw_app_from_row(row), parse_iso(row["first_seen"]), parse_iso(row["last_seen"])
        )


def directory_users(store: Store) -> Iterator[DirectoryUser]:
    """Every user the store has seen, deleted ones too, by source and id."""
    for row in store.db.execute(
        "SELECT source, id, email, aliases, department, groups, enabled, is_guest, "
        "gone_scan IS NOT NULL FROM users ORDER BY source, id"
    ):
        source, user_id, email, aliases, department, groups, enabled, guest, gone = row
        yield DirectoryUser(
            source,
            user_id,
            email,
            _strings(aliases),
            department,
            _strings(groups),
            bool(enabled),
            bool(guest),
            bool(gone),
        )


def person_names(store: Store) -> Iterator[str]:
    """Every display name and address the directories give their users, in lower case."""
    for name, email in store.db.execute("SELECT display_name, email FROM users"):
        yield from (v.strip().casefold() for v in (name, email) if v and v.strip())


def current_grants(store: Store) -> Iterator[CurrentGrant]:
    """Every grant not gone."""
    for source, client_id, user_id, email, consent, scopes, granted, first in store.db.execute(
        "SELECT source, client_id, user_id, user_email, consent_type, scopes, granted_at, "
        "first_seen FROM grants WHERE gone_scan IS NULL"
    ):
        yield CurrentGrant(
            source, client_id, user_id, email, consent, _strings(scopes), granted, first
        )


def usage_by_person(store: Store, recent_since: str) -> Iterator[PersonUsage]:
    """Sign-in counts per source, app and person, successful and failed apart; ``recent``
    counts successful sign-ins of days >= ``recent_since`` (YYYY-MM-DD)."""
    rows = store.db.execute(
        "SELECT source, client_id, user_key, max(last_at) AS last_at, "
        "coalesce(sum(CASE WHEN day >= ? THEN count ELSE 0 END), 0) AS recent, "
        "coalesce(sum(count), 0) AS total, coalesce(sum(failures), 0) AS failures "
        "FROM signin_daily GROUP BY source, client_id, user_key",
        [recent_since],
    )
    yield from map(PersonUsage._make, rows)


def event_evidence(store: Store) -> Iterator[EventEvidence]:
    """Every (source, app, kind) that events named, with their counts."""
    for source, client_id, kind, events, failures, last_at in store.db.execute(
        "SELECT source, client_id, kind, events, failures, last_at FROM app_evidence "
        "ORDER BY source, client_id, kind"
    ):
        yield EventEvidence(source, client_id, kind, int(events), int(failures), parse_iso(last_at))


def unlisted_apps(store: Store, events_since: str | None = None) -> Iterator[UnlistedApp]:
    """Every (source, app) that events (the latest at or after ``events_since``, an ISO time),
    current grants or spend name and no current listing has, with its gone listing when there
    is one."""
    named = (
        "SELECT source, client_id, name, kind, events AS n, first_at, last_at FROM app_evidence "
        "WHERE last_at >= :since "
        "UNION ALL SELECT source, client_id, NULL, NULL, 0, first_seen, last_seen FROM grants "
        "WHERE gone_scan IS NULL "
        "UNION ALL SELECT source, client_id, NULL, NULL, 0, on_day, on_day FROM spend"
    )
    rows = store.db.execute(
        f"SELECT e.source, e.client_id, max(e.name), "
        f"(SELECT a.kind FROM app_evidence a WHERE a.source = e.source AND a.client_id = "
        f"e.client_id ORDER BY a.events DESC, a.kind LIMIT 1), min(e.first_at), max(e.last_at) "
        f"FROM ({named}) e WHERE NOT EXISTS (SELECT 1 FROM raw_apps r WHERE r.source = e.source "
        f"AND r.client_id = e.client_id AND r.gone_scan IS NULL) "
        f"GROUP BY e.source, e.client_id ORDER BY e.source, e.client_id",
        {"since": events_since or ""},
    ).fetchall()
    for source, client_id, name, kind, first, last in rows:
        gone = list(
            store.db.query(
                "SELECT * FROM raw_apps WHERE source = ? AND client_id = ?", [source, client_id]
            )
        )
        yield UnlistedApp(
            source,
            client_id,
            name,
            kind,
            raw_app_from_row(gone[0]) if gone else None,
            parse_iso(first),
            parse_iso(last),
        )


def spend_by_app(store: Store) -> Iterator[AppSpend]:
    """Spend summed per source, app and currency."""
    for source, client_id, currency, total, emails, lines in store.db.execute(
        "SELECT source, client_id, currency, sum(amount) AS total, "
        "group_concat(DISTINCT user_email) AS emails, count(*) AS lines FROM spend "
        "GROUP BY source, client_id, currency"
    ):
        named = tuple(e for e in (emails or "").split(",") if e)
        yield AppSpend(source, client_id, currency, float(total or 0), named, int(lines))


# -- what the inventory writes ------------------------------------------------------------------
def save_apps(
    store: Store, apps: Sequence[InventoryApp], raw_keys: Sequence[RawAppKey], now: datetime
) -> None:
    """Point each raw app at its canonical app and upsert the canonical apps (first seen
    stays, a gone app that is back is no longer gone), in one transaction."""
    stamp = iso(now)
    with store.db.atomic():
        store.db.conn.executemany(
            "UPDATE raw_apps SET app_key=? WHERE source=? AND client_id=?", raw_keys
        )
        store.db.conn.executemany(
            "INSERT INTO apps (key, name, vendor, category, domain, first_party, internal, "
            "lookalike_of, evidence, is_marketing, marketing_reason, risk_score, risk_level, "
            "risk_reasons, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (key) DO UPDATE SET name=excluded.name, vendor=excluded.vendor, "
            "category=excluded.category, domain=excluded.domain, "
            "first_party=excluded.first_party, internal=excluded.internal, "
            "lookalike_of=excluded.lookalike_of, evidence=excluded.evidence, "
            "is_marketing=excluded.is_marketing, marketing_reason=excluded.marketing_reason, "
            "risk_score=excluded.risk_score, risk_level=excluded.risk_level, "
            "risk_reasons=excluded.risk_reasons, last_seen=excluded.last_seen, gone_scan=NULL",
            [
                (
                    a.key,
                    a.name,
                    a.app.vendor,
                    a.app.category,
                    a.app.domain,
                    int(a.app.first_party),
                    int(a.app.internal),
                    a.app.lookalike_of,
                    dumps([[e.rule, e.value, e.score] for e in a.app.evidence]),
                    int(a.is_marketing),
                    a.marketing_reason,
                    a.risk_score,
                    a.risk_level,
                    dumps(list(a.risk_reasons)),
                    iso(a.first_seen) or stamp,
                    iso(a.last_seen) or stamp,
                )
                for a in apps
            ],
        )


# -- each scan's snapshot of the inventory ------------------------------------------------------
def replace_app_snapshots(
    store: Store, scan_id: int, apps: Iterable[tuple[InventoryApp, str]]
) -> None:
    """Make ``scan_id``'s snapshot exactly ``apps`` (each with its sanction status)."""
    with store.db.atomic():
        store.db.execute("DELETE FROM app_snapshots WHERE scan_id = ?", [scan_id])
        store.db.conn.executemany(
            "INSERT INTO app_snapshots (scan_id, app_key, name, users, user_count, scopes, "
            "sources, risk_score, risk_level, is_marketing, sanction_status, data) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    scan_id,
                    a.key,
                    a.name,
                    dumps(list(a.users)),
                    len(a.users),
                    dumps(list(a.scopes)),
                    dumps(list(a.sources)),
                    a.risk_score,
                    a.risk_level,
                    int(a.is_marketing),
                    status,
                    dumps(asdict(a)),
                )
                for a, status in apps
            ],
        )


def first_snapshot_scans(store: Store, before_scan: int) -> dict[str, int]:
    """App key -> the first scan whose snapshot has the app, among scans before
    ``before_scan`` (of any status: callers keep those of finished scans)."""
    return {
        r["app_key"]: r["first"]
        for r in store.db.query(
            "SELECT app_key, min(scan_id) AS first FROM app_snapshots WHERE scan_id < ? "
            "GROUP BY app_key",
            [before_scan],
        )
    }


def snapshot_data(store: Store, scan_id: int) -> list[SnapshotData]:
    """The apps of ``scan_id``'s snapshot, riskiest first, then by name."""
    return [
        SnapshotData(loads(r["data"]), r["sanction_status"])
        for r in store.db.query(
            "SELECT data, sanction_status FROM app_snapshots WHERE scan_id = ? "
            "ORDER BY risk_score DESC, name",
            [scan_id],
        )
    ]


def _strings(value: str | None) -> tuple[str, ...]:
    """A stored JSON list of strings; empty for NULL."""
    return tuple(json.loads(value)) if value else ()
