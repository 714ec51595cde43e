"""Adaptive pacing: a server stricter than documented is met by slowing down, not by retrying.

The scenario: each IdP connector (Entra over Graph, Google Admin SDK, Okta) reads the demo
tenant from its loopback fake, and the fake refuses any sixth API request within a second with
429 and a ``Retry-After`` (``FakeProvider.limit``: a sliding window of 5 requests per second,
each call inside a Google batch counted, as Google counts them). Pages are cut small and Google
gets extra users so every connector sends a few hundred requests, with its threads (Entra's
per-app calls and background sign-in listing, Google's batch pool, Okta's parallel app-user
listings) sharing one pacer. The fake and the connector count the same seconds, running
``SPEED`` times faster than real time (``connectors.testing.timing.ScaledTime``); every
request still goes over HTTP to 127.0.0.1. Without the pacer these runs fail (Entra gives up
after 6 attempts on a per-app call, Google's token sweep ends partial, Okta has a quarter of its
requests answered 429); with it each stays under 5% and every listing completes.

The pacer's rules are then checked one by one on an injected clock: a lone 429 holds the other
threads and paces nothing after, a second one starts pacing at half the answered rate, retries
and calls already in flight do not cut again, recovery is slow, threads together keep the
spacing, batches start small, and Okta's reset pauses only its endpoint family.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import connectors
import connectors.google.collect as google_connector
from connectors.base import ConnectorContext
from connectors.demo import DEMO_NOW
from connectors.google.transport import batch_calls, throttled_calls
from connectors.okta.pacing import ResetPacer
from connectors.testing.base import FakeProvider
from connectors.testing.timing import ScaledTime
from scanner.app import config as configuration
from scanner.app import demo
from scanner.core.models import Checkpoint, Grant, RawApp, Skipped, SourceRecord, User
from scanner.net.http import new_session
from scanner.net.pacing import PaceClock, Pacer, clock_for
from tests.reliability.conftest import Observe

LIMIT = 5
"""Requests per second the fakes accept."""
SPEED = {"entra": 4.0, "google": 8.0, "okta": 8.0}
"""How much faster than real time each run's clock goes. A scaled second is 1 / SPEED real
seconds, and so is any pause of the test process (the coverage tracer, another thread holding
the interpreter, a collection): at 20x a 50 ms pause bunched a second's requests into the
server's window and Google's run met 10% of 429s under a loaded suite. These speeds keep such
pauses a small part of the window while the fakes still need the connector to send faster
than the limit (Graph answers over TLS are slower, so its run goes slower still)."""
LIMITED = {
    "entra": ("graph", ("/v1.0/", "/beta/")),
    "google": ("google", ("/admin/",)),
    "okta": ("okta", ("/api/v1/",)),
}
"""Which fake serves each connector, and the API paths its limit counts (not the token
endpoints, nor Google's batch envelope: its calls inside count one by one)."""
EXTRA_GOOGLE_USERS = 250
COMPLETE = {
    "entra": {"users", "apps", "grants"},
    "google": {"users", "grants", "apps"},
    "okta": {"users", "apps"},
}
"""Listings that must end complete."""


# -- the scenario: the demo tenant behind fakes limiting at 5 requests per second ----------
@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    patch = pytest.MonkeyPatch()
    patch.setattr(google_connector, "USERS_PAGE", 50)
    patch.setattr(google_connector, "ACTIVITIES_PAGE", 5)
    try:
        with demo.serve(demo.load_tenant(), DEMO_NOW) as endpoints:
            google = endpoints["fakes"]["google"]
            for n in range(EXTRA_GOOGLE_USERS):
                user_id = f"2{n:020d}"
                google.users.append(
                    {"id": user_id, "primaryEmail": f"pace{n:03d}@larkspur.example"}
                )
                google.tokens[user_id] = [
                    {
                        "clientId": f"{n % 7}-pace.apps.googleusercontent.com",
                        "displayText": f"Pace App {n % 7}",
                        "scopes": ["https://www.googleapis.com/auth/userinfo.email"],
                        "userKey": user_id,
                    }
                ]
            endpoints["fakes"]["graph"].page_size = 3
            endpoints["fakes"]["okta"].max_page = 1
            folder = tmp_path_factory.mktemp("pacing")
            endpoints["config"] = configuration.load(demo.write_config(folder, endpoints))
            yield endpoints
    finally:
        patch.undo()


def collect(tenant: dict[str, Any], name: str, clock: ScaledTime) -> tuple[Any, list[Any]]:
    cfg = tenant["config"]
    settings = cfg.sources[name]
    if name == "entra":
        # The documented report limit (5 per 10 s) would pace the sign-in pages on its own;
        # raised here so the adaptive pacer meets the server's limit alone.
        settings = dataclasses.replace(settings, reports_calls=1000)
    context = ConnectorContext(
        config_path=cfg.file,
        now=DEMO_NOW,
        full=True,
        session=new_session(tenant["ca_path"]),
        sleep=clock,
    )
    connector = connectors.get(name).factory(settings, context)
    return connector, list(connector.collect({}))


def complete(records: list[SourceRecord]) -> set[str]:
    return {r.stream for r in records if isinstance(r, Checkpoint) and r.complete}


def inventory(records: list[SourceRecord]) -> set[tuple[Any, ...]]:
    """What a listing found: users, apps and grants by identity."""
    found: set[tuple[Any, ...]] = set()
    for record in records:
        if isinstance(record, User):
            found.add(("user", record.id))
        elif isinstance(record, RawApp):
            found.add(("app", record.client_id))
        elif isinstance(record, Grant):
            found.add(("grant", record.client_id, record.user_id, record.scopes))
    return found


@pytest.mark.parametrize("name", list(LIMITED))
def test_429s_stay_under_five_percent_and_every_listing_completes(
    tenant: dict[str, Any], name: str, observe: Observe
) -> None:
    fake_name, prefixes = LIMITED[name]
    fake: FakeProvider = tenant["fakes"][fake_name]
    _unlimited, baseline = collect(tenant, name, ScaledTime(SPEED[name]))
    clock = ScaledTime(SPEED[name])
    fake.clock = clock.now
    fake.log.clear()
    fake.limit(prefixes, LIMIT, 1.0)
    try:
        connector, records = collect(tenant, name, clock)
    finally:
        fake.windows.clear()
        fake.clock = time.monotonic

    assert not [r for r in records if isinstance(r, Skipped)]
    assert COMPLETE[name] <= complete(records)
    found = inventory(records)
    assert found == inventory(baseline), "the same users, apps and grants as without a limit"
    users = sum(1 for key in found if key[0] == "user")
    refused, sent = fake.throttled_share(prefixes)
    pacer = connector.pacer
    assert refused > 0 and pacer.cuts >= 1, "the server's limit was reached and pacing started"
    assert pacer.rate is not None and pacer.rate < LIMIT * 1.2
    share = refused / sent
    assert share < 0.05, f"{refused} of {sent} requests answered 429"
    observe(
        "connector",
        f"{name}: the API limits at {LIMIT} requests/s (429 + Retry-After beyond)",
        f"{refused} of {sent} requests answered 429 ({share:.1%}); pacing settled at "
        f"{pacer.rate:.1f} requests/s; all {users} users, their apps and grants read",
    )


# -- the rules, on an injected clock ----------------------------------------------------------
class Manual:
    """A clock that moves only when slept; waits on a condition return at once."""

    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.t += seconds

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        self.t += seconds


def manual_pacer(**options: Any) -> tuple[Pacer, Manual]:
    clock = Manual()
    return Pacer("entra", clock_for(clock), **options), clock


def answer(pacer: Pacer, calls: int = 1, throttled: int = 0, retry: float | None = None) -> None:
    pacer.release(pacer.acquire(calls), throttled=throttled, retry_after=retry)


def test_clock_for_pairs_each_sleep_with_its_clock() -> None:
    assert clock_for(None).now is time.monotonic and clock_for(time.sleep).sleep is time.sleep
    scaled = ScaledTime(50)
    assert clock_for(scaled).now == scaled.now
    recorded: list[float] = []
    paced = clock_for(recorded.append)
    before = paced.now()
    paced.sleep(30.0)
    assert recorded == [30.0] and paced.now() - before >= 30.0


def test_a_lone_429_holds_the_source_once_and_paces_nothing_after() -> None:
    pacer, clock = manual_pacer()
    for _ in range(4):
        answer(pacer)
    answer(pacer, throttled=1, retry=2.5)
    assert pacer.rate is None
    # Another thread meets the hold: it waits (on the condition, not as a sleep of its own).
    other: list[float] = []

    def meet_the_hold() -> None:
        ticket = pacer.acquire()
        other.append(ticket.sent)
        pacer.release(ticket)

    worker = threading.Thread(target=meet_the_hold)
    worker.start()
    worker.join(5)
    assert other == [pytest.approx(102.5)]
    answer(pacer)  # the throttled thread's retry: it already waited
    for _ in range(5):
        answer(pacer)
    assert clock.sleeps == [] and pacer.rate is None


def test_a_second_429_starts_pacing_at_half_the_answered_rate_and_concurrency() -> None:
    pacer, clock = manual_pacer()
    for _ in range(6):
        answer(pacer)  # six answers within the last second
    answer(pacer, throttled=1)
    answer(pacer)  # the retry
    answer(pacer, throttled=1)  # a fresh call refused again: pacing starts
    assert pacer.ceiling == 7.0 and pacer.rate == 3.5 and pacer.limit == 3
    answer(pacer)  # the throttled thread's retry goes at once
    answer(pacer)
    answer(pacer)
    assert clock.sleeps == [pytest.approx(1 / 3.5, rel=0.02)] * 2


def acquired_elsewhere(pacer: Pacer) -> Any:
    """A ticket taken by another thread (a call of a parallel listing on its way)."""
    tickets = []
    worker = threading.Thread(target=lambda: tickets.append(pacer.acquire()))
    worker.start()
    worker.join(5)
    return tickets[0]


def test_retries_and_calls_already_in_flight_do_not_cut_again() -> None:
    pacer, clock = manual_pacer()
    for _ in range(8):
        answer(pacer)
    answer(pacer, throttled=1)
    answer(pacer)
    answer(pacer, throttled=1)  # pacing starts
    clock(1.0)
    in_flight = acquired_elsewhere(pacer)  # a parallel listing's call on its way
    answer(pacer)
    answer(pacer, throttled=1)  # a fresh call refused: the rate is cut
    cut = pacer.rate
    assert pacer.cuts == 2
    pacer.release(in_flight, throttled=1)  # sent before that cut, refused after it
    answer(pacer, throttled=1)  # the refused call's retry, refused again
    assert pacer.cuts == 2 and pacer.rate == cut
    clock(1.0)
    answer(pacer)
    answer(pacer, throttled=1)  # a fresh call sent after the cut: cut again
    assert pacer.cuts == 3 and pacer.rate is not None and cut is not None and pacer.rate < cut


def test_recovery_is_slow_and_slower_near_the_refused_rate() -> None:
    pacer, clock = manual_pacer()
    for _ in range(10):
        answer(pacer)
    answer(pacer, throttled=1)
    answer(pacer)
    answer(pacer, throttled=1)
    assert pacer.rate == pytest.approx(0.5 * pacer.ceiling)
    start, ceiling = clock.t, pacer.ceiling
    while pacer.rate is not None and pacer.rate < 0.8 * ceiling:
        answer(pacer)
    climb = clock.t - start
    assert 13 <= climb <= 17, "50% to 80% of the refused rate in about 15 s"
    start = clock.t
    while clock.t - start < 60:
        answer(pacer)
    assert pacer.rate < 0.9 * ceiling, "a minute later still under the refused rate"


def test_threads_together_keep_the_spacing() -> None:
    pacer = Pacer("okta", clock_for(ScaledTime(40)))
    for _ in range(6):
        answer(pacer)
    answer(pacer, throttled=1)
    answer(pacer)
    answer(pacer, throttled=1)
    rate = pacer.rate
    assert rate is not None
    sent: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(6):
            ticket = pacer.acquire()
            with lock:
                sent.append(ticket.sent)
            pacer.release(ticket)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sent.sort()
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert len(sent) == 24
    assert min(gaps) >= 0.999 / pacer.rate / 1.2, "no two calls closer than the pace allows"


def test_batches_start_small_and_double_with_each_round() -> None:
    pacer, _clock = manual_pacer()
    rounds = []
    for _ in range(5):
        size = pacer.room(100)
        rounds.append(size)
        answer(pacer, calls=size)
    assert rounds == [2, 4, 8, 16, 32]
    answer(pacer, calls=1, throttled=1, retry=0.5)
    assert pacer.room(100) == 1, "after a first throttle: one call at a time"
    assert pacer.rate is None
    answer(pacer)
    answer(pacer, throttled=1)  # a second one: pacing starts
    assert pacer.rate is not None and pacer.room(100) == int(pacer.rate * 0.25)


def test_several_calls_of_one_batch_refused_start_pacing_at_once() -> None:
    """A batch is a burst the server sees whole: many refusals in one answer are no chance."""
    pacer, _clock = manual_pacer()
    for _ in range(5):
        answer(pacer, calls=pacer.room(100))
    answer(pacer, calls=10, throttled=6, retry=0.5)
    assert pacer.cuts == 1 and pacer.rate is not None
    assert pacer.room(100) == max(1, int(pacer.rate * 0.25))


def test_okta_reset_headers_pause_only_their_family() -> None:
    pacer, clock = manual_pacer()
    resets = ResetPacer(pacer, share=0.1, clock=lambda: 1_000.0)
    headers = {"X-Rate-Limit-Limit": "120", "X-Rate-Limit-Remaining": "5"}
    assert resets.observe("logs", {**headers, "X-Rate-Limit-Reset": "1030"}) == 30.0
    assert resets.observe("users", {**headers, "X-Rate-Limit-Remaining": "60"}) is None
    pacer.release(pacer.acquire(group="users"))
    assert clock.sleeps == []
    pacer.release(pacer.acquire(group="logs"))
    assert clock.sleeps == [30.0]


def test_google_batches_count_each_call_and_each_throttled_part() -> None:
    boundary = "===b=="
    request_body = (
        "".join(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{n}>\r\n\r\n"
            f"GET /admin/directory/v1/users/{n}/tokens HTTP/1.1\r\n\r\n\r\n"
            for n in range(3)
        )
        + f"--{boundary}--\r\n"
    )
    headers = {"content-type": f'multipart/mixed; boundary="{boundary}"'}
    assert batch_calls(headers, request_body) == 3
    assert batch_calls({}, None) == 1
    parts = [
        ("200 OK", "", '{"items": []}'),
        ("429 Too Many Requests", "Retry-After: 0.750\r\n", '{"error": {"code": 429}}'),
        (
            "403 Forbidden",
            "",
            '{"error": {"errors": [{"reason": "userRateLimitExceeded"}], "code": 403}}',
        ),
        ("403 Forbidden", "", '{"error": {"errors": [{"reason": "forbidden"}], "code": 403}}'),
    ]
    answer_body = (
        "".join(
            f"--{boundary}\r\nContent-Type: application/http\r\n\r\n"
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}\r\n{body}\r\n"
            for status, extra, body in parts
        )
        + f"--{boundary}--\r\n"
    )
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = f"multipart/mixed; boundary={boundary}"
    response._content = answer_body.encode()
    assert throttled_calls(response) == (2, 0.75)


def test_the_pacing_clock_of_a_paced_test_has_no_real_waits() -> None:
    """A recorder as ``sleep`` keeps the pacer's waits out of real time (the unit suites)."""
    recorded: list[float] = []
    paced: PaceClock = clock_for(recorded.append)
    pacer = Pacer("google", paced)
    for _ in range(6):
        answer(pacer)
    answer(pacer, throttled=1)
    answer(pacer)
    answer(pacer, throttled=1)
    started = time.monotonic()
    for _ in range(20):
        answer(pacer)
    assert time.monotonic() - started < 1.0
    assert len(recorded) >= 19 and sum(recorded) > 3.0
