"""One HTTP client for every REST connector: timeouts, bounded retries, Retry-After, pacing.

Policy (STYLE habit 6): 429 and 5xx and connection errors are retriable, every other 4xx is fatal
and handed to the connector, which knows what a 403 means for its provider. Waits honour the
server: ``Retry-After`` in seconds (Graph sends fractional values such as ``2.128``, see
https://learn.microsoft.com/en-us/graph/throttling) or as an HTTP date, and Okta's
``X-Rate-Limit-Reset`` epoch seconds (https://developer.okta.com/docs/reference/rl2-monitor/).
Without a hint we back off exponentially with jitter. Every wait is capped and the number of
attempts is bounded, so a throttling storm ends in a clear ``RetryableError``.

Pacing: every attempt goes through the source's ``scanner.net.pacing.Pacer`` (one per source,
shared by its threads and clients), which holds the whole source while a ``Retry-After`` runs
and, once the source is throttled again, lowers its request rate and concurrency and recovers
slowly. A ``RateLimiter`` keeps a source below a documented fixed limit besides.

A hostile or broken server cannot take more than it is given:

- **Origin pinning.** A client knows the origins (scheme, host, port) its source is configured
  for. A URL outside them (a next link, a redirect) is refused before anything is sent, so
  credentials never leave their origin and the listing ends as a failure, never as complete.
  Redirects are followed by hand, under the same rule.
- **Bounded answers.** Bodies are streamed and cut at ``RetryPolicy.max_bytes``; each read waits
  at most ``timeout`` and a whole answer at most ``request_deadline``. Over either is a
  retriable problem, then a ``RetryableError`` naming host and path.
- **A deadline per source.** ``HttpClient.deadline`` (a ``time.monotonic`` instant) ends every
  request after it with ``DeadlineExceeded``; what the source stored so far is kept.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from scanner.core.errors import DeadlineExceeded, ResponseShapeError, RetryableError
from scanner.core.names import one_line
from scanner.net.jsonbody import decode_json
from scanner.net.pacing import Pacer, Ticket, clock_for

log = logging.getLogger(__name__)

USER_AGENT = "shadowit/0.1 (+read-only inventory scanner)"
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
READ_CHUNK = 256 * 1024
MIB = 1024 * 1024


@dataclass
class RetryPolicy:
    """How hard to try. Defaults suit a nightly job: up to 6 attempts, waits capped at 60 s."""

    attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 60.0
    """Seconds to wait for connect and for each read."""
    request_deadline: float = 600.0
    """Seconds one answer may take from the request to its last byte (a trickling server)."""
    max_bytes: int = 64 * MIB
    """The largest answer accepted; Graph pages of 1,000 sign-ins are about 1.5 MB."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


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
    return one_line(f"{parts.scheme}://{parts.netloc}{parts.path}", 300)


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit, lower-cased."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


class _TooBig(Exception):
    """An answer crossed the size cap or the per-answer deadline (the reason is the message)."""


class TransportProblem(OSError):
    """One attempt failed below HTTP (``send_once``); the message names host and path only."""


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
    ``pacer`` is the source's adaptive pacer (pass the same one to every client of a source; by
    default each client has its own); ``is_throttled`` tells it which answers besides 429 mean
    "slow down". ``after_response`` lets a connector slow down from response headers (Okta's
    remaining count).
    ``origins`` are the base URLs credentials may go to (``origin_setting`` names the setting
    in the refusal); ``deadline`` is the ``policy.clock`` instant the source must end by.
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
        origins: Iterable[str] = (),
        origin_setting: str = "the configured URL",
        deadline: float | None = None,
        pacer: Pacer | None = None,
        is_throttled: Callable[[requests.Response], bool] | None = None,
    ) -> None:
        self.source = source
        self.origins = frozenset(origin_of(url) for url in origins)
        self.origin_setting = origin_setting
        self.deadline = deadline
        self.session = session or new_session()
        self.policy = policy or RetryPolicy()
        self.limiters = dict(limiters or {})
        self._auth = auth
        self._is_retriable = is_retriable
        self._after_response = after_response
        self.pacer = pacer or Pacer(source, clock_for(self.policy.sleep))
        self._is_throttled = is_throttled
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
            return decode_json(response.content), response
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
            self._check_deadline(url)
            if pace and pace in self.limiters:
                self.limiters[pace].acquire()
            try:
                ticket, response = self._paced_send(method, url, params, headers, data, pace)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # a body cut off mid-page
                requests.exceptions.ContentDecodingError,
            ) as err:
                last_problem = f"{type(err).__name__} talking to {safe_url(url)}"
                wait = self._backoff(attempt)
            except _TooBig as err:
                last_problem = str(err)
                wait = self._backoff(attempt)
            else:
                hinted = retry_after_seconds(response.headers) if not response.ok else None
                throttled = self.throttled(response)
                final = attempt == policy.attempts
                self.pacer.release(
                    ticket,
                    throttled=1 if throttled else 0,
                    retry_after=None if final else hinted,
                )
                if self._after_response:
                    self._after_response(response)
                retriable = (
                    throttled
                    or response.status_code in RETRIABLE_STATUS
                    or (self._is_retriable is not None and self._is_retriable(response))
                )
                if response.ok:
                    return response
                if not retriable:
                    raise HttpStatusError(response)
                last_problem = f"HTTP {response.status_code} from {safe_url(url)}"
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

    def throttled(self, response: requests.Response) -> bool:
        """Whether an answer means "slow down": 429, or what ``is_throttled`` says."""
        if response.status_code == 429:
            return True
        return self._is_throttled is not None and self._is_throttled(response)

    def send_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        cost: int = 1,
        classify: Callable[[requests.Response], tuple[int, float | None]] | None = None,
    ) -> requests.Response:
        """One attempt under the origin, size, deadline and pacing rules, any status returned.

        For transports with their own retry loop (googleapiclient's). ``cost`` is how many calls
        the request carries (a batch); ``classify(response)`` says how many of them were
        throttled and the longest wait asked (default: all of them on a throttling status).
        Transport problems raise ``OSError`` subclasses whose message names host and path only.
        """
        self._check_deadline(url)
        try:
            ticket, response = self._paced_send(method, url, None, headers, data, None, cost)
        except requests.RequestException as err:
            raise TransportProblem(f"{type(err).__name__} talking to {safe_url(url)}") from None
        except _TooBig as err:
            raise TransportProblem(str(err)) from None
        if classify is not None:
            throttled, hinted = classify(response)
        elif self.throttled(response):
            throttled, hinted = cost, retry_after_seconds(response.headers)
        else:
            throttled, hinted = 0, None
        self.pacer.release(ticket, throttled=throttled, retry_after=hinted)
        return response

    def _paced_send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        data: Any,
        pace: str | None,
        cost: int = 1,
    ) -> tuple[Ticket, requests.Response]:
        """Wait for the pacer, send; a request that got no answer is released as failed.

        Credentials are fetched before the wait: getting a token is a request of its own
        (Okta's service app) and must not queue behind the request that needs it."""
        with self._count_lock:
            self.requests_made += 1
        self._check_origin(url, "a next link")
        credentials = self._auth() if self._auth else None
        ticket = self.pacer.acquire(cost, group=pace)
        try:
            return ticket, self._send(method, url, params, headers, data, credentials)
        except BaseException:
            self.pacer.release(ticket, failed=True)
            raise

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        data: Any,
        credentials: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One attempt: redirects followed by hand inside our origins, the body read bounded."""
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_origin(url, "a next link")
            send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
            send_headers.update(credentials or {})
            response = self.session.request(
                method,
                url,
                params=params,
                headers=send_headers,
                data=data,
                timeout=self.policy.timeout,
                allow_redirects=False,
                stream=True,
            )
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUS or not location:
                self._read_body(response, url)
                return response
            response.close()
            url = urljoin(response.url, location)
            self._check_origin(url, "a redirect")
            params = None  # the Location carries its own query
            if response.status_code == 303:
                method, data = "GET", None
        raise ResponseShapeError(
            self.source, f"{safe_url(url)} redirected more than {MAX_REDIRECTS} times"
        )

    def _check_origin(self, url: str, what: str) -> None:
        if self.origins and origin_of(url) not in self.origins:
            raise ResponseShapeError(
                self.source,
                f"{what} points outside {self.origin_setting} (to {safe_url(url)}): refusing "
                "to send credentials there; the listing is incomplete and nothing is marked gone",
            )

    def _check_deadline(self, url: str) -> None:
        if self.deadline is not None and self.policy.clock() >= self.deadline:
            raise DeadlineExceeded(
                self.source,
                f"the source ran past its deadline before {safe_url(url)}; what it collected is "
                "kept and the next scan goes on from there (raise deadline_hours if this tenant "
                "needs longer)",
            )

    def _read_body(self, response: requests.Response, url: str) -> None:
        """Read the whole answer into ``response`` within the size cap and deadlines."""
        policy = self.policy
        limit = policy.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise _TooBig(f"{safe_url(url)} announced an answer over {limit // MIB} MiB")
        ends = policy.clock() + policy.request_deadline
        if self.deadline is not None:
            ends = min(ends, self.deadline)
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(READ_CHUNK, decode_content=True):
                size += len(chunk)
                if size > limit:
                    raise _TooBig(f"{safe_url(url)} sent an answer over {limit // MIB} MiB")
                if policy.clock() > ends:
                    raise _TooBig(
                        f"{safe_url(url)} took longer than {policy.request_deadline:g} s to "
                        "send one answer"
                    )
                chunks.append(chunk)
        except urllib3.exceptions.ReadTimeoutError:
            raise requests.Timeout(f"read timed out from {safe_url(url)}") from None
        except urllib3.exceptions.ProtocolError:
            raise requests.exceptions.ChunkedEncodingError("answer cut off") from None
        except urllib3.exceptions.DecodeError:
            raise requests.exceptions.ContentDecodingError("bad content encoding") from None
        finally:
            response.close()
        response._content = b"".join(chunks)  # what .content and .json() read from

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
        return decode_json(response.content)
    except ValueError:
        return None
