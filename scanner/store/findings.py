"""The findings lifecycle tables: ``findings`` (one row per finding id, its current state) and
``finding_events`` (what happened to it, scan by scan or by decision).

``scanner.analysis.findings`` decides what a scan means for each finding; the functions here
write those decisions and read the rows back. A finding's reasons and evidence are stored
as JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypedDict, cast

from scanner.core.models import Finding
from scanner.store.database import Store, dumps, iso

OPEN_STATUSES = ("open", "acknowledged")
"""Stored statuses of a finding that is open: acknowledged means someone is on it, not that
the risk is taken. An acceptance is open again from its end date on (``is_open``)."""

SeenEvent = Literal["opened", "reopened", "expired"]
"""What a scan that reports a finding does to it: ``opened`` (new), ``reopened`` (it was
resolved), ``expired`` (its acceptance ended)."""


class FindingRow(TypedDict):
    """A row of ``findings`` as stored (reasons and evidence still JSON text)."""

    id: str
    app_key: str
    app_name: str
    kind: str
    severity: str
    status: str
    """open, acknowledged, accepted or resolved."""
    reasons: str
    remediation: str | None
    evidence: str
    opened: str | None
    opened_scan: int | None
    last_scan: int | None
    resolved: str | None
    resolved_scan: int | None
    decided_by: str | None
    decision_reason: str | None
    decided_until: str | None
    """YYYY-MM-DD an acceptance ends, if it does."""
    updated: str | None


@dataclass(frozen=True, slots=True)
class SeenFinding:
    """A finding this scan reported, and the event it causes (None: only refreshed)."""

    finding: Finding
    event: SeenEvent | None = None


@dataclass(frozen=True, slots=True)
class ScanFindingEvent:
    """A lifecycle event a scan caused, with the finding's app and kind."""

    finding_id: str
    event: str
    """opened, reopened, expired or resolved."""
    app_name: str
    kind: str


# -- what "open" means -------------------------------------------------------------------
# The one definition every count, filter and gate uses (report cards and filters, the scan
# summary, ``scan --fail-on``, notifications, the history chart): ``is_open`` for rows in
# hand, ``open_condition`` for SQL. Keep the two the same.
def is_open(status: str, decided_until: str | None, today: date) -> bool:
    """Whether a finding in ``status`` is open on ``today``: open or acknowledged, or accepted
    with an end date (YYYY-MM-DD) that has come. A resolved finding, and an accepted one with
    no end date or one still ahead, is not."""
    if status in OPEN_STATUSES:
        return True
    return status == "accepted" and acceptance_ended(decided_until, today)


def acceptance_ended(decided_until: str | None, today: date) -> bool:
    """Whether an acceptance ending ``decided_until`` is over on ``today`` (it ends at the
    start of that day; None: it has no end)."""
    return bool(decided_until) and str(decided_until)[:10] <= today.isoformat()


def open_condition(today: date, table: str = "findings") -> tuple[str, list[Any]]:
    """``is_open`` as an SQL condition on ``table`` (a name or alias), with its parameters."""
    return open_sql(table, "?"), [today.isoformat()]


def open_sql(table: str = "findings", today: str = "date('now')") -> str:
    """``is_open`` as an SQL condition on ``table`` with ``today`` an SQL expression of the
    day (``date('now')`` for a stored query such as the browse view's)."""
    states = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    return (
        f"({table}.status IN ({states}) OR ({table}.status = 'accepted' AND "
        f"{table}.decided_until IS NOT NULL AND {table}.decided_until != '' AND "
        f"substr({table}.decided_until, 1, 10) <= {today}))"
    )


# -- reading ------------------------------------------------------------------------------
def finding_rows(store: Store, status: str | None = None) -> list[FindingRow]:
    """Every finding, or those in ``status``, in storage order."""
    sql = "SELECT * FROM findings"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    return [cast(FindingRow, r) for r in store.db.query(sql, params)]


def finding_row(store: Store, finding_id: str) -> FindingRow | None:
    """One finding by id; None when there is none."""
    rows = list(store.db.query("SELECT * FROM findings WHERE id = ?", [finding_id]))
    return cast(FindingRow, rows[0]) if rows else None


def scan_finding_events(store: Store, after_scan: int, up_to_scan: int) -> list[ScanFindingEvent]:
    """Events of scans ``after_scan < id <= up_to_scan``, in the order they happened."""
    return [
        ScanFindingEvent(e["finding_id"], e["event"], e["app_name"], e["kind"])
        for e in store.db.query(
            "SELECT e.finding_id, e.event, f.app_name, f.kind FROM finding_events e "
            "JOIN findings f ON f.id = e.finding_id WHERE e.scan_id > ? AND e.scan_id <= ? "
            "ORDER BY e.id",
            [after_scan, up_to_scan],
        )
    ]


def findings_open_at(store: Store, scan_id: int) -> int:
    """How many findings were open at ``scan_id``: raised by then and not yet resolved, and
    not under an acceptance then (``is_open`` as of that scan: the finding's latest event up to
    it was ``accepted``, and the acceptance's end date had not come by the scan's day).

    A decision counts from the first scan begun after it; one recorded before decisions kept
    their scan (``after_scan`` NULL) counts from the scans that finished after it."""
    row = store.db.execute(
        "SELECT count(*) FROM findings f, scan_runs s WHERE s.id = ? "
        "AND f.opened_scan <= s.id AND (f.resolved_scan IS NULL OR f.resolved_scan > s.id) "
        "AND NOT (coalesce((SELECT e.event FROM finding_events e WHERE e.finding_id = f.id "
        "AND (e.scan_id <= s.id OR (e.scan_id IS NULL AND (e.after_scan < s.id OR "
        "(e.after_scan IS NULL AND e.at <= coalesce(s.finished, s.started))))) "
        "ORDER BY e.id DESC LIMIT 1), '') = 'accepted' "
        "AND NOT (coalesce(f.decided_until, '') != '' "
        "AND substr(f.decided_until, 1, 10) <= substr(s.started, 1, 10)))",
        [scan_id],
    ).fetchone()
    return int(row[0]) if row else 0


# -- writing ------------------------------------------------------------------------------
def record_scan_findings(
    store: Store,
    scan_id: int,
    now: datetime,
    seen: Sequence[SeenFinding],
    resolved: Sequence[str],
) -> None:
    """Write one scan's lifecycle in one transaction, events in the order given.

    Each seen finding is inserted (``opened``) or refreshed with this scan's severity,
    reasons and evidence; ``reopened`` and ``expired`` also set it open again, and
    ``reopened`` clears its resolution. Each id in ``resolved`` is marked resolved here.
    """
    stamp = iso(now)
    with store.db.atomic():
        for s in seen:
            if s.event == "opened":
                _insert(store, s.finding, scan_id, stamp)
            else:
                _update(store, s.finding.id, _refreshed(s, scan_id, stamp))
            if s.event:
                _event(store, s.finding.id, scan_id, stamp, s.event)
        for finding_id in resolved:
            _update(
                store,
                finding_id,
                {
                    "status": "resolved",
                    "resolved": stamp,
                    "resolved_scan": scan_id,
                    "updated": stamp,
                },
            )
            _event(store, finding_id, scan_id, stamp, "resolved")


def record_decision(
    store: Store,
    finding_id: str,
    status: str,
    actor: str,
    reason: str,
    until: date | None,
    now: datetime,
) -> None:
    """Set a finding's status by someone's decision (who, why, until when), with its event."""
    stamp = iso(now)
    with store.db.atomic():
        _update(
            store,
            finding_id,
            {
                "status": status,
                "decided_by": actor,
                "decision_reason": reason,
                "decided_until": until.isoformat() if until else None,
                "updated": stamp,
            },
        )
        store.db.execute(
            "INSERT INTO finding_events (finding_id, scan_id, at, event, actor, note, "
            "after_scan) VALUES (?, NULL, ?, ?, ?, ?, (SELECT max(id) FROM scan_runs))",
            [finding_id, stamp, status, actor, reason],
        )


def _refreshed(s: SeenFinding, scan_id: int, stamp: str | None) -> dict[str, Any]:
    f = s.finding
    values: dict[str, Any] = {
        "app_name": f.app_name,
        "severity": f.severity,
        "reasons": dumps(list(f.reasons)),
        "remediation": f.remediation,
        "evidence": dumps(f.evidence),
        "last_scan": scan_id,
        "updated": stamp,
    }
    if s.event == "reopened":
        values.update(status="open", resolved=None, resolved_scan=None)
    elif s.event == "expired":
        values.update(status="open")
    return values


def _insert(store: Store, f: Finding, scan_id: int, stamp: str | None) -> None:
    store.db.execute(
        "INSERT INTO findings (id, app_key, app_name, kind, severity, status, reasons, "
        "remediation, evidence, opened, opened_scan, last_scan, updated) "
        "VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
        [
            f.id,
            f.app_key,
            f.app_name,
            f.kind,
            f.severity,
            dumps(list(f.reasons)),
            f.remediation,
            dumps(f.evidence),
            stamp,
            scan_id,
            scan_id,
            stamp,
        ],
    )


def _update(store: Store, finding_id: str, values: dict[str, Any]) -> None:
    # Column names come from this module only, never from a caller.
    assignments = ", ".join(f"{k} = ?" for k in values)
    store.db.execute(
        f"UPDATE findings SET {assignments} WHERE id = ?",
        [*values.values(), finding_id],
    )


def _event(store: Store, finding_id: str, scan_id: int, stamp: str | None, event: str) -> None:
    store.db.execute(
        "INSERT INTO finding_events (finding_id, scan_id, at, event) VALUES (?, ?, ?, ?)",
        [finding_id, scan_id, stamp, event],
    )
