"""What finished scans kept: each app as one scan saw it (``app_snapshots``), and the finished
scans themselves (``scan_runs``), as the confirmation plan, the diff and the history chart
read them.

A snapshot row is written once per app and scan when the scan's analysis ends; its ``data``
column holds the whole document (app, users, scopes, first and top user), the other columns
the parts that are compared or counted without decoding it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scanner.store.database import Store, loads


@dataclass(frozen=True, slots=True)
class AppDocument:
    """One app's snapshot as the scan stored it: its decoded document and sanction status."""

    data: dict[str, Any]
    """The JSON document: ``app`` (key, name, vendor, ...), ``users``, ``scopes``,
    ``raw_names``, ``is_marketing``, ``first_user``, ``top_user``."""
    sanction_status: str


@dataclass(frozen=True, slots=True)
class AppReach:
    """Who used one app and what it was granted in one scan: what the diff compares."""

    app_key: str
    name: str
    users: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppStanding:
    """How one app stood in one finished scan: what the history chart counts."""

    scan_id: int
    started: str
    """When that scan started (ISO 8601, UTC)."""
    is_marketing: int
    """1 for a marketing app, else 0."""
    sanction_status: str


def app_documents(store: Store, scan_id: int) -> list[AppDocument]:
    """Every app's snapshot document in ``scan_id``, by app name."""
    return [
        AppDocument(loads(r["data"]), r["sanction_status"])
        for r in store.db.query(
            "SELECT data, sanction_status FROM app_snapshots WHERE scan_id = ? ORDER BY name",
            [scan_id],
        )
    ]


def app_document(store: Store, scan_id: int, app_key: str) -> AppDocument | None:
    """One app's snapshot document in ``scan_id``; None when that scan did not see it."""
    rows = list(
        store.db.query(
            "SELECT data, sanction_status FROM app_snapshots WHERE scan_id = ? AND app_key = ?",
            [scan_id, app_key],
        )
    )
    return AppDocument(loads(rows[0]["data"]), rows[0]["sanction_status"]) if rows else None


def app_reach(store: Store, scan_id: int) -> list[AppReach]:
    """Users and granted scopes of every app in ``scan_id`` (an empty column reads as none)."""
    return [
        AppReach(
            r["app_key"],
            r["name"],
            tuple(json.loads(r["users"])) if r["users"] else (),
            tuple(json.loads(r["scopes"])) if r["scopes"] else (),
        )
        for r in store.db.query(
            "SELECT app_key, name, users, scopes FROM app_snapshots WHERE scan_id = ?", [scan_id]
        )
    ]


def finished_app_standings(store: Store) -> list[AppStanding]:
    """One row per app and finished scan: marketing or not, and its sanction status."""
    return [
        AppStanding(r["scan_id"], r["started"], r["is_marketing"], r["sanction_status"])
        for r in store.db.query(
            "SELECT s.scan_id, r.started, s.is_marketing, s.sanction_status "
            "FROM app_snapshots s JOIN scan_runs r ON r.id = s.scan_id "
            "WHERE r.status = 'finished'"
        )
    ]


def last_finished_scan_before(store: Store, day: str) -> int | None:
    """The newest finished scan that started before ``day`` (YYYY-MM-DD), if any."""
    row = store.db.execute(
        "SELECT max(id) FROM scan_runs WHERE status='finished' AND substr(started,1,10) < ?",
        [day],
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None
