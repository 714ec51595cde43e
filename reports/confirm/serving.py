"""``shadowit serve``: the confirmation page in waitress, with limits fit for the open web.

Idle connections are closed after ``confirm.idle_timeout`` seconds, a request line over
``confirm.max_request_line`` bytes gets 414, a request head over ``confirm.max_header_bytes``
gets 431, a body over the form limit gets 413, and every answer, the server's own refusals
included, carries the security headers and no ``Server`` header (nothing names the server or
its version). One access line per request, never the link's token. SIGTERM (systemd, a
Kubernetes pod's end) stops it as Ctrl-C does: no new connection is taken, the requests being
answered finish (for up to ``SHUTDOWN_SECONDS``), and the command exits 0.

waitress settings: https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html
"""

from __future__ import annotations

import functools
import logging
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import BadRequest

from reports.confirm.links import redact_path
from reports.confirm.server import MAX_FORM_BYTES, SECURITY_HEADERS, ConfirmApp
from scanner.core.config import Config, ConfirmSettings
from scanner.core.errors import ConfigError, ShadowitError
from scanner.core.names import one_line

ACCESS_LOGGER = "reports.confirm.server"
log = logging.getLogger(ACCESS_LOGGER)
"""The access log keeps the logger name operators already filter on."""

ACCESS_FIELD_WIDTH = 200
"""Characters of a method or path kept in an access line."""
DRAIN_BYTES = 1024 * 1024
"""At most this much of a refused request is read (and dropped) before its connection closes."""
SHUTDOWN_SECONDS = 5
"""How long a stop waits for the requests being answered (waitress's own shutdown timeout)."""
STOP_SIGNALS = (signal.SIGTERM,)
"""Signals that stop ``serve_forever`` gracefully; SIGINT arrives as KeyboardInterrupt."""


@dataclass(frozen=True)
class ServeLimits:
    """What one connection may cost ``shadowit serve``: the ``[confirm]`` serving settings."""

    threads: int = 4
    """waitress's default: a confirmation page answers one person at a time."""
    idle_timeout: int = 30
    """Seconds; waitress's own default (120) lets a slow client hold a thread's socket long."""
    max_request_line: int = 8 * 1024
    """RFC 9112 section 3 asks servers to accept request lines of at least 8000 octets
    (https://www.rfc-editor.org/rfc/rfc9112#section-3); a link is about 200."""
    max_header_bytes: int = 32 * 1024
    """Request line and headers; a browser sends a few KiB (cookies included)."""
    max_body_bytes: int = MAX_FORM_BYTES

    @classmethod
    def from_settings(cls, s: ConfirmSettings, where: str = "") -> ServeLimits:
        limits = cls(
            threads=s.threads,
            idle_timeout=s.idle_timeout,
            max_request_line=s.max_request_line,
            max_header_bytes=s.max_header_bytes,
        )
        for key in ("threads", "idle_timeout", "max_request_line", "max_header_bytes"):
            if getattr(limits, key) < 1:
                raise ConfigError(f"confirm.{key}: must be 1 or more{where}")
        if limits.max_request_line > limits.max_header_bytes:
            raise ConfigError(
                f"confirm.max_request_line: must not exceed confirm.max_header_bytes "
                f"({limits.max_header_bytes}){where}"
            )
        return limits

    def adjustments(self, host: str, port: int) -> Adjustments:
        return Adjustments(
            host=host,
            port=port,
            threads=self.threads,
            channel_timeout=self.idle_timeout,
            # Idle connections are looked for this often; the default 30 s would let one
            # outlive a short idle_timeout by up to half a minute.
            cleanup_interval=max(1, min(30, self.idle_timeout // 2)),
            max_request_header_size=self.max_header_bytes,
            # waitress refuses a body of max_request_body_size bytes or more.
            max_request_body_size=self.max_body_bytes + 1,
            # waitress sends its ident as the Server header (and in its own error pages); empty,
            # no Server header goes out at all: nothing tells a scanner what runs here.
            ident="",
            expose_tracebacks=False,
        )


class AccessLog:
    """WSGI middleware writing one access line per request through our logger:
    ``GET /c/<link> 200``; never the token, never the query string."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status: list[str] = []

        def recording(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, recording)
        finally:
            # waitress hands over the path percent-decoded: %0d%0a would forge a line.
            log.info(
                "%s %s %s",
                one_line(environ.get("REQUEST_METHOD", "-"), ACCESS_FIELD_WIDTH),
                one_line(redact_path(str(environ.get("PATH_INFO", ""))), ACCESS_FIELD_WIDTH),
                status[-1] if status else "-",
            )


class UriTooLong(BadRequest):
    code = 414
    reason = "URI Too Long"


class _Parser(HTTPRequestParser):
    """waitress's parser, plus a 414 for a request line over ``line_limit`` bytes (waitress
    itself answers 431 only once the whole head passes ``max_request_header_size``)."""

    completed: bool

    def __init__(self, adj: Adjustments, line_limit: int) -> None:
        super().__init__(adj)
        self.line_limit = line_limit
        self.line_head = b""
        self.line_open = True

    def received(self, data: bytes) -> int:
        if self.line_open and not self.completed:
            # Blank lines before a request are allowed (RFC 9112 section 2.2).
            head = (self.line_head + data[: self.line_limit + 2]).lstrip(b"\r\n")
            end = head.find(b"\n")
            if end >= 0:
                self.line_open = False
            if (end if end >= 0 else len(head)) > self.line_limit:
                self.parse_header(b"GET / HTTP/1.0\r\n")
                self.error = UriTooLong(f"the request line exceeds {self.line_limit} bytes")
                self.completed = True
                return len(data)
            self.line_head = head
        consumed: int = super().received(data)
        return consumed


class _ErrorTask(ErrorTask):
    """waitress's own refusals (400, 413, 414, 431, 501) with our security headers."""

    def execute(self) -> None:
        self.response_headers.extend(SECURITY_HEADERS.items())
        if self.channel.server.access_log:
            log.info(
                "- - %s refused: %s", self.request.error.code, one_line(self.request.error.reason)
            )
        super().execute()


class _Channel(HTTPChannel):
    error_task_class = _ErrorTask

    def __init__(self, server: ConfirmServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.parser_class = functools.partial(_Parser, line_limit=server.limits.max_request_line)

    def handle_close(self) -> None:
        # Closing a socket with unread bytes makes the kernel send a reset, which can destroy
        # the answer still on its way to the client (the 414 of an over-long request): end
        # our side first, then read what the client has already sent.
        self._drain()
        super().handle_close()

    def _drain(self) -> None:
        if self.socket is None:
            return
        left = DRAIN_BYTES
        try:
            self.socket.shutdown(socket.SHUT_WR)
            while left > 0 and (chunk := self.socket.recv(min(65536, left))):
                left -= len(chunk)
        except OSError:  # BlockingIOError: nothing more has arrived; or the client is gone
            return


class ConfirmServer(TcpWSGIServer):
    """waitress on one address, stoppable from another thread (``stop()``); ``clock`` is
    what idle connections are timed against."""

    channel_class = _Channel
    next_channel_cleanup: float

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        limits: ServeLimits,
        host: str,
        port: int,
        clock: Callable[[], float] = time.time,
        access_log: bool = True,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.access_log = access_log
        self.stopping = threading.Event()
        super().__init__(AccessLog(app) if access_log else app, adj=limits.adjustments(host, port))

    @property
    def port(self) -> int:
        return int(self.effective_port)

    def readable(self) -> bool:
        # waitress looks for idle connections on the wall clock; ours reads self.clock.
        now = self.clock()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = now + self.adj.cleanup_interval
            self.maintenance(now)
        return bool(super().readable())

    def maintenance(self, now: float) -> None:
        super().maintenance(self.clock())

    def run(self) -> None:
        """Answer requests until ``stop()``; then let the threads finish the answers under way
        (they send them themselves; waitress waits up to ``SHUTDOWN_SECONDS`` for them), and
        close every connection and the socket."""
        try:
            while not self.stopping.is_set() and self._map:
                wasyncore.loop(
                    timeout=self.adj.asyncore_loop_timeout,
                    map=self._map,
                    use_poll=self.adj.asyncore_use_poll,
                    count=1,
                )
        finally:
            self.task_dispatcher.shutdown(timeout=SHUTDOWN_SECONDS)
            wasyncore.close_all(self._map)

    def stop(self) -> None:
        self.stopping.set()
        self.pull_trigger()


class RedactLinks(logging.Filter):
    """waitress names the request path in its own log lines ("Client disconnected while
    serving /c/..."): the token is replaced there as in ours."""

    LINK = re.compile(r"/c/[^\s?#]+(?:\?\S*)?")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/c/" in message:
            record.msg, record.args = self.LINK.sub("/c/<link>", message), None
        return True


def create_server(
    app: Callable[..., Iterable[bytes]],
    limits: ServeLimits,
    host: str,
    port: int,
    clock: Callable[[], float] = time.time,
    access_log: bool = True,
) -> ConfirmServer:
    waitress_log = logging.getLogger("waitress")
    if not any(isinstance(f, RedactLinks) for f in waitress_log.filters):
        waitress_log.addFilter(RedactLinks())
    try:
        return ConfirmServer(app, limits, host, port, clock, access_log)
    except OSError as err:
        raise ShadowitError(
            f"cannot listen on {host}:{port}: {err.strerror or err}; "
            "choose another --port or stop what uses it"
        ) from None


def serve_forever(
    config: Config,
    host: str | None = None,
    port: int | None = None,
    say: Callable[[str], None] = print,
    access_log: bool = True,
) -> None:
    """Run the page until SIGTERM or Ctrl-C; binds ``confirm.host`` (127.0.0.1) by default,
    ``port`` 0 a free port (the announced line names it)."""
    app = ConfirmApp.from_config(config)
    where = f" ({config.file})" if config.file else ""
    limits = ServeLimits.from_settings(app.settings, where)
    bind_host = host or app.settings.host
    bind_port = app.settings.port if port is None else port
    server = create_server(app, limits, bind_host, bind_port, access_log=access_log)
    say(
        f"Serving confirmation links on http://{bind_host}:{server.port} "
        f"(links point to {app.settings.link_base_url}); Ctrl-C or SIGTERM stops."
    )
    try:
        with _stopped_by_signals(server):
            server.run()
    except KeyboardInterrupt:
        pass
    say("Stopped.")


@contextmanager
def _stopped_by_signals(server: ConfirmServer) -> Iterator[None]:
    """While serving, SIGTERM asks the server to stop (it finishes the requests it is
    answering) instead of killing the process mid-answer. Only the main thread may set
    signal handlers; elsewhere (a test's thread) the server is stopped with ``stop()``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        server.stop()

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
