"""What every fake provider shares: routing, a request log, injected faults, latency, limits.

A fake subclasses ``FakeProvider`` and adds routes with ``self.route(method, pattern, handler)``;
a handler takes ``(request, **path_args)`` and returns a werkzeug Response (use ``json_response``).

Fault injection (tests and the reliability suite): ``fail(path_prefix, status, times=1,
headers=..., body=...)`` makes the next ``times`` matching requests answer with that status
instead. ``set_latency(seconds)`` delays every answer; ``limit(path_prefix, calls, period)``
models a provider's throttling window and answers 429 beyond it (with ``retry_header``), e.g.
``limit(("/v1.0/", "/beta/"), 5, 1.0)``: a sixth request within any second is refused, with a
``Retry-After`` of the seconds until the window has room again. ``clock`` is the time the
windows are counted in (``connectors.testing.timing.ScaledTime.now`` runs them faster).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

Handler = Callable[..., Response]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers or {}, mimetype="application/json"
    )


@dataclass
class Fault:
    prefix: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    """Send these bytes as the body (truncated or malformed JSON)."""
    method: str | None = None


@dataclass
class Window:
    """A sliding-window rate limit on requests whose path starts with ``prefix`` (or with one
    of several prefixes, which then share the window)."""

    prefix: str | tuple[str, ...]
    calls: int
    period: float
    retry_header: str = "Retry-After"
    stamps: deque[float] = field(default_factory=deque)


@dataclass
class LoggedRequest:
    method: str
    path: str
    args: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    status: int = 0


class FakeProvider:
    """Base WSGI app for the fake providers."""

    def __init__(self) -> None:
        self._rules = Map()
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.windows: list[Window] = []
        self.latency = 0.0
        self.clock: Callable[[], float] = time.monotonic
        """The time throttling windows are counted in."""
        self.log: list[LoggedRequest] = []
        self.throttled = 0

    # -- configuration --------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        endpoint = f"{method} {pattern}"
        self._rules.add(Rule(pattern, endpoint=endpoint, methods=[method]))
        self._handlers[endpoint] = handler

    def fail(
        self,
        prefix: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests under ``prefix`` with ``status``."""
        with self._lock:
            self.faults.append(Fault(prefix, status, times, headers or {}, body, raw, method))

    def limit(
        self,
        prefix: str | tuple[str, ...],
        calls: int,
        period: float,
        retry_header: str = "Retry-After",
    ) -> None:
        """At most ``calls`` requests under ``prefix`` in any ``period`` seconds; 429 beyond."""
        with self._lock:
            self.windows.append(Window(prefix, calls, period, retry_header))

    def throttled_share(self, prefix: str | tuple[str, ...] = "/") -> tuple[int, int]:
        """(429 answers, requests) logged under ``prefix`` (calls inside a batch count)."""
        with self._lock:
            logged = [r for r in self.log if r.path.startswith(prefix)]
        return sum(1 for r in logged if r.status == 429), len(logged)

    def set_latency(self, seconds: float) -> None:
        self.latency = seconds

    # -- inspection -----------------------------------------------------------------------
    def requests_to(self, prefix: str, method: str | None = None) -> list[LoggedRequest]:
        return [
            r
            for r in self.log
            if r.path.startswith(prefix) and (method is None or r.method == method)
        ]

    def counts(self) -> Counter[str]:
        return Counter(f"{r.method} {r.path}" for r in self.log)

    # -- WSGI -----------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        entry = LoggedRequest(
            request.method,
            request.path,
            dict(request.args),
            dict(request.headers),
            dict(request.form) if request.method == "POST" else {},
        )
        with self._lock:
            self.log.append(entry)
        if self.latency:
            time.sleep(self.latency)
        response = self._injected(request) or self._throttle(request) or self._route(request)
        entry.status = response.status_code
        return response

    def error_body(self, status: int) -> Any:
        """The provider's error body for a status (subclasses override)."""
        return {"error": {"code": str(status), "message": "injected fault"}}

    def throttle_headers(self, window: Window, wait: float) -> dict[str, str]:
        if window.retry_header == "X-Rate-Limit-Reset":
            return {
                "X-Rate-Limit-Limit": str(window.calls),
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(int(time.time() + wait) + 1),
            }
        return {window.retry_header: f"{wait:.3f}"}

    def _injected(self, request: Request) -> Response | None:
        with self._lock:
            for fault in self.faults:
                if fault.times <= 0 or not request.path.startswith(fault.prefix):
                    continue
                if fault.method and fault.method != request.method:
                    continue
                fault.times -= 1
                if fault.raw is not None:
                    return Response(
                        fault.raw,
                        status=fault.status,
                        headers=fault.headers,
                        mimetype="application/json",
                    )
                body = fault.body if fault.body is not None else self.error_body(fault.status)
                return json_response(body, fault.status, dict(fault.headers))
        return None

    def _throttle(self, request: Request) -> Response | None:
        now = self.clock()
        with self._lock:
            for window in self.windows:
                if not request.path.startswith(window.prefix):
                    continue
                while window.stamps and now - window.stamps[0] >= window.period:
                    window.stamps.popleft()
                if len(window.stamps) >= window.calls:
                    wait = window.period - (now - window.stamps[0])
                    self.throttled += 1
                    return json_response(
                        self.error_body(429), 429, self.throttle_headers(window, wait)
                    )
                window.stamps.append(now)
        return None

    def _route(self, request: Request) -> Response:
        adapter = self._rules.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return json_response(self.error_body(404), 404)
        except HTTPException as err:
            return json_response(self.error_body(err.code or 400), err.code or 400)
        return self._handlers[str(endpoint)](request, **args)


def page_slice(items: list[Any], start: int, size: int) -> tuple[list[Any], int | None]:
    """Items ``[start:start+size]`` and the next start (None at the end)."""
    chunk = items[start : start + size]
    nxt = start + size
    return chunk, (nxt if nxt < len(items) else None)


def parse_int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        number = default
    return max(low, min(high, number))


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
