"""Policy entries recorded with ``shadowit sanction``: the ``sanctions`` table, one row per app.

They override the config's entries for the same app (scanner.analysis.sanctions merges them).
The store keeps what was recorded as it was; validating it is the analysis layer's job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from scanner.core.models import SanctionEntry
from scanner.store.database import Store, dumps, iso


@dataclass(frozen=True, slots=True)
class RecordedSanction:
    """One stored row, as recorded (text fields may be None or empty)."""

    app: str
    status: str
    owner: str | None
    team: str | None
    purpose: str | None
    approved_scopes: str | None
    """A JSON list of scope names, as stored; validated where it is parsed."""
    data_classification: str | None
    approved_on: str | None
    """YYYY-MM-DD, as stored."""
    review_by: str | None
    """YYYY-MM-DD, as stored."""
    notes: str | None
    updated: str | None
    """When it was recorded (ISO timestamp)."""


def recorded_sanctions(store: Store) -> Iterator[RecordedSanction]:
    """Every recorded entry, by app name."""
    for r in store.db.query("SELECT * FROM sanctions ORDER BY app"):
        yield RecordedSanction(
            app=r["app"],
            status=r["status"],
            owner=r["owner"],
            team=r["team"],
            purpose=r["purpose"],
            approved_scopes=r["approved_scopes"],
            data_classification=r["data_classification"],
            approved_on=r["approved_on"],
            review_by=r["review_by"],
            notes=r["notes"],
            updated=r["updated"],
        )


def record_sanction(
    store: Store, entry: SanctionEntry, approved_on: date, updated: datetime
) -> None:
    """Record ``entry`` for its app, replacing what was recorded for it before."""
    with store.db.atomic():
        store.db.execute(
            "INSERT OR REPLACE INTO sanctions (app, status, owner, team, purpose, "
            "approved_scopes, data_classification, approved_on, review_by, notes, updated) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                entry.app,
                entry.status,
                entry.owner,
                entry.team,
                entry.purpose,
                dumps(list(entry.approved_scopes)),
                entry.data_classification,
                approved_on.isoformat(),
                entry.review_by.isoformat() if entry.review_by else None,
                entry.notes,
                iso(updated),
            ],
        )
