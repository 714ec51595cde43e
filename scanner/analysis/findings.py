"""Finding lifecycle in the inventory: a finding keeps its identity (app + kind) across scans.

    open ──acknowledge──> acknowledged
      │  └──accept (who, why, until)──> accepted ──until passes──> open ("expired")
      └── condition gone in a scan ──> resolved ──condition returns──> open ("reopened")

Open means open or acknowledged (someone is on it; the risk is not taken), or accepted with an
end date that has come, whether or not a scan has seen it since (``scanner.store.findings.
is_open``, the one definition the report, the scan summary, ``--fail-on`` and notifications
use). An acceptance in force, until its end date or with none, is not open.

A finding whose condition this scan could not evaluate is never resolved by it: missing data
is not good news. That is every finding of an app whose source failed, and, where a source was
partial, the findings whose kind needs a stream it could not read (a dormant finding when
sign-ins were not collected, see ``completeness``). Such a finding stays as it was. The rows
live in ``scanner.store.findings``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from scanner.core.errors import ShadowitError
from scanner.core.models import SEVERITIES, Finding
from scanner.store import findings as stored
from scanner.store.database import Store, loads
from scanner.store.findings import FindingRow, SeenEvent, SeenFinding

ACTIVE = ("open", "acknowledged", "accepted")
"""Stored statuses a scan may resolve (everything but ``resolved``)."""


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
    unchecked: Callable[[str, str], bool] | None = None,
) -> list[LifecycleChange]:
    """Merge this scan's findings into the lifecycle; return what changed.

    ``protected_apps``: apps none of whose findings this scan may resolve; ``unchecked(app_key,
    kind)``: whether this scan could not evaluate that finding's condition (it is kept)."""
    protected = set(protected_apps)
    kept = unchecked or (lambda _key, _kind: False)
    existing = {r["id"]: r for r in stored.finding_rows(store)}
    changes: list[LifecycleChange] = []
    seen: list[SeenFinding] = []
    for f in findings:
        event = _seen_event(existing.get(f.id), now)
        seen.append(SeenFinding(f, event))
        if event:
            changes.append(LifecycleChange(f.id, event))
    current_ids = {f.id for f in findings}
    resolved = [
        fid
        for fid, row in existing.items()
        if fid not in current_ids
        and row["status"] in ACTIVE
        and row["app_key"] not in protected
        and not kept(row["app_key"], row["kind"])
    ]
    stored.record_scan_findings(store, scan_id, now, seen, resolved)
    changes.extend(LifecycleChange(fid, "resolved") for fid in resolved)
    return changes


def _seen_event(row: FindingRow | None, now: datetime) -> SeenEvent | None:
    """What reporting a finding again does to its stored row (None: it is only refreshed)."""
    if row is None:
        return "opened"
    if row["status"] == "resolved":
        return "reopened"
    if row["status"] == "accepted" and stored.acceptance_ended(row["decided_until"], now.date()):
        return "expired"
    return None


def decide(
    store: Store,
    finding_id: str,
    status: str,
    actor: str,
    reason: str,
    until: date | None,
    now: datetime,
) -> FindingRow:
    """Acknowledge or accept a finding (who, why, until when)."""
    if status not in ("acknowledged", "accepted", "open"):
        raise ShadowitError(f"cannot set a finding to {status!r}")
    row = stored.finding_row(store, finding_id)
    if row is None:
        raise ShadowitError(
            f"no finding {finding_id!r}; list them with `shadowit findings` (IDs look like "
            "cat:hubspot:unsanctioned)"
        )
    if row["status"] == "resolved":
        verb = {"accepted": "accept", "acknowledged": "acknowledge"}.get(status, "reopen")
        raise ShadowitError(
            f"finding {finding_id} is already resolved (scan {row['resolved_scan']}); "
            f"nothing to {verb}"
        )
    if status == "accepted" and until is not None and until <= now.date():
        raise ShadowitError(
            f"--until {until.isoformat()} is not in the future; the acceptance ends at the "
            "start of that day: give a later date, or --no-expiry"
        )
    stored.record_decision(store, finding_id, status, actor, reason, until, now)
    decided = stored.finding_row(store, finding_id)
    assert decided is not None
    return decided


def listing(
    store: Store, status: str | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Findings with decoded reasons, most severe first, as they stand on ``today``.

    ``status`` is the finding's state that day (an acceptance whose end date has come reads
    ``open``); ``open`` says whether it counts as open; ``decision`` is who decided what, why
    and until when, in words (None when nobody decided)."""
    day = today or datetime.now(UTC).date()
    rows: list[dict[str, Any]] = []
    for r in stored.finding_rows(store):
        current = state(r, day)
        if status and current != status:
            continue
        rows.append(
            {
                **r,
                "status": current,
                "open": stored.is_open(r["status"], r["decided_until"], day),
                "decision": decision_text(r, day),
                "reasons": loads(r["reasons"], []),
                "evidence": loads(r["evidence"], {}),
            }
        )
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows.sort(key=lambda r: (order.get(r["severity"], 9), r["app_name"].casefold(), r["kind"]))
    return rows


def state(row: Mapping[str, Any], today: date) -> str:
    """A finding's state on ``today``: as stored, but ``open`` once an acceptance has ended."""
    if row["status"] == "accepted" and stored.acceptance_ended(row["decided_until"], today):
        return "open"
    return str(row["status"])


def decision_text(row: Mapping[str, Any], today: date) -> str | None:
    """``accepted by sam until 2026-12-31: design trial``, ``acknowledged by sam: asked the
    owner``, ``acceptance by sam ended 2026-11-06: trial``; None when nobody decided."""
    who = row["decided_by"]
    if not who or row["status"] not in ("acknowledged", "accepted", "open"):
        return None
    why = f": {row['decision_reason']}" if row["decision_reason"] else ""
    until = row["decided_until"]
    if row["status"] == "acknowledged":
        return f"acknowledged by {who}{why}"
    if row["status"] == "accepted":
        if stored.acceptance_ended(until, today):
            return f"acceptance by {who} ended {until}{why}"
        return f"accepted by {who} {f'until {until}' if until else 'with no end date'}{why}"
    if stored.acceptance_ended(until, today):  # a scan reopened it when the acceptance ended
        return f"acceptance by {who} ended {until}{why}"
    return None
