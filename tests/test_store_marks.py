"""Sign-ins de-duplicated by their stream's watermark (scanner/store/marks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from scanner.core.models import Checkpoint, SignIn, SourceRecord
from scanner.store import migrations
from scanner.store.database import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def signin(n: int, seconds_ago: int, *, interactive: bool = True) -> SignIn:
    return SignIn(
        "entra",
        f"ev-{n}",
        "app-1",
        NOW - timedelta(seconds=seconds_ago),
        user_id=f"u{n % 3}",
        interactive=interactive,
    )


def listing(
    events: list[SignIn], page: int = 2, *, cursor: str | None = "done", stream: str = "signins"
) -> Iterator[SourceRecord]:
    """``events`` in pages of ``page``, a Checkpoint after each, the cursor at the end."""
    for start in range(0, len(events), page):
        yield from events[start : start + page]
        yield Checkpoint("entra", stream)
    if cursor is not None:
        yield Checkpoint("entra", stream, cursor=cursor)


def total(store: Store) -> int:
    return int(store.db.execute("SELECT coalesce(sum(count), 0) FROM signin_daily").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    yield opened
    opened.close()


def test_a_reread_overlap_counts_only_the_new_events(store: Store) -> None:
    # Newest first, as Graph lists them; two events share the boundary second.
    first = [signin(1, 50), signin(2, 60), signin(3, 60), signin(4, 100)]
    store.ingest(store.begin_scan(), "entra", listing(first))
    assert total(store) == 4
    # The next scan reads `ge` the cursor second again: ev-2 and ev-3 and a new one at it.
    second = [signin(5, 10), signin(1, 50), signin(6, 50)]
    store.ingest(store.begin_scan(), "entra", listing(second))
    assert total(store) == 6
    marks = store.db.execute("SELECT listing, lo, hi, hi_ids FROM signin_marks").fetchall()
    assert marks == [(0, "2026-11-20T11:58:20", "2026-11-20T11:59:50", '["ev-5"]')]


def test_a_listing_killed_mid_way_is_resumed_without_counting_twice(store: Store) -> None:
    events = [signin(n, 10 * n) for n in range(1, 9)]  # newest first

    def killed() -> Iterator[SourceRecord]:
        for record in listing(events, page=2, cursor=None):
            yield record
            if isinstance(record, SignIn) and record.event_id == "ev-5":
                raise KeyboardInterrupt  # mid-page: ev-5 has no Checkpoint yet

    with pytest.raises(KeyboardInterrupt):
        store.ingest(store.begin_scan(), "entra", killed())
    assert total(store) == 4  # two whole pages; the unfinished page is not written
    # The resumed scan reads the whole listing again, with a newer event first.
    store.ingest(store.begin_scan(), "entra", listing([signin(0, 1), *events], page=3))
    assert total(store) == 9
    # Folded into one watermark once the cursor was committed.
    assert store.db.execute("SELECT listing, lo, hi FROM signin_marks").fetchall() == [
        (0, "2026-11-20T11:58:40", "2026-11-20T11:59:59")
    ]


def test_a_repeated_page_inside_a_listing_counts_once(store: Store) -> None:
    events = [signin(1, 10), signin(2, 20), signin(3, 30), signin(4, 40)]
    pages = [*events[:2], Checkpoint("entra", "signins"), *events[:2]]
    store.ingest(store.begin_scan(), "entra", iter([*pages, *listing(events[2:])]))
    assert total(store) == 4


def test_interactive_and_non_interactive_listings_are_apart(store: Store) -> None:
    """Graph lists them in two listings of one stream, each from the cursor to now."""
    interactive = [signin(1, 10), signin(2, 30)]
    background = [signin(3, 20, interactive=False), signin(4, 40, interactive=False)]
    records = [*interactive, Checkpoint("entra", "signins"), *background]
    store.ingest(store.begin_scan(), "entra", iter([*records, *listing([], cursor="c")]))
    assert total(store) == 4


def test_older_events_below_the_watermark_are_counted(store: Store) -> None:
    """A longer look-back reads events older than anything counted: they are new."""
    store.ingest(store.begin_scan(), "entra", listing([signin(1, 10), signin(2, 20)]))
    store.ingest(store.begin_scan(), "entra", listing([signin(1, 10), signin(3, 900)]))
    assert total(store) == 3


def test_the_migration_seeds_a_watermark_from_the_counts(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    migrations.migrate(db, migrations.STEPS[: migrations.STEPS.index(migrations._signin_marks)])
    db.execute(
        "INSERT INTO app_evidence (source, client_id, kind, name, events, failures, first_at, "
        "last_at) VALUES ('entra', 'app-1', 'sign_in', NULL, 3, 0, '2026-11-20T11:58:00Z', "
        "'2026-11-20T11:59:50Z'), ('files', 'x', 'usage', NULL, 1, 0, '2026-11-01T00:00:00Z', "
        "'2026-11-01T00:00:00Z')"
    )
    # The older store counted its events by key: ev-8 is one of them.
    db.execute(
        "INSERT INTO signin_keys (key, day) VALUES (?, '2026-11-20')",
        [migrations.signin_key("entra", "ev-8")],
    )
    migrations.migrate(db)
    db.close()
    store = Store.open(tmp_path / "old.db", clock=lambda: NOW)
    # Read again from the cursor second: counted before the upgrade, not counted again.
    store.ingest(store.begin_scan(), "entra", listing([signin(7, 5), signin(8, 10)]))
    assert total(store) == 1
    # ev-9 lies inside the seeded range, but the older store's listing never reached it (a
    # Graph listing, newest first, stopped before its cursor moved): it has no key, so it counts.
    store.ingest(store.begin_scan(), "entra", listing([signin(7, 5), signin(9, 90)]))
    assert total(store) == 2
    store.ingest(store.begin_scan(), "entra", listing([signin(7, 5), signin(9, 90)]))
    assert total(store) == 2, "and only once"
    store.close()


def late_listing(events: list[SignIn], late: int) -> Iterator[SourceRecord]:
    """A Google-like audit stream: pages whose events can reach the log ``late`` minutes late."""
    for event in events:
        yield event
        yield Checkpoint("entra", "login", late_minutes=late)
    yield Checkpoint("entra", "login", cursor="done")


def test_an_event_that_reached_the_log_late_is_counted_when_its_stream_says_so(
    store: Store,
) -> None:
    """Google's audit log can show an event minutes after its time; the connector re-reads its
    overlap, and the store counts that stream by event id so the late one is not lost."""
    first = [signin(1, 30), signin(2, 300)]
    store.ingest(store.begin_scan(), "entra", late_listing(first, late=60))
    assert total(store) == 2
    # ev-3 happened between the two, but only reached the log after the first read.
    again = [signin(1, 30), signin(3, 120), signin(2, 300)]
    store.ingest(store.begin_scan(), "entra", late_listing(again, late=60))
    assert total(store) == 3, "the late event is counted once, the others not again"
    store.ingest(store.begin_scan(), "entra", late_listing(again, late=60))
    assert total(store) == 3


def test_without_a_lateness_a_counted_range_is_complete(store: Store) -> None:
    """Graph and Okta list each second once it is past: an event inside a counted range was
    counted (the watermark's premise), so the same late-looking re-read adds nothing."""
    store.ingest(store.begin_scan(), "entra", late_listing([signin(1, 30), signin(2, 300)], 0))
    again = [signin(1, 30), signin(3, 120), signin(2, 300)]
    store.ingest(store.begin_scan(), "entra", late_listing(again, late=0))
    assert total(store) == 2
