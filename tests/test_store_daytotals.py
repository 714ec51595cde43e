"""Sign-in days a log engine counted (``SignInDay``): the store replaces a re-read day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from scanner.analysis.completeness import SIGN_IN_STREAMS
from scanner.core.models import Checkpoint, SignInDay, SourceRecord, SourceWarning
from scanner.core.names import checked_addresses
from scanner.store.database import Store

DAY = date(2026, 11, 24)


def day(successes: int, failures: int = 0, hour: int = 9, **kw: object) -> SignInDay:
    values: dict[str, object] = {
        "source": "entra",
        "client_id": "app-1",
        "day": DAY,
        "successes": successes,
        "failures": failures,
        "user_email": "Alice@Example.com",
        "app_name": "App One",
        "first_at": datetime(2026, 11, 24, 8, tzinfo=UTC),
        "last_at": datetime(2026, 11, 24, hour, tzinfo=UTC) if successes else None,
        **kw,
    }
    return SignInDay(**values)  # type: ignore[arg-type]


def ingest(store: Store, records: list[SourceRecord]) -> None:
    run = store.begin_scan()
    store.begin_source(run, "entra")
    stats = store.ingest(run, "entra", [*records, Checkpoint("entra", "signins_la", "x")])
    store.end_source(run, "entra", "ok", stats)
    store.finish_scan(run)


def figures(store: Store) -> tuple[object, object]:
    daily = store.db.execute(
        "SELECT user_key, day, count, failures, last_at FROM signin_daily"
    ).fetchall()
    evidence = store.db.execute(
        "SELECT kind, name, events, failures, first_at, last_at FROM app_evidence"
    ).fetchall()
    return daily, evidence


def test_a_reread_day_replaces_its_counts(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    try:
        ingest(store, [day(3, 1)])
        first = figures(store)
        assert first[0] == [("alice@example.com", "2026-11-24", 3, 1, "2026-11-24T09:00:00Z")]
        assert first[1][0][2:4] == (4, 1)
        ingest(store, [day(3, 1)])  # the same answer again: nothing moves
        assert figures(store) == first
        ingest(store, [day(5, 1, hour=11)])  # late events arrived: only the growth is added
        daily, evidence = figures(store)
        assert daily == [("alice@example.com", "2026-11-24", 5, 1, "2026-11-24T11:00:00Z")]
        assert evidence[0][2:4] == (6, 1)
    finally:
        store.close()


def test_days_of_other_people_apps_and_kinds_are_apart(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    try:
        ingest(
            store,
            [day(1), day(2, user_email=None, user_id="u-2"), day(4, client_id="app-2")],
        )
        daily, _ = figures(store)
        assert sorted((r[0], r[2]) for r in daily) == [
            ("alice@example.com", 1),
            ("alice@example.com", 4),
            ("id:u-2", 2),
        ]
    finally:
        store.close()


def test_a_malformed_address_is_dropped_with_one_warning() -> None:
    records = list(checked_addresses([day(1, user_email="not an address", user_id="u-9")]))
    assert isinstance(records[0], SourceWarning) and records[0].stream == "signins"
    assert isinstance(records[1], SignInDay) and records[1].user_email is None


def test_the_export_stream_counts_as_sign_ins_for_the_ledger() -> None:
    assert "bigquery_events" in SIGN_IN_STREAMS
