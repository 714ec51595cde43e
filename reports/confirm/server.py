"""The confirmation page: a small werkzeug WSGI app behind ``shadowit serve``.

Routes: ``GET /c/<token>`` shows one app to the one person its link was made for;
``POST /c/<token>`` records their answer; ``GET /healthz`` for a reverse proxy. A link that is
tampered with, expired, already used, or for a request that is no longer open gets the same
"this link is no longer valid" page with status 403 and no data.

CSRF: the page sets a random ``SameSite=Strict`` cookie and puts an HMAC of it (bound to the
request) in each form; a POST without both, or with a foreign ``Origin``, is refused with 400
or 403 and records nothing. Pages are never cached, never framed, load nothing from elsewhere
and send no Referer, so the link in the address bar does not leak.

``shadowit serve`` runs the app in waitress: idle connections are closed after
``confirm.idle_timeout`` seconds, a request line over ``confirm.max_request_line`` bytes gets
414, a request head over ``confirm.max_header_bytes`` gets 431, a body over the form limit
gets 413, and every answer, the server's own refusals included, carries the security headers.
While another process holds the store's write lock, an answer gets 503 with ``Retry-After``
and is not recorded; the person sends it again.

waitress settings: https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html
werkzeug: https://werkzeug.palletsprojects.com/en/stable/wrappers/ and
https://werkzeug.palletsprojects.com/en/stable/routing/ ; OWASP CSRF cheat sheet (signed
double-submit cookie): https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import BadRequest
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from reports.confirm.links import LinkClaims, LinkSigner, redact_path, utcnow
from scanner.analysis import confirm
from scanner.analysis.risk import ScopeTable
from scanner.core.config import Config, ConfirmSettings
from scanner.core.errors import ConfigError, ShadowitError, StoreError
from scanner.core.names import NAME_WIDTH, one_line, visible
from scanner.store.database import Store

log = logging.getLogger(__name__)

CSRF_COOKIE = "shadowit_csrf"
MAX_USERS_SHOWN = 100
MAX_FORM_BYTES = 64 * 1024
LOCK_WAIT_SECONDS = 5.0
"""How long an answer waits for a scan's write to the store before the person gets 503."""
RETRY_AFTER_SECONDS = 30
ACCESS_FIELD_WIDTH = 200
"""Characters of a method or path kept in an access line."""
DRAIN_BYTES = 1024 * 1024
"""At most this much of a refused request is read (and dropped) before its connection closes."""
"""What the 503 asks a browser to wait: a scan writes one page of records at a time."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

CHOICES = (
    ("mine", "Yes, my team owns it"),
    ("not_ours", "Not ours"),
    ("stopped", "We stopped using it"),
    ("sanction_request", "Please sanction it"),
)


def _visible(value: Any) -> Any:
    """Each ``{{ value }}`` with its control, bidi and zero-width characters shown as
    ``⟨U+202E⟩`` (``scanner.core.names.visible``): app names come from providers, and those
    characters would disguise which app a person is asked about, or put a NUL or ESC in the
    page."""
    if not isinstance(value, str):
        return value
    shown = visible(value)
    if isinstance(value, Markup):  # escaped already; the marks add no markup
        return Markup(shown)  # noqa: S704
    return shown


_TEMPLATES = Environment(
    loader=PackageLoader("reports.confirm", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_visible,
)


class ConfirmApp:
    """WSGI app answering confirmation links from the store at ``config.store_path``."""

    def __init__(
        self,
        config: Config,
        settings: ConfirmSettings,
        signer: LinkSigner,
        scopes: ScopeTable,
        clock: Callable[[], datetime] = utcnow,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.config = config
        self.settings = settings
        self.signer = signer
        self.scopes = scopes
        self.clock = clock
        self.lock_wait = lock_wait
        self.secure_cookie = urlsplit(settings.link_base_url).scheme == "https"
        self.urls = Map(
            [
                Rule("/c/<token>", endpoint="link", methods=["GET", "POST"]),
                Rule("/healthz", endpoint="health", methods=["GET"]),
            ]
        )

    @classmethod
    def from_config(
        cls,
        config: Config,
        clock: Callable[[], datetime] | None = None,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> ConfirmApp:
        s = confirm.settings(config)
        if not config.store_path.exists():
            raise ShadowitError(
                f"{config.store_path}: no inventory yet; run `shadowit scan --config "
                f"{config.file}` and `shadowit confirm send` first"
            )
        clock = clock or utcnow
        signer = LinkSigner(confirm.signing_key(s, config), s.expiry_days, clock)
        scopes_file = config.catalog.scopes_file
        scopes = ScopeTable.load(config.path(scopes_file) if scopes_file else None)
        return cls(config, s, signer, scopes, clock, lock_wait)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_form_memory_size = MAX_FORM_BYTES
        request.max_content_length = MAX_FORM_BYTES
        try:
            response = self.route(request, environ)
        except Exception:
            # A bug: its traceback goes to the log (under the redacted path, never the
            # token), and the person gets a plain page with the same headers as any other.
            log.exception(
                "%s %s failed", one_line(request.method), one_line(redact_path(request.path))
            )
            response = self.message(
                500,
                "Something went wrong",
                "Your answer may not have been recorded. "
                "Please open the link from your email again in a few minutes.",
            )
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    def route(self, request: Request, environ: dict[str, Any]) -> Response:
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            if endpoint == "health":
                return Response("ok\n", mimetype="text/plain")
            return self.link(request, args["token"])
        except NotFound:
            return self.message(404, "Not found", "There is nothing here.")
        except MethodNotAllowed as err:
            response = self.message(405, "Request refused", "This page does not take that.")
            response.headers["Allow"] = ", ".join(err.valid_methods or ())
            return response
        except HTTPException as err:
            return self.message(
                err.code or 400, "Request refused", err.description or "Bad request."
            )
        except (sqlite3.OperationalError, StoreError) as err:
            return self.busy(request, err)

    # -- the link page ------------------------------------------------------------------
    def link(self, request: Request, token: str) -> Response:
        store = Store.open(self.config.store_path)
        try:
            # A scan writes a page of records per transaction; an answer waits at most this
            # long for it rather than the store's own 10 s, then gets 503 and is sent again.
            store.set_busy_timeout(max(0, int(self.lock_wait * 1000)))
            asked = self._open_request(store, token)
            if asked is None:
                return self.invalid()
            if request.method == "POST":
                return self.answer(store, request, asked)
            return self.page(store, request, asked)
        finally:
            store.close()

    def _open_request(self, store: Store, token: str) -> confirm.ConfirmRequest | None:
        claims: LinkClaims | None = self.signer.verify(token)
        if claims is None:
            return None
        asked = confirm.request(store, claims.request_id)
        if (
            asked is None
            or asked.status != "pending"
            or asked.app_key != claims.app_key
            or not claims.for_owner(asked.owner)
        ):
            return None
        return asked

    def page(
        self,
        store: Store,
        request: Request,
        asked: confirm.ConfirmRequest,
        error: str | None = None,
        form: confirm.FormAnswer | None = None,
        status: int = 200,
    ) -> Response:
        nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        facts = confirm.app_facts(store, asked.app_key)
        users = [u for u in (facts.users if facts else ()) if confirm.is_email(u)]
        body = _TEMPLATES.get_template("page.html.j2").render(
            organisation=self.config.organisation.name,
            asked=asked,
            app=facts,
            access=_plain_access(facts, self.scopes),
            users=users[:MAX_USERS_SHOWN],
            more_users=max(0, len(facts.users if facts else ()) - min(len(users), MAX_USERS_SHOWN)),
            csrf=self.signer.csrf(nonce, asked.id),
            choices=CHOICES,
            error=error,
            form=form,
            max_text=confirm.MAX_TEXT,
        )
        response = Response(body, status=status, mimetype="text/html")
        if request.cookies.get(CSRF_COOKIE) != nonce:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                path="/c/",
                httponly=True,
                secure=self.secure_cookie,
                samesite="Strict",
            )
        return response

    def answer(self, store: Store, request: Request, asked: confirm.ConfirmRequest) -> Response:
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            log.info("refused a cross-site answer for request %s", asked.id)
            return self.message(
                403, "Request refused", "This form can only be sent from its own page."
            )
        if not self.signer.csrf_ok(
            request.cookies.get(CSRF_COOKIE), asked.id, request.form.get("csrf")
        ):
            return self.message(
                400,
                "Please try again",
                "The form was not sent from this page, or your browser blocked its cookie. "
                "Open the link from your email again and answer once more.",
            )
        form = confirm.FormAnswer(
            answer=request.form.get("answer", ""),
            purpose=request.form.get("purpose"),
            data_held=request.form.get("data_held"),
            renewal=request.form.get("renewal"),
            suggested_owner=request.form.get("suggested_owner"),
            note=request.form.get("note"),
        )
        try:
            attestation = confirm.validate_answer(form, asked, self.config.organisation)
        except confirm.AnswerError as err:
            return self.page(store, request, asked, str(err), form, status=400)
        outcome = confirm.record_answer(
            store, attestation, self.clock(), self.settings.fallback_owner
        )
        if outcome is None:
            return self.invalid()
        log.info(
            "recorded answer %s for %s (request %s)",
            form.answer,
            one_line(asked.app_name, NAME_WIDTH),
            asked.id,
        )
        body = _TEMPLATES.get_template("done.html.j2").render(
            organisation=self.config.organisation.name,
            app_name=asked.app_name,
            answer=outcome.attestation.answer,
            rerouted_to=outcome.rerouted_to,
        )
        return Response(body, mimetype="text/html")

    # -- plain pages --------------------------------------------------------------------
    def invalid(self) -> Response:
        return self.message(
            403,
            "This link is no longer valid",
            "It may have been used already, have expired, or be incomplete. If IT still "
            "needs your answer, they will send you a new link.",
        )

    def busy(self, request: Request, err: sqlite3.OperationalError | StoreError) -> Response:
        """503 while the store cannot be written (another process holds its write lock)."""
        if isinstance(err, sqlite3.OperationalError) and not _locked(err):
            raise err
        log.warning(
            "%s %s: the inventory is busy (%s); answered 503",
            one_line(request.method),
            one_line(redact_path(request.path)),
            "locked by another process" if _locked(err) else type(err).__name__,
        )
        response = self.message(
            503,
            "Please try again in a minute",
            "The inventory is being updated right now, so your answer was not recorded yet. "
            "Go back, wait a minute and send it again; your link still works.",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def message(self, status: int, title: str, text: str) -> Response:
        body = _TEMPLATES.get_template("message.html.j2").render(
            organisation=self.config.organisation.name, title=title, text=text
        )
        return Response(body, status=status, mimetype="text/html")


def _plain_access(facts: confirm.AppFacts | None, table: ScopeTable) -> list[tuple[str, list[str]]]:
    """(meaning, [scopes]) per distinct plain-words meaning, most sensitive first."""
    if facts is None:
        return []
    grouped: dict[str, list[str]] = {}
    for _level, meaning, scope in facts.access(table):
        grouped.setdefault(meaning, []).append(scope)
    return list(grouped.items())


def _locked(err: BaseException) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


# -- serving ------------------------------------------------------------------------------
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
            ident="shadowit",
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
        log.info("- - %s refused: %s", self.request.error.code, one_line(self.request.error.reason))
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
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.stopping = threading.Event()
        super().__init__(AccessLog(app), adj=limits.adjustments(host, port))

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
        """Answer requests until ``stop()``; then close every connection and the socket."""
        try:
            while not self.stopping.is_set() and self._map:
                wasyncore.loop(
                    timeout=self.adj.asyncore_loop_timeout,
                    map=self._map,
                    use_poll=self.adj.asyncore_use_poll,
                    count=1,
                )
        finally:
            self.task_dispatcher.shutdown()
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
) -> ConfirmServer:
    waitress_log = logging.getLogger("waitress")
    if not any(isinstance(f, RedactLinks) for f in waitress_log.filters):
        waitress_log.addFilter(RedactLinks())
    try:
        return ConfirmServer(app, limits, host, port, clock)
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
) -> None:
    """Run the page until interrupted; binds ``confirm.host`` (127.0.0.1) by default."""
    app = ConfirmApp.from_config(config)
    where = f" ({config.file})" if config.file else ""
    limits = ServeLimits.from_settings(app.settings, where)
    bind_host = host or app.settings.host
    bind_port = port or app.settings.port
    server = create_server(app, limits, bind_host, bind_port)
    say(
        f"Serving confirmation links on http://{bind_host}:{server.port} "
        f"(links point to {app.settings.link_base_url}); Ctrl-C stops."
    )
    try:
        server.run()
    except KeyboardInterrupt:
        say("Stopped.")
