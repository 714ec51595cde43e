"""Policy changes recorded with ``shadowit sanction``, field by field.

``sanction_overrides`` holds, per app and field, the value ``shadowit sanction`` set that is in
force (JSON text: a string, a list of scope names, or null for a field it cleared), who set it
and when. ``sanction_changes`` keeps every change and revert (old -> new, who, when), so the
history survives a revert. ``scanner.analysis.sanctions`` lays the overrides over the
sanctioned list's entries; the store keeps what was recorded as it was, and validating it is
the analysis layer's job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scanner.store.database import Store, dumps, iso, loads


@dataclass(frozen=True, slots=True)
class RecordedOverride:
    """One field of one app as ``shadowit sanction`` set it."""

    app: str
    """The app's name as recorded (its catalog name when it has one)."""
    field: str
    value: Any
    """Decoded JSON: a string, a list of scope names, or None for a cleared field."""
    changed_by: str
    changed_at: str | None
    """ISO timestamp."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A field changed from ``old`` to ``new`` (JSON-ready values; None: no value)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class RecordedChange:
    """One line of the history: a field set (``set``) or its override dropped (``revert``)."""

    app: str
    field: str
    event: str
    old: Any
    new: Any
    actor: str
    at: str | None


def recorded_overrides(store: Store) -> Iterator[RecordedOverride]:
    """Every override in force, by app and field."""
    for r in store.db.query("SELECT * FROM sanction_overrides ORDER BY app, field"):
        yield RecordedOverride(
            r["app"], r["field"], loads(r["value"]), r["changed_by"], r["changed_at"]
        )


def record_changes(
    store: Store, app: str, changes: Sequence[FieldChange], actor: str, now: datetime
) -> None:
    """Set each changed field's override for ``app`` and log the change, in one transaction."""
    stamp = iso(now)
    with store.db.atomic():
        for change in changes:
            store.db.execute(
                "INSERT OR REPLACE INTO sanction_overrides (app, field, value, changed_by, "
                "changed_at) VALUES (?, ?, ?, ?, ?)",
                [app, change.field, dumps(change.new), actor, stamp],
            )
            _log(store, app, change, "set", actor, stamp)


def drop_overrides(
    store: Store, app: str, reverted: Sequence[FieldChange], actor: str, now: datetime
) -> None:
    """Drop every override of ``app`` and log each field's way back (override -> file)."""
    stamp = iso(now)
    with store.db.atomic():
        store.db.execute("DELETE FROM sanction_overrides WHERE app = ?", [app])
        for change in reverted:
            _log(store, app, change, "revert", actor, stamp)


def change_history(store: Store, app: str | None = None) -> list[RecordedChange]:
    """Every recorded change (of ``app``, or all), oldest first."""
    sql = "SELECT * FROM sanction_changes"
    params: list[Any] = []
    if app is not None:
        sql += " WHERE app = ?"
        params.append(app)
    return [
        RecordedChange(
            r["app"], r["field"], r["event"], loads(r["old"]), loads(r["new"]), r["actor"], r["at"]
        )
        for r in store.db.query(sql + " ORDER BY id", params)
    ]


def _log(
    store: Store, app: str, change: FieldChange, event: str, actor: str, stamp: str | None
) -> None:
    store.db.execute(
        "INSERT INTO sanction_changes (app, field, event, old, new, actor, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [app, change.field, event, dumps(change.old), dumps(change.new), actor, stamp],
    )
