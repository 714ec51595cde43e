"""Sign-in counts that arrive already aggregated (``SignInDay``): a log engine counted a whole
day per (source, app, person, kind), so the store keeps that statement in ``signin_day_totals``
and moves ``signin_daily`` and ``app_evidence`` by the difference from what it held before.

Re-reading a late day (logs arrive hours late, so connectors re-query trailing days) thus
replaces the day's figures instead of adding to them: the same answer twice changes nothing,
a grown count adds only its growth.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from scanner.core.models import SignInDay
from scanner.store.values import iso


def person_key(email: str | None, user_id: str | None) -> str:
    """The person a sign-in counts for: the lower-case address, else ``id:<user id>``."""
    if email:
        return email.lower()
    if user_id:
        return f"id:{user_id}"
    return "*"


def write_day_totals(conn: sqlite3.Connection, days: Iterable[SignInDay]) -> None:
    """Replace each (source, app, person, day, kind) total and apply its difference."""
    merged: dict[tuple[str, str, str, str, str], list[Any]] = {}
    for d in days:
        key: tuple[str, str, str, str, str] = (
            d.source,
            d.client_id,
            person_key(d.user_email, d.user_id),
            d.day.isoformat(),
            d.kind,
        )
        merged[key] = [d.successes, d.failures, iso(d.first_at), iso(d.last_at), d.app_name]
    for key, (ok, failed, first, last, name) in merged.items():
        before = conn.execute(
            "SELECT successes, failures FROM signin_day_totals WHERE source=? AND client_id=? "
            "AND user_key=? AND day=? AND kind=?",
            key,
        ).fetchone()
        old_ok, old_failed = before if before else (0, 0)
        # A count the engine now states lower (a shard read partially before) is the truth.
        d_ok, d_failed = ok - old_ok, failed - old_failed
        conn.execute(
            "INSERT INTO signin_day_totals (source, client_id, user_key, day, kind, successes, "
            "failures) VALUES (?,?,?,?,?,?,?) ON CONFLICT (source, client_id, user_key, day, "
            "kind) DO UPDATE SET successes=excluded.successes, failures=excluded.failures",
            [*key, ok, failed],
        )
        source, client_id, user_key, day, kind = key
        if kind != "activity":  # app-only use moves the app's evidence, no person's sign-ins
            _add_daily(conn, source, client_id, user_key, day, d_ok, d_failed, last)
        conn.execute(
            "INSERT INTO app_evidence (source, client_id, kind, name, events, failures, "
            "first_at, last_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (source, client_id, kind) "
            "DO UPDATE SET name = coalesce(excluded.name, app_evidence.name), "
            "events = max(app_evidence.events + excluded.events, 0), "
            "failures = max(app_evidence.failures + excluded.failures, 0), "
            "first_at = min(coalesce(app_evidence.first_at, excluded.first_at), "
            "excluded.first_at), "
            "last_at = max(coalesce(app_evidence.last_at, excluded.last_at), excluded.last_at)",
            [source, client_id, kind, name, d_ok + d_failed, d_failed, first, last or first],
        )


def _add_daily(
    conn: sqlite3.Connection,
    source: str,
    client_id: str,
    user_key: str,
    day: str,
    d_ok: int,
    d_failed: int,
    last: str | None,
) -> None:
    conn.execute(
        "INSERT INTO signin_daily (source, client_id, user_key, day, count, failures, last_at) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (source, client_id, user_key, day) DO UPDATE SET "
        "count = max(signin_daily.count + excluded.count, 0), "
        "failures = max(signin_daily.failures + excluded.failures, 0), "
        "last_at = nullif(max(coalesce(signin_daily.last_at, ''), "
        "coalesce(excluded.last_at, '')), '')",
        [source, client_id, user_key, day, d_ok, d_failed, last],
    )
