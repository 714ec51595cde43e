"""Fault injection below the connectors: scanner.net.http retries and scanner.net.paging guards.

For each fault: retries are bounded, no loop spins forever, the error says what happened in
words a reader can act on, and neither the bearer token nor a secret-bearing query string
appears in the message or the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.testing.server import LoopbackServer
from scanner.core.errors import ResponseShapeError, RetryableError
from scanner.core.logs import OUR_LOGGERS
from scanner.core.models import Checkpoint, RawApp, SignIn
from scanner.net.http import HttpClient, RetryPolicy
from scanner.net.paging import Page, link_pages, odata_pages, token_pages
from scanner.store.database import Store
from tests.reliability.conftest import Observe
from tests.reliability.faults import SECRET, PagedFake, RawServer, items

STYLES = ("graph", "google", "okta")


class Harness:
    """A PagedFake on loopback and an HttpClient that records its sleeps."""

    def __init__(self, fake: PagedFake, url: str, attempts: int = 4) -> None:
        self.fake = fake
        self.url = url
        self.sleeps: list[float] = []
        self.client = client_for(self.sleeps, attempts)

    def pages(self, style: str, max_pages: int = 1000) -> Iterator[Page]:
        url = f"{self.url}/{style}/items"
        if style == "graph":
            return odata_pages(self.client, url, params={"code": SECRET}, max_pages=max_pages)
        if style == "okta":
            return link_pages(self.client, url, params={"code": SECRET}, max_pages=max_pages)

        def fetch(token: str | None) -> Mapping[str, Any]:
            params = {"code": SECRET, **({"pageToken": token} if token else {})}
            body, _ = self.client.get_json(url, params=params)
            return body

        return token_pages("google", fetch, "items", max_pages=max_pages)

    def ids(self, style: str, max_pages: int = 1000) -> list[str]:
        return [item["id"] for page in self.pages(style, max_pages) for item in page.items]


def client_for(sleeps: list[float], attempts: int = 4, timeout: float = 5.0) -> HttpClient:
    policy = RetryPolicy(attempts=attempts, max_wait=30.0, timeout=timeout, sleep=sleeps.append)
    return HttpClient("entra", policy=policy, auth=lambda: {"Authorization": f"Bearer {SECRET}"})


@pytest.fixture()
def harness() -> Iterator[Harness]:
    fake = PagedFake(items(10))
    with LoopbackServer(fake) as server:
        yield Harness(fake, server.url)


def assert_clean(message: str, caplog: pytest.LogCaptureFixture) -> None:
    """No secret in the message or in anything our loggers wrote.

    Only shadowit's loggers are configured (scanner.core.logs); urllib3's own DEBUG lines, which
    quote request lines, never reach a handler unless the user wires them up.
    """
    assert SECRET not in message
    ours = [r.getMessage() for r in caplog.records if r.name.split(".")[0] in OUR_LOGGERS]
    assert ours or not caplog.records, "our loggers said something about the retries"
    assert not [line for line in ours if SECRET in line]


# -- throttling and server errors ----------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_429_with_retry_after_waits_as_told_then_succeeds(
    harness: Harness, style: str, observe: Observe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.fake.fail(f"/{style}/items", 429, times=2, headers={"Retry-After": "7"})
    assert len(harness.ids(style)) == 10
    assert harness.sleeps == [7.0, 7.0]
    assert_clean("", caplog)
    observe(
        "http",
        f"{style}: 429 with Retry-After: 7, twice",
        "waited 7 s twice, then read all 10 items",
    )


def test_429_with_huge_retry_after_is_capped(harness: Harness, observe: Observe) -> None:
    harness.fake.fail("/graph/items", 429, times=1, headers={"Retry-After": "86400"})
    assert len(harness.ids("graph")) == 10
    assert harness.sleeps == [30.0]
    observe(
        "http", "429 with Retry-After: 86400", "wait capped at RetryPolicy.max_wait (30 s here)"
    )


@pytest.mark.parametrize("value", ["soon", "Thu, 99 Foo 2026 99:99:99 GMT", "nan", "-5", ""])
def test_429_with_garbage_retry_after_falls_back_to_backoff(
    harness: Harness, value: str, observe: Observe
) -> None:
    harness.fake.fail("/graph/items", 429, times=1, headers={"Retry-After": value})
    assert len(harness.ids("graph")) == 10
    assert len(harness.sleeps) == 1 and 0.0 <= harness.sleeps[0] <= 30.0
    observe(
        "http",
        f"429 with Retry-After: {value!r}",
        f"no crash; waited {harness.sleeps[0]:.1f} s (bounded), then read all items",
    )


@pytest.mark.parametrize("style", STYLES)
def test_429_without_retry_after_backs_off_and_gives_up(
    harness: Harness, style: str, observe: Observe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.fake.fail(f"/{style}/items", 429, times=100)
    with pytest.raises(RetryableError) as err:
        harness.ids(style)
    message = str(err.value)
    assert "gave up after 4 attempts: HTTP 429" in message
    assert "next scan will try again" in message
    assert len(harness.fake.requests_to(f"/{style}/items")) == 4
    assert len(harness.sleeps) == 3
    assert harness.sleeps == sorted(harness.sleeps), "exponential backoff grows"
    assert_clean(message, caplog)
    observe(
        "http",
        f"{style}: 429 without Retry-After, forever",
        f"4 attempts, growing backoff, then: {message}",
    )


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_a_bounded_number_of_times(
    harness: Harness, status: int, observe: Observe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.fake.fail("/okta/items", status, times=100)
    with pytest.raises(RetryableError) as err:
        harness.ids("okta")
    message = str(err.value)
    assert f"gave up after 4 attempts: HTTP {status} from http://127.0.0.1" in message
    assert len(harness.fake.requests_to("/okta/items")) == 4
    assert_clean(message, caplog)
    observe("http", f"HTTP {status} on every attempt", f"4 attempts then RetryableError: {message}")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_later_page_recovers(harness: Harness, status: int, observe: Observe) -> None:
    harness.fake.fail("/graph/items", status, times=2)
    assert harness.ids("graph") == [f"item-{i:03d}" for i in range(10)]
    observe("http", f"HTTP {status} twice, then recovery", "retried, all 10 items read once each")


# -- the transport: resets, cut bodies, stalls -----------------------------------------------


@pytest.mark.parametrize("mode", ["reset", "truncate", "stall"])
def test_transport_fault_then_recovery(mode: str, observe: Observe) -> None:
    sleeps: list[float] = []
    server = RawServer([mode], stall_seconds=1.0)
    with server.running():
        body, _ = client_for(sleeps, timeout=0.3).get_json(f"{server.url}/x?code={SECRET}")
    assert body == {"value": [{"id": "a"}]}
    assert len(sleeps) == 1 and server.connections == 2
    what = {"reset": "connection reset", "truncate": "body cut mid-page", "stall": "read timeout"}
    observe("http", f"{what[mode]} once", "retried once, then the page was read")


@pytest.mark.parametrize("mode", ["reset", "truncate", "stall"])
def test_transport_fault_forever_gives_up_clearly(
    mode: str, observe: Observe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    server = RawServer([], after=mode, stall_seconds=1.0)
    url = server.url
    with server.running(), pytest.raises(RetryableError) as err:
        client_for(sleeps, attempts=3, timeout=0.3).get_json(f"{url}/x?code={SECRET}")
    message = str(err.value)
    assert message.startswith("Entra: gave up after 3 attempts: ")
    assert f"talking to {url}/x" in message
    assert server.connections == 3 and len(sleeps) == 2
    assert_clean(message, caplog)
    what = {"reset": "connection reset", "truncate": "body cut mid-page", "stall": "read timeout"}
    observe("http", f"{what[mode]} on every attempt", f"3 attempts then: {message}")


# -- bodies that are not what they should be --------------------------------------------------

TRUNCATED = b'{"value": [{"id": "item-000"}, {"id": "item-0'


@pytest.mark.parametrize("style", STYLES)
def test_truncated_json_is_a_clear_shape_error(
    harness: Harness, style: str, observe: Observe
) -> None:
    harness.fake.fail(f"/{style}/items", 200, raw=TRUNCATED)
    with pytest.raises(ResponseShapeError) as err:
        harness.ids(style)
    message = str(err.value)
    assert f"/{style}/items answered with a body that is not JSON" in message
    assert SECRET not in message
    assert len(harness.fake.requests_to(f"/{style}/items")) == 1
    observe("http", f"{style}: truncated JSON with status 200", message)


@pytest.mark.parametrize(
    ("style", "raw", "expected"),
    [
        ("graph", b'{"value": "nope"}', "answered without a 'value' list"),
        ("graph", b"[1, 2]", "answered without a 'value' list"),
        ("graph", b"null", "answered without a 'value' list"),
        ("graph", b'{"value": [{"id": "a"}, null]}', "answered with an item that is not an object"),
        ("okta", b'{"errorCode": "E0"}', "answered without a JSON array"),
        ("google", b'{"items": "nope"}', "'items' is not a list"),
        ("google", b"[1, 2]", "answered with a JSON array, not an object"),
        ("google", b'"text"', "answered with a JSON string, not an object"),
    ],
)
def test_malformed_json_is_a_clear_shape_error(
    harness: Harness, style: str, raw: bytes, expected: str, observe: Observe
) -> None:
    harness.fake.fail(f"/{style}/items", 200, raw=raw)
    with pytest.raises(ResponseShapeError) as err:
        harness.ids(style)
    assert expected in str(err.value)
    observe("http", f"{style}: well-formed JSON of the wrong shape {raw.decode()}", str(err.value))


# -- paging that loops, repeats or idles --------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("at", "back_to"), [(6, 3), (6, 6), (3, 0)])
def test_next_link_looping_back_ends_with_an_error(
    harness: Harness, style: str, at: int, back_to: int, observe: Observe
) -> None:
    harness.fake.next_override[at] = back_to
    with pytest.raises(ResponseShapeError) as err:
        harness.ids(style)
    assert "loops back" in str(err.value)
    assert len(harness.fake.log) <= 6, "the loop is noticed within a page or two"
    observe(
        "http",
        f"{style}: next link of page at {at} points back to page at {back_to}",
        f"stopped after {len(harness.fake.log)} requests: {err.value}",
    )


@pytest.mark.parametrize("style", STYLES)
def test_empty_page_with_a_next_link_is_followed(
    harness: Harness, style: str, observe: Observe
) -> None:
    harness.fake.empty = {3}
    ids = harness.ids(style)
    assert ids == [f"item-{i:03d}" for i in range(10) if not 3 <= i < 6]
    observe(
        "http", f"{style}: an empty page that still has a next link", "followed; later pages read"
    )


@pytest.mark.parametrize("style", STYLES)
def test_endless_empty_pages_are_bounded(harness: Harness, style: str, observe: Observe) -> None:
    harness.fake.endless_empty = True
    with pytest.raises(ResponseShapeError) as err:
        harness.ids(style, max_pages=25)
    assert "more than 25 pages" in str(err.value)
    assert len(harness.fake.log) == 25
    observe(
        "http",
        f"{style}: every page empty with a fresh next link, forever",
        f"ended at max_pages: {err.value}",
    )


def test_repeated_page_items_are_stored_once(
    harness: Harness, tmp_path: Path, observe: Observe
) -> None:
    harness.fake.repeat = {6: 3}
    seen = harness.ids("graph")
    assert len(seen) == 10 and len(set(seen)) == 7, "page at 6 repeats the page at 3"
    when = datetime(2026, 11, 20, tzinfo=UTC)

    def records() -> Iterator[object]:
        for page in harness.pages("graph"):
            for item in page.items:
                yield RawApp("entra", item["id"], item["displayName"])
                yield SignIn("entra", f"ev-{item['id']}", item["id"], when, user_id="u1")
            yield Checkpoint("entra", "apps")

    store = Store.open(tmp_path / "inv.db")
    scan = store.begin_scan()
    store.ingest(scan, "entra", records())  # type: ignore[arg-type]
    apps = store.db.execute("SELECT count(*) FROM raw_apps").fetchone()[0]
    events = store.db.execute("SELECT sum(events) FROM app_evidence").fetchone()[0]
    counted = store.db.execute("SELECT sum(count) FROM signin_daily").fetchone()[0]
    store.close()
    assert (apps, events, counted) == (7, 7, 7)
    observe(
        "http",
        "a page that repeats the items of an earlier page",
        "store keeps one row per app and counts each sign-in event once (7 of 10 served)",
    )
