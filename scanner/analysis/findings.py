"""Finding lifecycle in the inventory: a finding keeps its identity (app + kind) across scans.

    open ──acknowledge──> acknowledged
      │  └──accept (who, why, until)──> accepted ──until passes──> open ("expired")
      └── condition gone in a scan ──> resolved ──condition returns──> open ("reopened")

A finding of an app whose source failed or was partial in this scan is never resolved by it:
missing data is not good news.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from scanner.core.errors import ShadowitError
from scanner.core.models import SEVERITIES, Finding
from scanner.store.database import Store, dumps, iso, loads

ACTIVE = ("open", "acknowledged", "accepted")


@dataclass(frozen=True)
class LifecycleChange:
    finding_id: str
    event: str
    """opened, reopened, resolved, expired, updated."""


def apply(
    store: Store,
    scan_id: int,
    findings: Sequence[Finding],
    now: datetime,
    protected_apps: Iterable[str] = (),
) -> list[LifecycleChange]:
    """Merge this scan's findings into the lifecycle; return what changed."""
    protected = set(protected_apps)
    stamp = iso(now)
    existing = {r["id"]: r for r in store.db.query("SELECT * FROM findings")}
    changes: list[LifecycleChange] = []
    current_ids = set()
    with store.db.atomic():
        for f in findings:
            current_ids.add(f.id)
            row = existing.get(f.id)
            values = {
                "app_name": f.app_name,
                "severity": f.severity,
                "reasons": dumps(list(f.reasons)),
                "remediation": f.remediation,
                "evidence": dumps(f.evidence),
                "last_scan": scan_id,
                "updated": stamp,
            }
            if row is None:
                _insert(store, f, values, scan_id, stamp)
                changes.append(_event(store, f.id, scan_id, stamp, "opened"))
                continue
            status = row["status"]
            event = None
            if status == "resolved":
                values.update(status="open", resolved=None, resolved_scan=None)
                event = "reopened"
            elif status == "accepted" and _expired(row["decided_until"], now):
                values.update(status="open")
                event = "expired"
            _update(store, f.id, values)
            if event:
                changes.append(_event(store, f.id, scan_id, stamp, event))
        for fid, row in existing.items():
            if fid in current_ids or row["status"] not in ACTIVE:
                continue
            if row["app_key"] in protected:
                continue
            _update(
                store,
                fid,
                {
                    "status": "resolved",
                    "resolved": stamp,
                    "resolved_scan": scan_id,
                    "updated": stamp,
                },
            )
            changes.append(_event(store, fid, scan_id, stamp, "resolved"))
    return changes


def decide(
    store: Store,
    finding_id: str,
    status: str,
    actor: str,
    reason: str,
    until: date | None,
    now: datetime,
) -> dict[str, Any]:
    """Acknowledge or accept a finding (who, why, until when)."""
    if status not in ("acknowledged", "accepted", "open"):
        raise ShadowitError(f"cannot set a finding to {status!r}")
    rows = list(store.db.query("SELECT * FROM findings WHERE id = ?", [finding_id]))
    if not rows:
        raise ShadowitError(
            f"no finding {finding_id!r}; list them with `shadowit findings` (IDs look like "
            "cat:hubspot:unsanctioned)"
        )
    if rows[0]["status"] == "resolved":
        raise ShadowitError(f"finding {finding_id} is already resolved; nothing to accept")
    if status == "accepted" and until is not None and until <= now.date():
        raise ShadowitError(f"--until {until.isoformat()} is not in the future")
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
            "INSERT INTO finding_events (finding_id, scan_id, at, event, actor, note) "
            "VALUES (?, NULL, ?, ?, ?, ?)",
            [finding_id, stamp, status, actor, reason],
        )
    return next(iter(store.db.query("SELECT * FROM findings WHERE id = ?", [finding_id])))


def listing(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    """Findings with decoded reasons, most severe first."""
    sql = "SELECT * FROM findings"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    rows = []
    for r in store.db.query(sql, params):
        r["reasons"] = loads(r["reasons"], [])
        r["evidence"] = loads(r["evidence"], {})
        rows.append(r)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows.sort(key=lambda r: (order.get(r["severity"], 9), r["app_name"].casefold(), r["kind"]))
    return rows


def _expired(until: str | None, now: datetime) -> bool:
    return bool(until) and date.fromisoformat(str(until)) <= now.date()


def _insert(
    store: Store, f: Finding, values: dict[str, Any], scan_id: int, stamp: str | None
) -> None:
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
            values["reasons"],
            f.remediation,
            values["evidence"],
            stamp,
            scan_id,
            scan_id,
            stamp,
        ],
    )


def _update(store: Store, finding_id: str, values: dict[str, Any]) -> None:
    assignments = ", ".join(f"{k} = ?" for k in values)
    store.db.execute(
        f"UPDATE findings SET {assignments} WHERE id = ?",
        [*values.values(), finding_id],
    )


def _event(store: Store, fid: str, scan_id: int, stamp: str | None, event: str) -> LifecycleChange:
    store.db.execute(
        "INSERT INTO finding_events (finding_id, scan_id, at, event) VALUES (?, ?, ?, ?)",
        [fid, scan_id, stamp, event],
    )
    return LifecycleChange(fid, event)
