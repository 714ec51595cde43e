"""What the notification step reads and writes: the ``notifications`` table, and the finding
events and source runs a message reports.

Each row of ``notifications`` records what one message covered (the finding ids and each
source's state), so the next scan sends only what is new since the last covered scan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from scanner.store.database import Store, dumps, iso, loads
from scanner.store.findings import open_condition


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the last message that counted (sent, or nothing to send) covered."""

    scan_id: int
    """The last scan it covered; 0 when nothing was ever covered."""
    source_states: dict[str, str]
    """Source -> "ok", "partial: <reasons>" or "failed: <error>" as of that scan."""
    at: str | None = None
    """When it was recorded: what ``shadowit report`` reconciled into that scan afterwards
    (an app banned since, an owner's answer) is newer than the message."""


@dataclass(frozen=True, slots=True)
class FindingEvent:
    """An open finding with a lifecycle event in a range of scans (the latest event name)."""

    id: str
    app_name: str | None
    kind: str
    severity: str
    reasons: tuple[str, ...]
    event: str


@dataclass(frozen=True, slots=True)
class SourceRunEnd:
    """How one source ended in one scan (``ok``, ``partial`` or ``failed``)."""

    scan_id: int
    source: str
    status: str
    error: str | None
    skipped: tuple[str, ...]


def open_findings_by_severity(store: Store) -> dict[str, int]:
    """Severity -> how many findings are open now (``findings.open_condition``)."""
    condition, params = open_condition(store.clock().date())
    return {
        r["severity"]: r["n"]
        for r in store.db.query(
            f"SELECT severity, count(*) AS n FROM findings WHERE {condition} GROUP BY severity",
            params,
        )
    }


def last_coverage(store: Store) -> Coverage:
    """What the latest sent (or empty) notification covered."""
    rows = list(
        store.db.query(
            "SELECT scan_id, sources, at FROM notifications WHERE status IN ('sent', 'empty') "
            "ORDER BY scan_id DESC, id DESC LIMIT 1"
        )
    )
    if not rows:
        return Coverage(0, {})
    return Coverage(int(rows[0]["scan_id"]), loads(rows[0]["sources"], {}), rows[0]["at"])


def open_finding_events(
    store: Store,
    events: Sequence[str],
    after_scan: int,
    up_to_scan: int,
    after_at: str | None = None,
) -> list[FindingEvent]:
    """Open findings with one of ``events`` in scans ``after_scan < id <= up_to_scan``, and in
    scan ``after_scan`` itself when recorded after ``after_at`` (a reconciliation by
    ``shadowit report`` after that scan's message)."""
    condition, params = open_condition(store.clock().date(), "f")
    rows = store.db.query(
        "SELECT f.id, f.app_name, f.kind, f.severity, f.reasons, max(e.event) AS event "
        "FROM finding_events e JOIN findings f ON f.id = e.finding_id "
        f"WHERE e.event IN ({', '.join('?' for _ in events)}) "
        "AND ((e.scan_id > ? AND e.scan_id <= ?) OR (e.scan_id = ? AND e.at > ?)) "
        f"AND {condition} GROUP BY f.id",
        [*events, after_scan, up_to_scan, after_scan, after_at or "9999", *params],
    )
    return [
        FindingEvent(
            r["id"],
            r["app_name"],
            r["kind"],
            r["severity"],
            tuple(loads(r["reasons"], [])),
            r["event"],
        )
        for r in rows
    ]


def source_run_ends(store: Store, after_scan: int, up_to_scan: int) -> Iterator[SourceRunEnd]:
    """Every source that ended in scans ``after_scan < id <= up_to_scan``, oldest scan first."""
    for r in store.db.query(
        "SELECT scan_id, source, status, error, skipped FROM source_runs "
        "WHERE scan_id > ? AND scan_id <= ? AND status IN ('ok', 'partial', 'failed') "
        "ORDER BY scan_id",
        [after_scan, up_to_scan],
    ):
        yield SourceRunEnd(
            r["scan_id"], r["source"], r["status"], r["error"], tuple(loads(r["skipped"], []))
        )


def digest_sent_on(store: Store, day: str) -> bool:
    """Whether a digest was delivered on ``day`` (YYYY-MM-DD, UTC)."""
    row = store.db.execute(
        "SELECT count(*) FROM notifications WHERE mode = 'digest' AND status = 'sent' AND day = ?",
        [day],
    ).fetchone()
    return bool(row and row[0])


def record_notification(
    store: Store,
    *,
    scan_id: int,
    mode: str,
    status: str,
    day: str,
    at: datetime,
    finding_ids: Sequence[str],
    source_states: Mapping[str, str],
    targets: int,
    error: str | None = None,
) -> None:
    """Record what one notification covered and how its delivery went."""
    with store.db.atomic():
        store.db.execute(
            "INSERT INTO notifications (scan_id, mode, status, day, at, findings, sources, "
            "targets, error) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                scan_id,
                mode,
                status,
                day,
                iso(at),
                dumps(list(finding_ids)),
                dumps(dict(source_states)),
                targets,
                error,
            ],
        )
