"""Sign-in de-duplication across retention: pruned keys leave a floor, nothing counts twice.

Keys and floors are the de-duplication of the keyed kinds (file ``usage`` rows, per-app
``activity``); sign-ins of time-ordered logs go by watermark (tests/test_store_marks.py), so
pruning takes nothing they need."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from scanner.core.errors import StoreError
from scanner.core.models import Checkpoint, SignIn, SignInKind, SourceRecord
from scanner.store import migrations
from scanner.store.database import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def events(source: str, *ages_days: int, kind: SignInKind = "usage") -> Iterator[SourceRecord]:
    for age in ages_days:
        at = NOW - timedelta(days=age)
        yield SignIn(source, f"{source}-{age}", "app-1", at, user_id="u1", kind=kind)
    yield Checkpoint(source, "signins", "cursor")


def daily_total(store: Store, source: str) -> int:
    row = store.db.execute(
        "SELECT sum(count) FROM signin_daily WHERE source = ?", [source]
    ).fetchone()
    return int(row[0] or 0)


def test_old_events_read_again_after_a_prune_are_counted_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW, raw_signin_days=30)
    for _ in range(5):
        scan = store.begin_scan()
        store.ingest(scan, "entra", events("entra", 0, 5, 40, 400))
        store.prune_signins(30)
    assert daily_total(store, "entra") == 4
    assert store.signin_floors() == {"entra": "2026-10-21"}
    assert store.db["signins"].count == 2  # 0 and 5 days old: within the retention
    store.close()


def _aggregates(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: sorted(tuple(r) for r in store.db.execute(f"SELECT * FROM {table}"))
        for table in (
            "signin_daily",
            "app_evidence",
            "signin_keys",
            "signin_floors",
            "signin_marks",
        )
    }


@pytest.mark.parametrize("kind", ["usage", "sign_in"])
def test_raw_retention_on_and_off_give_the_same_aggregates(
    tmp_path: Path, kind: SignInKind
) -> None:
    """Raw events are kept only for investigation: no count depends on them, keyed or by
    watermark."""
    found = {}
    for days in (0, 30):
        store = Store.open(tmp_path / f"raw{days}.db", clock=lambda: NOW, raw_signin_days=days)
        for _ in range(3):
            store.ingest(store.begin_scan(), "entra", events("entra", 0, 5, 40, 400, kind=kind))
            store.prune_signins(30)
        found[days] = (_aggregates(store), store.db["signins"].count)
        store.close()
    assert found[0][0] == found[30][0]
    assert sum(r[4] for r in found[0][0]["signin_daily"]) == 4
    assert (found[0][1], found[30][1]) == (0, 2)  # kept: the events of 0 and 5 days ago


def test_an_old_activity_report_read_again_after_a_prune_is_counted_once(tmp_path: Path) -> None:
    """A per-app last-use report has no daily row; its pruned key still leaves a floor."""
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    old = NOW - timedelta(days=60)
    for _ in range(3):
        report = SignIn("entra", f"spsa:app-1:{old:%Y-%m-%d}", "app-1", old, kind="activity")
        store.ingest(store.begin_scan(), "entra", iter([report, Checkpoint("entra", "activity")]))
        store.prune_signins(30)
    assert store.db.execute("SELECT events FROM app_evidence").fetchall() == [(1,)]
    assert store.signin_floors() == {"entra": "2026-10-21"}
    store.close()


def test_a_floor_belongs_to_its_source(tmp_path: Path) -> None:
    """A source that never counted anything that old still counts its first old events."""
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    store.ingest(store.begin_scan(), "entra", events("entra", 1, 90))
    store.prune_signins(30)
    store.ingest(store.begin_scan(), "okta", events("okta", 60))
    assert daily_total(store, "okta") == 1
    store.prune_signins(30)
    store.ingest(store.begin_scan(), "okta", events("okta", 60))
    assert daily_total(store, "okta") == 1
    assert store.signin_floors() == {"entra": "2026-10-21", "okta": "2026-10-21"}
    # The price: an event before the floor is not counted, even one never seen before.
    store.ingest(store.begin_scan(), "entra", events("entra", 45))
    assert daily_total(store, "entra") == 2
    store.close()


def test_the_floor_only_rises(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    store.ingest(store.begin_scan(), "entra", events("entra", 1, 90))
    store.prune_signins(10)
    assert store.signin_floors() == {"entra": "2026-11-10"}
    store.ingest(store.begin_scan(), "okta", events("okta", 95))
    store.prune_signins(60)  # a longer retention later does not lower entra's floor
    assert store.signin_floors() == {"entra": "2026-11-10", "okta": "2026-09-21"}
    store.close()


def test_migration_seeds_floors_of_an_existing_inventory(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    migrations.migrate(db, migrations.STEPS[:4])
    db.execute(
        "INSERT INTO signin_daily (source, client_id, user_key, day, count, last_at) VALUES "
        "('entra', 'a', 'u', '2026-01-01', 1, ''), ('entra', 'a', 'u', '2026-03-01', 1, ''), "
        "('okta', 'a', 'u', '2026-03-02', 1, '')"
    )
    db.execute("INSERT INTO signin_keys (key, day) VALUES (1, '2026-03-01'), (2, '2026-03-02')")
    migrations.migrate(db)
    floors = dict(db.execute("SELECT source, day FROM signin_floors").fetchall())
    assert floors == {"entra": "2026-03-01"}  # okta never counted anything before the keys


def test_migration_seeds_floors_when_every_key_was_pruned(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    migrations.migrate(db, migrations.STEPS[:4])
    db.execute(
        "INSERT INTO signin_daily (source, client_id, user_key, day, count, last_at) VALUES "
        "('entra', 'a', 'u', '2026-01-01', 1, ''), ('entra', 'a', 'u', '2026-03-01', 1, '')"
    )
    migrations.migrate(db)
    assert db.execute("SELECT source, day FROM signin_floors").fetchall() == [
        ("entra", "2026-03-02")
    ]


def test_a_refused_write_is_a_store_error_and_is_not_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    scan = store.begin_scan()
    calls: list[int] = []

    def full(*_args: object) -> None:
        calls.append(1)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "_write_signins", full)
    with pytest.raises(StoreError, match="the disk is full"):
        store.ingest(scan, "entra", [*events("entra", 1), *events("entra", 2)])
    assert calls == [1]
    store.close()
