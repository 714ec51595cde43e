"""One HTTP client for every REST connector: timeouts, bounded retries, Retry-After, pacing.

Policy (STYLE habit 6): 429 and 5xx and connection errors are retriable, every other 4xx is fatal
and handed to the connector, which knows what a 403 means for its provider. Waits honour the
server: ``Retry-After`` in seconds (Graph sends fractional values such as ``2.128``, see
https://learn.microsoft.com/en-us/graph/throttling) or as an HTTP date, and Okta's
``X-Rate-Limit-Reset`` epoch seconds (https://developer.okta.com/docs/reference/rl2-monitor/).
Without a hint we back off exponentially with jitter. Every wait is capped and the number of
attempts is bounded, so a throttling storm ends in a clear ``RetryableError``.

No URL query string, header or body that could carry a token is ever put in a message: messages
name the host and path only.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from scanner.errors import ResponseShapeError, RetryableError
from scanner.names import one_line

log = logging.getLogger(__name__)

USER_AGENT = "shadowit/0.1 (+read-only inventory scanner)"
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """How hard to try. Defaults suit a nightly job: up to 6 attempts, waits capped at 60 s."""

    attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 60.0
    """Seconds to wait for connect and for each read."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


class RateLimiter:
    """At most ``calls`` requests in any ``period`` seconds (sliding window), thread-safe.

    Used to stay *below* documented limits instead of running into 429s, e.g. Graph's identity
    reports allow 5 requests per 10 s per app per tenant.
    """

    def __init__(
        self,
        calls: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1 or period <= 0:
            raise ValueError("a rate limit needs calls >= 1 and period > 0")
        self.calls, self.period = calls, period
        self._clock, self._sleep = clock, sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may go; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.period:
                    self._stamps.popleft()
                if len(self._stamps) < self.calls:
                    self._stamps.append(now)
                    return waited
                delay = self.period - (now - self._stamps[0])
            self._sleep(delay)
            waited += delay


class HttpStatusError(Exception):
    """A non-retriable HTTP error status; the connector translates it into our errors."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.body = _json_or_none(response)
        super().__init__(f"HTTP {self.status} from {safe_url(response.url)}")


def safe_url(url: str) -> str:
    """Host and path only: query strings may hold skiptokens, signatures or keys."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, from Retry-After or X-Rate-Limit-Reset."""
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                parsed = None  # neither seconds nor a date: fall back to our own backoff
            if parsed is not None:
                return max(0.0, parsed.timestamp() - (now or time.time()))
    reset = headers.get("X-Rate-Limit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - (now or time.time()))
        except ValueError:
            return None
    return None


class HttpClient:
    """A requests.Session with our retry, pacing and error policy.

    ``source`` names the connector in errors. ``limiters`` maps a pacing group name (e.g.
    ``"reports"``) to a RateLimiter; ``get(..., pace="reports")`` waits on it before each attempt.
    ``before_request`` lets a connector slow down from response headers (Okta's remaining count).
    """

    def __init__(
        self,
        source: str,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        limiters: Mapping[str, RateLimiter] | None = None,
        auth: Callable[[], Mapping[str, str]] | None = None,
        is_retriable: Callable[[requests.Response], bool] | None = None,
        after_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self.source = source
        self.session = session or new_session()
        self.policy = policy or RetryPolicy()
        self.limiters = dict(limiters or {})
        self._auth = auth
        self._is_retriable = is_retriable
        self._after_response = after_response
        self.requests_made = 0
        self.retries = 0
        self._count_lock = threading.Lock()

    def get_json(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        pace: str | None = None,
    ) -> tuple[Any, requests.Response]:
        """GET and decode JSON; raise ResponseShapeError if the body is not JSON."""
        response = self.request("GET", url, params=params, headers=headers, pace=pace)
        try:
            return response.json(), response
        except ValueError as err:
            raise ResponseShapeError(
                self.source, f"{safe_url(url)} answered with a body that is not JSON ({err})"
            ) from None

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        pace: str | None = None,
        data: Any = None,
    ) -> requests.Response:
        policy = self.policy
        last_problem = "no attempt made"
        for attempt in range(1, policy.attempts + 1):
            if pace and pace in self.limiters:
                self.limiters[pace].acquire()
            send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
            if self._auth:
                send_headers.update(self._auth())
            with self._count_lock:
                self.requests_made += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=send_headers,
                    data=data,
                    timeout=policy.timeout,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # a body cut off mid-page
            ) as err:
                last_problem = f"{type(err).__name__} talking to {safe_url(url)}"
                wait = self._backoff(attempt)
            else:
                if self._after_response:
                    self._after_response(response)
                retriable = response.status_code in RETRIABLE_STATUS or (
                    self._is_retriable is not None and self._is_retriable(response)
                )
                if response.ok:
                    return response
                if not retriable:
                    raise HttpStatusError(response)
                last_problem = f"HTTP {response.status_code} from {safe_url(url)}"
                hinted = retry_after_seconds(response.headers)
                wait = hinted if hinted is not None else self._backoff(attempt)
            if attempt == policy.attempts:
                break
            wait = min(wait, policy.max_wait)
            with self._count_lock:
                self.retries += 1
            log.info(
                "%s: %s; retry %d/%d in %.1f s",
                self.source,
                one_line(last_problem),
                attempt,
                policy.attempts - 1,
                wait,
            )
            policy.sleep(wait)
        raise RetryableError(
            self.source,
            f"gave up after {policy.attempts} attempts: {last_problem}. "
            "The provider is throttling or failing; the next scan will try again.",
        )

    def _backoff(self, attempt: int) -> float:
        base = self.policy.backoff * (2 ** (attempt - 1))
        return float(min(self.policy.max_wait, base + random.uniform(0, base / 2)))


def new_session(ca_bundle: str | None = None, pool: int = 16) -> requests.Session:
    """A Session that ignores proxy/CA environment overrides only when a CA bundle is given."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if ca_bundle:
        # requests lets REQUESTS_CA_BUNDLE override Session.verify; a configured bundle wins.
        session.trust_env = False
        session.verify = ca_bundle
    return session


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
