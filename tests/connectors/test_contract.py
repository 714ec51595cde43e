"""The connector contract, run for every name in the registry against its loopback fake.

Every connector: yields only frozen, typed ``SourceRecord``s; checkpoints each page; turns a 403
on a permission-gated stream into ``Skipped`` naming the permission; honours a 429's
Retry-After through the injected sleep; retries a 5xx a bounded number of times, then raises
``RetryableError`` (Google: ends that stream Skipped with it); fails a payload item that lacks a
required field with ``ResponseShapeError`` naming the field (file imports: drop the row with a
warning naming file:line and the field); and never touches the store while it collects.

How each connector is built and faulted lives in ``tests/connectors/drivers.py``; this file
knows no connector. A connector in the registry without a driver fails every case here.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

import connectors
from scanner.core.errors import ResponseShapeError, RetryableError
from scanner.core.models import (
    Checkpoint,
    Grant,
    SignIn,
    Skipped,
    SourceRecord,
    SourceWarning,
    User,
)
from scanner.store.database import Store
from tests.connectors import fourth
from tests.connectors.drivers import ATTEMPTS, DRIVERS, Driver, Env, Loopback, NotApplicable, drive
from tests.connectors.shapes import problems

# The test double joins the registry here only, so the suite below runs for it too.
connectors.register(fourth.SPEC)

NAMES = [*connectors.builtin_names(), fourth.SOURCE]
"""Every connector shadowit ships, and the test double (other test modules may register ad-hoc
connectors of their own, which are not part of this contract)."""
MARKS = (Checkpoint, Skipped, SourceWarning)
"""Records about the listing rather than the tenant."""
RETRY_AFTER = 7.25
"""Distinct from every exponential backoff (1-1.5, 2-3, 4-6, 8-12 s ...)."""

T = TypeVar("T")


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    servers = Loopback()
    yield servers
    servers.close()


@pytest.fixture(params=NAMES)
def driver(
    request: pytest.FixtureRequest,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    loopback: Loopback,
) -> Iterator[Driver]:
    yield from drive(request.param, Env(tmp_path, monkeypatch, loopback))


@pytest.fixture(autouse=True)
def store_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every contract case runs with the store and SQLite booby-trapped."""
    calls: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(what)
            raise AssertionError(f"a connector called {what} during collect()")

        return called

    monkeypatch.setattr(Store, "open", refuse("Store.open"))
    monkeypatch.setattr(sqlite3, "connect", refuse("sqlite3.connect"))
    yield calls
    assert not calls, f"collect() touched the store: {calls}"


def collect(driver: Driver) -> list[SourceRecord]:
    return list(driver.connector().collect({}))


def applicable(fault: Callable[[], T]) -> T:
    try:
        return fault()
    except NotApplicable as why:
        pytest.skip(str(why))


def malformed_records(driver: Driver, records: list[SourceRecord]) -> list[str]:
    found = [f"record {i}: {p}" for i, r in enumerate(records) for p in problems(r)]
    sources = driver.record_sources or {driver.name}
    for i, record in enumerate(records):
        expected = {driver.name} if isinstance(record, MARKS) else sources
        source = getattr(record, "source", None)
        if source not in expected:
            found.append(f"record {i}: source {source!r}, expected one of {sorted(expected)}")
    return found


def data(records: list[SourceRecord]) -> list[SourceRecord]:
    return [r for r in records if not isinstance(r, MARKS)]


def test_every_driver_is_for_a_registered_connector() -> None:
    assert set(DRIVERS) <= set(NAMES), "a driver names a connector the registry does not know"


def test_the_record_checker_rejects_what_the_models_forbid() -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    assert not problems(SignIn("s", "e1", "app", naive.replace(tzinfo=UTC)))
    assert problems(SignIn("s", "e1", "app", naive)) == [
        f"SignIn.at={naive!r}: a naive datetime (times are timezone-aware UTC)"
    ]
    assert problems(User("s", "u1", email=""))[0].endswith('(optional values are None, never "")')
    assert "not a tuple" in problems(Grant("s", "c", None, ["a"]))[0]  # type: ignore[arg-type]
    assert "not a str" in problems(User("s", 42, None))[0]  # type: ignore[arg-type]
    assert "not one of" in problems(Grant("s", "c", None, (), "everyone"))[0]  # type: ignore[arg-type]
    assert "is not a SourceRecord type" in problems({"id": "raw dict"})[0]


def test_records_are_frozen_typed_source_records(driver: Driver) -> None:
    records = collect(driver)
    assert data(records), "a clean scan of the fake yielded no records"
    assert not malformed_records(driver, records)
    assert not [r for r in records if isinstance(r, Skipped)], "a clean scan skipped a stream"
    with pytest.raises(dataclasses.FrozenInstanceError):
        records[0].source = "changed"  # type: ignore[misc]


def test_a_checkpoint_follows_every_page(driver: Driver) -> None:
    records = collect(driver)
    paging = driver.paging
    served = driver.pages_served()
    assert served >= 2, f"the fake served {served} page(s) of {paging.stream}; the case needs 2+"

    since_mark = 0
    for record in records:
        if paging.holds(record):
            since_mark += 1
            assert since_mark <= paging.page_size, (
                f"more than a page ({paging.page_size}) of {paging.stream} without a Checkpoint"
            )
        elif isinstance(record, Checkpoint) and record.stream == paging.stream:
            since_mark = 0
    assert since_mark == 0, f"the last page of {paging.stream} has no Checkpoint after it"
    marks = [r for r in records if isinstance(r, Checkpoint) and r.stream == paging.stream]
    assert len(marks) >= served, f"{served} pages of {paging.stream}, {len(marks)} Checkpoints"

    # Whatever the stream, nothing is left after the last Checkpoint, and checkpoints interleave.
    positions = [i for i, r in enumerate(records) if not isinstance(r, MARKS)]
    checkpoints = [i for i, r in enumerate(records) if isinstance(r, Checkpoint)]
    assert checkpoints and positions[-1] < checkpoints[-1], "records after the last Checkpoint"
    assert any(positions[0] < c < positions[-1] for c in checkpoints), "one Checkpoint at the end"


def test_403_on_a_gated_stream_is_skipped_naming_the_permission(driver: Driver) -> None:
    denied = applicable(driver.deny)
    records = collect(driver)
    skipped = [r for r in records if isinstance(r, Skipped) and r.stream == denied.stream]
    assert len(skipped) == 1, f"expected one Skipped for {denied.stream}: {skipped}"
    (skip,) = skipped
    assert skip.permission == denied.permission
    assert denied.permission in skip.reason, "the reason does not name the permission to grant"
    assert "\n" not in skip.reason
    advanced = [
        r
        for r in records
        if isinstance(r, Checkpoint) and r.stream == denied.stream and (r.complete or r.cursor)
    ]
    assert not advanced, "a skipped stream was marked complete or moved its cursor"
    assert data(records), "the other streams were not read"
    assert not malformed_records(driver, records)


def test_429_with_retry_after_is_honoured(driver: Driver) -> None:
    path = applicable(lambda: driver.throttle(RETRY_AFTER))
    records = collect(driver)
    assert RETRY_AFTER in driver.env.sleeps, f"waits were {driver.env.sleeps}"
    statuses = [r.status for r in driver.requests_to(path)]
    assert statuses[0] == 429 and 200 in statuses[1:], statuses
    assert not [r for r in records if isinstance(r, Skipped)], "a healed 429 skipped a stream"
    assert data(records) and not malformed_records(driver, records)


def test_5xx_is_retried_a_bounded_number_of_times_then_raises_retryable_error(
    driver: Driver,
) -> None:
    storm = applicable(lambda: driver.storm(ATTEMPTS * 3))
    if storm.skipped_stream is None:
        seen: list[SourceRecord] = []
        with pytest.raises(RetryableError) as caught:
            for record in driver.connector().collect({}):
                seen.append(record)
        assert caught.value.source == driver.name
        message = str(caught.value)
    else:
        records = collect(driver)
        skipped = [
            r for r in records if isinstance(r, Skipped) and r.stream == storm.skipped_stream
        ]
        assert len(skipped) == 1, f"expected one Skipped for {storm.skipped_stream}: {skipped}"
        message = skipped[0].reason
    assert f"after {ATTEMPTS} attempts" in message, message
    assert "\n" not in message
    assert len(driver.requests_to(storm.path)) == ATTEMPTS
    assert len(driver.env.sleeps) >= ATTEMPTS - 1


def test_item_missing_a_required_field_raises_shape_error_naming_it(driver: Driver) -> None:
    bad = driver.malform()
    if bad.row is None:
        with pytest.raises(ResponseShapeError) as caught:
            collect(driver)
        assert caught.value.source == driver.name
        assert repr(bad.field) in str(caught.value), str(caught.value)
        assert "\n" not in str(caught.value)
        return
    records = collect(driver)
    warned = [r.message for r in records if isinstance(r, SourceWarning) and bad.row in r.message]
    assert len(warned) == 1, f"no single warning names {bad.row}: {warned}"
    assert repr(bad.field) in warned[0], warned[0]
    assert data(records) and not malformed_records(driver, records)


def test_collect_never_touches_the_store(driver: Driver, store_calls: list[str]) -> None:
    with pytest.raises(AssertionError):
        sqlite3.connect(":memory:")  # the trap is armed
    store_calls.clear()
    records = collect(driver)
    assert data(records)
    assert store_calls == []
