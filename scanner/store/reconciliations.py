"""The ``reconciliations`` table: each time the stored inventory was reconciled again
(answers and policy re-read, no source read) against a finished scan, and what that changed.

A scan's own reconciliation is its ``finding_events``; these rows say when a later one
happened, so the report and ``shadowit scans`` can tell a finding opened by a reconciliation
from one a provider scan found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from scanner.store.database import Store, iso


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One reconciliation without a provider scan: against which scan, when, what changed."""

    scan_id: int
    at: str
    opened: int = 0
    reopened: int = 0
    expired: int = 0
    resolved: int = 0

    @property
    def changed(self) -> int:
        return self.opened + self.reopened + self.expired + self.resolved


def record(store: Store, scan_id: int, at: datetime, events: Iterable[str]) -> Reconciliation:
    """Keep one reconciliation of ``scan_id`` with the count of each lifecycle event."""
    counts = Counter(events)
    done = Reconciliation(
        scan_id,
        iso(at) or "",
        counts["opened"],
        counts["reopened"],
        counts["expired"],
        counts["resolved"],
    )
    with store.db.atomic():
        store.db.execute(
            "INSERT INTO reconciliations (scan_id, at, opened, reopened, expired, resolved) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [done.scan_id, done.at, done.opened, done.reopened, done.expired, done.resolved],
        )
    return done


def of_scan(store: Store, scan_id: int) -> list[Reconciliation]:
    """The reconciliations against ``scan_id``, oldest first."""
    return [
        Reconciliation(
            r["scan_id"], r["at"], r["opened"], r["reopened"], r["expired"], r["resolved"]
        )
        for r in store.db.query(
            "SELECT * FROM reconciliations WHERE scan_id = ? ORDER BY id", [scan_id]
        )
    ]
