"""The store: migrations, transactions, idempotent ingest, gone-marking and resumption."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from scanner.core.models import (
    Checkpoint,
    Grant,
    RawApp,
    Removed,
    SignIn,
    Skipped,
    SourceWarning,
    User,
)
from scanner.store import migrations
from scanner.store.database import Store

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def records(n_signins: int = 3) -> Iterator[object]:
    yield User("entra", "u1", "Ana@Example.com", "Ana", "Marketing")
    yield RawApp("entra", "app-1", "HubSpot")
    yield Grant("entra", "app-1", "u1", ("Mail.Read", "openid"))
    yield Checkpoint("entra", "grants", None, complete=True)
    for i in range(n_signins):
        yield SignIn("entra", f"e{i}", "app-1", T0, user_email="ana@example.com")
    yield Checkpoint("entra", "signins", "2026-11-01T08:00:00Z")


def test_migrations_are_versioned(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    assert migrations.current_version(store.db) == len(migrations.STEPS)
    store.close()
    # Re-opening applies nothing new and keeps the data.
    again = Store.open(tmp_path / "inv.db")
    assert migrations.current_version(again.db) == len(migrations.STEPS)


def test_failed_migration_step_rolls_back(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "m.db")

    def good(d: sqlite_utils.Database) -> None:
        d["a"].create({"x": int})

    def bad(d: sqlite_utils.Database) -> None:
        d["b"].create({"x": int})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        migrations.migrate(db, [good, bad])
    assert migrations.current_version(db) == 1
    assert "b" not in db.table_names()


def test_store_file_is_private(tmp_path: Path) -> None:
    Store.open(tmp_path / "inv.db").close()
    assert os.stat(tmp_path / "inv.db").st_mode & 0o777 == 0o600


def test_ingest_twice_counts_nothing_twice(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: T0, raw_signin_days=30)
    for _ in range(2):
        scan = store.begin_scan()
        store.ingest(scan, "entra", records())
    assert store.db["raw_apps"].count == 1
    assert store.db["grants"].count == 1
    assert store.db["signins"].count == 3
    assert [r["count"] for r in store.db.query("SELECT count FROM signin_daily")] == [3]
    assert store.cursors("entra") == {"signins": "2026-11-01T08:00:00Z"}


def test_repeated_events_in_one_page_are_counted_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    scan = store.begin_scan()
    same = SignIn("entra", "dup", "app-1", T0, user_email="a@example.com")
    store.ingest(scan, "entra", [same, same, Checkpoint("entra", "signins")])
    assert [r["count"] for r in store.db.query("SELECT count FROM signin_daily")] == [1]


def test_crash_mid_stream_keeps_committed_pages_and_old_cursor(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    scan = store.begin_scan()

    def broken() -> Iterator[object]:
        yield RawApp("entra", "app-1", "HubSpot")
        yield Checkpoint("entra", "apps")
        yield SignIn("entra", "e1", "app-1", T0)
        raise ConnectionError("network gone")

    with pytest.raises(ConnectionError):
        store.ingest(scan, "entra", broken())
    assert store.db["raw_apps"].count == 1
    assert store.cursors("entra") == {}
    assert store.scan(scan)["status"] == "running"
    assert store.latest_scan() is None


def test_complete_listing_marks_unseen_gone_but_failed_source_does_not(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    first = store.begin_scan()
    stats = store.ingest(first, "entra", records())
    store.end_source(first, "entra", "ok", stats)
    store.finish_scan(first)

    second = store.begin_scan()
    store.begin_source(second, "entra")
    stats = store.ingest(second, "entra", [Checkpoint("entra", "grants", complete=True)])
    store.end_source(second, "entra", "failed", stats, "boom")
    assert store.db.execute("SELECT gone_scan FROM grants").fetchone()[0] is None

    third = store.begin_scan()
    stats = store.ingest(third, "entra", [Checkpoint("entra", "grants", complete=True)])
    store.end_source(third, "entra", "ok", stats)
    assert store.db.execute("SELECT gone_scan FROM grants").fetchone()[0] == third


def test_removed_and_skipped_and_warnings(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    scan = store.begin_scan()
    stats = store.ingest(
        scan,
        "google",
        [
            Grant("google", "c1", "u1", ("drive",)),
            Checkpoint("google", "grants"),
            Removed("google", "grant", client_id="c1", user_id="u1"),
            Skipped("google", "signins", "quota exhausted", None),
            SourceWarning("google", "tokens", "user u9 was deleted mid-scan"),
            Checkpoint("google", "token_events", "t1"),
        ],
    )
    assert stats.status() == "partial"
    assert stats.warning_count == 1
    assert store.db.execute("SELECT gone_scan FROM grants").fetchone()[0] == scan


def test_abandoned_scan_is_marked_interrupted(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    scan = store.begin_scan()
    assert store.abandon_stale_scans() == 1
    assert store.scan(scan)["status"] == "interrupted"


def test_corrupt_database_gets_a_clear_error(tmp_path: Path) -> None:
    from scanner.core.errors import StoreError

    bad = tmp_path / "inv.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the inventory database"):
        Store.open(bad)


def test_removals_and_upserts_apply_in_the_order_they_came(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db")
    scan = store.begin_scan()
    store.ingest(
        scan,
        "entra",
        [
            Grant("entra", "x", "u1", ("a",)),
            Grant("entra", "x", "u2", ("a",)),
            Checkpoint("entra", "grants", "c1"),
            # A re-read of app x: everything of x goes, then x's current grants come back.
            Removed("entra", "grant", client_id="x"),
            Grant("entra", "x", "u1", ("a", "b")),
            # Granted, then revoked in the same page.
            Grant("google", "y", "u3", ("drive",)),
            Removed("google", "grant", client_id="y", user_id="u3"),
            Checkpoint("entra", "grants", "c2"),
        ],
    )
    live = {
        (r["client_id"], r["user_key"])
        for r in store.db.query("SELECT * FROM grants WHERE gone_scan IS NULL")
    }
    assert live == {("x", "u1")}
