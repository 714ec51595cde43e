"""Adaptive pacing: one ``Pacer`` per source, shared by all its threads and HTTP clients.

Providers document their limits, but a tenant can meet a stricter one (a smaller SKU, another
app of the same tenant using the quota, a proxy in front of the API). The pacer learns it from
the throttling answers themselves (additive increase, multiplicative decrease):

- **Unpaced until throttled.** Requests go at once, but no more calls are in flight than
  ``initial_window`` plus the calls answered so far (a slow start: the window doubles with each
  round of answers, so a first batch does not spend a whole window of the server's).
- **A first 429** is served by its ``Retry-After``: the thread that got it waits as told (the
  retry loop's sleep) and every other thread of the source waits with it (a *hold*); then one
  call goes at a time. A second fresh 429 within ``engage_within`` seconds means the source
  sends faster than the server accepts, and pacing starts (a lone 429 is forgotten after
  ``engage_within``, and one call at a time with it); so do several calls of one batch refused
  at once.
- **Decrease.** Pacing starts (and later throttles cut it) at ``decrease`` times the rate the
  server was still answering over the last ``measure`` seconds (the *ceiling*). At most
  ``max(1, rate * burst)`` calls are in flight at once, so concurrency drops with the rate, and
  a batch carries at most ``max(1, rate * spread)`` calls (a batch is a burst: a server counting
  per second sees it whole).
  A call refused again after it waited (a retry) does not cut again, nor do calls that were
  already on their way when the rate was cut.
- **Slow recovery.** Each answered call adds back ``recovery`` x ceiling per second of sending,
  up to ``plateau`` x ceiling (50% to 80% of the ceiling in 15 s with the defaults); there the
  climb slows twentyfold, so the rate stays under the level that was refused for minutes before
  probing it again.
- **Retry-After is honoured by the whole source**, not just by the thread that read it.
  Microsoft Graph sends it in seconds, fractional ones too
  (https://learn.microsoft.com/en-us/graph/throttling); Google's Directory API answers 429 or 403
  ``userRateLimitExceeded`` and asks for backoff
  (https://developers.google.com/admin-sdk/directory/v1/limits); Okta sends
  ``X-Rate-Limit-Reset`` (https://developer.okta.com/docs/reference/rl2-monitor/), read by
  ``scanner.net.http.retry_after_seconds``. Okta's remaining-calls headers become *pauses* of
  one endpoint family (``pause``, see ``connectors.okta.pacing``).

A batch request (Google Directory batches, where "a set of n requests batched together counts
toward your usage limit as n requests", https://developers.google.com/admin-sdk/directory/v1/guides/batch)
acquires with ``cost=n``, and ``room()`` tells how many calls one request may carry right now.

Time is injectable: ``clock_for(sleep)`` pairs the sleep a connector was given with a clock that
agrees with it, so tests neither really wait nor spin.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaceClock:
    """The time a pacer lives in: ``now()`` in seconds, ``sleep(s)``, and ``wait(cond, s)``
    (block on a held condition for at most ``s`` of these seconds)."""

    now: Callable[[], float]
    sleep: Callable[[float], None]
    wait: Callable[[threading.Condition, float], None]


def _condition_wait(condition: threading.Condition, seconds: float) -> None:
    condition.wait(max(0.0, seconds))


REAL_TIME = PaceClock(time.monotonic, time.sleep, _condition_wait)


def clock_for(sleep: Callable[[float], None] | None) -> PaceClock:
    """The clock that goes with ``sleep`` (``ConnectorContext.sleep``).

    - ``None`` or ``time.sleep``: real monotonic time.
    - An object with ``now()`` and ``wait(condition, seconds)`` besides being callable (e.g.
      ``connectors.testing.ScaledTime``): its own time.
    - Any other callable (a test's recorder): time advances by what was "slept", so a wait is
      served at once and shows up in the recording, and nothing spins.
    """
    if sleep is None or sleep is time.sleep:
        return REAL_TIME
    now = getattr(sleep, "now", None)
    wait = getattr(sleep, "wait", None)
    if callable(now) and callable(wait):
        return PaceClock(now, sleep, wait)
    slept = [0.0]
    lock = threading.Lock()
    inject = sleep

    def recorded_sleep(seconds: float) -> None:
        inject(seconds)
        with lock:
            slept[0] += seconds

    def recorded_now() -> float:
        return time.monotonic() + slept[0]

    return PaceClock(recorded_now, recorded_sleep, _condition_wait)


@dataclass(frozen=True)
class Ticket:
    """One request on its way: when it left, how many calls it carries, which thread sent it."""

    sent: float
    cost: int
    thread: int


class Pacer:
    """Adaptive request pacing for one source (see the module docstring); thread-safe."""

    def __init__(
        self,
        source: str,
        clock: PaceClock | None = None,
        *,
        decrease: float = 0.5,
        recovery: float = 0.02,
        plateau: float = 0.8,
        min_rate: float = 0.05,
        engage_within: float = 60.0,
        max_hold: float = 60.0,
        measure: float = 1.0,
        burst: float = 1.0,
        spread: float = 0.25,
        initial_window: int = 2,
    ) -> None:
        if not 0 < decrease < 1 or recovery <= 0 or not 0 < plateau <= 1 or min_rate <= 0:
            raise ValueError("pacing needs 0 < decrease < 1, recovery > 0, 0 < plateau <= 1")
        self.source = source
        self.clock = clock or REAL_TIME
        self.decrease, self.recovery, self.plateau = decrease, recovery, plateau
        self.min_rate, self.engage_within, self.max_hold = min_rate, engage_within, max_hold
        self.measure, self.burst, self.initial_window = measure, burst, initial_window
        self.spread = spread
        self._cond = threading.Condition()
        self.rate: float | None = None
        """Calls per second while pacing; None until the source was throttled twice."""
        self.ceiling = 0.0
        """The rate the server still answered when it last refused us."""
        self._next_at = 0.0
        self._cut_at = float("-inf")
        self._last_strike: float | None = None
        self._struck_once = False
        self._hold_until = 0.0
        self._hold_owner: int | None = None
        self._pauses: dict[str | None, float] = {}
        self._in_flight = 0
        self._holders: dict[int, int] = {}
        """Thread -> tickets it holds: a thread already sending is never queued behind itself."""
        self._answered: deque[tuple[float, int]] = deque()
        self._answered_total = 0
        self._retrying: set[int] = set()
        self.sent = 0
        """Calls sent through this pacer."""
        self.throttled = 0
        """Calls the server refused for rate."""
        self.cuts = 0
        """Times the rate was lowered (the first is when pacing starts)."""

    # -- what a request asks -------------------------------------------------------------
    @property
    def limit(self) -> int:
        """Calls allowed in flight at once."""
        with self._cond:
            return self._limit()

    def _limit(self) -> int:
        if self.rate is not None:
            return max(1, int(self.rate * self.burst))
        if self._struck_once:
            if self._last_strike is not None and (
                self.clock.now() - self._last_strike <= self.engage_within
            ):
                return 1
            self._struck_once = False  # a lone throttle, long ago: forgotten
        return self.initial_window + self._answered_total

    def room(self, wanted: int) -> int:
        """How many calls one (batch) request may carry now: at most ``wanted``, what the
        in-flight limit leaves (at least one; ``acquire`` then waits for room) and, while
        pacing, the calls of ``spread`` seconds."""
        with self._cond:
            room = self._limit() - self._in_flight
            if self.rate is not None:
                room = min(room, int(self.rate * self.spread))
            return max(1, min(wanted, room))

    def acquire(self, cost: int = 1, group: str | None = None) -> Ticket:
        """Block until a request of ``cost`` calls may go; ``group`` names a pause family."""
        me = threading.get_ident()
        cost = max(1, cost)
        with self._cond:
            while True:
                now = self.clock.now()
                if self._hold_until > now:
                    if self._hold_owner != me:
                        self.clock.wait(self._cond, self._hold_until - now)
                        continue
                    self._release_hold()  # the owner waited out its own Retry-After
                paused = max(self._pauses.get(group, 0.0), self._pauses.get(None, 0.0))
                if paused > now:
                    wait = paused - now
                elif me not in self._holders and self._over_limit(cost):
                    self._cond.wait(0.05)  # woken by the next release
                    continue
                elif self.rate is not None and self._next_at > now:
                    wait = self._next_at - now
                else:
                    if self.rate is not None:
                        self._next_at = max(self._next_at, now) + cost / self.rate
                    self._in_flight += cost
                    self._holders[me] = self._holders.get(me, 0) + 1
                    self.sent += cost
                    return Ticket(now, cost, me)
                self._cond.release()
                try:
                    self.clock.sleep(wait)
                finally:
                    self._cond.acquire()

    def _over_limit(self, cost: int) -> bool:
        return self._in_flight > 0 and self._in_flight + cost > self._limit()

    def _release_hold(self) -> None:
        self._hold_until, self._hold_owner = 0.0, None
        self._cond.notify_all()

    # -- what the server answered --------------------------------------------------------
    def release(
        self,
        ticket: Ticket,
        *,
        throttled: int = 0,
        retry_after: float | None = None,
        failed: bool = False,
    ) -> None:
        """The answer to ``ticket``: ``throttled`` of its calls refused for rate (with the
        server's ``retry_after`` when it gave one and the caller will retry), or ``failed``
        (no answer: a reset, a timeout), else answered."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - ticket.cost)
            held = self._holders.pop(ticket.thread, 0) - 1
            if held > 0:
                self._holders[ticket.thread] = held
            self._cond.notify_all()
            now = self.clock.now()
            answered = 0 if failed else ticket.cost - min(throttled, ticket.cost)
            if answered:
                self._answered.append((now, answered))
                self._answered_total += answered
                self._answered_rate(now)  # drops what is older than ``measure``
                self._grow(answered)
            if throttled <= 0:
                if not failed:
                    self._retrying.discard(ticket.thread)
                return
            self.throttled += throttled
            # A call refused again after it waited is a retry; a batch partly answered is not.
            fresh = ticket.thread not in self._retrying or answered > 0
            self._retrying.add(ticket.thread)
            if retry_after is not None and retry_after > 0:
                self._hold_until = max(self._hold_until, now + min(retry_after, self.max_hold))
                self._hold_owner = ticket.thread
            if fresh:
                self._strike(now, ticket, throttled)

    def pause(self, seconds: float, group: str | None = None) -> None:
        """Every request of ``group`` (None: all) waits ``seconds`` from now (Okta's reset)."""
        with self._cond:
            until = self.clock.now() + min(max(0.0, seconds), self.max_hold)
            self._pauses[group] = max(self._pauses.get(group, 0.0), until)

    def _strike(self, now: float, ticket: Ticket, throttled: int = 1) -> None:
        # Nothing answered in the last ``measure`` seconds (slow answers, a long wait) says
        # nothing about the server's rate: then the current rate, or one call per ``measure``.
        answered = self._answered_rate(now)
        if self.rate is not None:
            if ticket.sent > self._cut_at:
                self._cut(now, min(self.rate, answered or self.rate))
            return
        # Several calls of one answer refused (a batch) is no chance refusal: pace at once.
        recent = throttled > 1 or (
            self._last_strike is not None and now - self._last_strike <= self.engage_within
        )
        self._last_strike = now
        answered = answered or 1.0 / self.measure
        if recent:
            self._cut(now, answered)
        else:
            self._struck_once = True
            log.info(
                "%s: throttled once; every request waits as the server asked, one at a time",
                self.source,
            )

    def _cut(self, now: float, reference: float) -> None:
        starting = self.rate is None
        self.ceiling = max(self.min_rate, reference)
        self.rate = max(self.min_rate, self.ceiling * self.decrease)
        self._cut_at = now
        self._next_at = max(self._next_at, now)
        self.cuts += 1
        log.info(
            "%s: throttled; %s pacing at %.2f requests/s, %d at a time",
            self.source,
            "starts" if starting else "lowers",
            self.rate,
            self._limit(),
        )

    def _answered_rate(self, now: float) -> float:
        while self._answered and now - self._answered[0][0] > self.measure:
            self._answered.popleft()
        return sum(calls for _, calls in self._answered) / self.measure

    def _grow(self, answered: int) -> None:
        if self.rate is None:
            return
        ceiling = max(self.ceiling, 1.0)
        slope = self.recovery * ceiling
        if self.plateau * self.ceiling <= self.rate < self.ceiling:
            slope /= 20
        # ``answered`` calls at ``rate`` took answered / rate seconds of sending.
        self.rate += slope * answered / self.rate
