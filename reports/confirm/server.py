"""The confirmation page: a small werkzeug WSGI app behind ``shadowit serve``.

Routes: ``GET /c/<token>`` shows one app to the one person its link was made for;
``POST /c/<token>`` records their answer; ``GET /healthz`` for a reverse proxy. A link that is
tampered with, expired, already used, or for a request that is no longer open gets the same
"this link is no longer valid" page with status 403 and no data.

CSRF: the page sets a random ``SameSite=Strict`` cookie and puts an HMAC of it (bound to the
request) in each form; a POST without both, or with a foreign ``Origin``, is refused with 400
or 403 and records nothing. Pages are never cached, never framed, load nothing from elsewhere
and send no Referer, so the link in the address bar does not leak.

``shadowit serve`` runs the app in waitress (``reports.confirm.serving``). While another
process holds the store's write lock, an answer gets 503 with ``Retry-After``
and is not recorded; the person sends it again.

werkzeug: https://werkzeug.palletsprojects.com/en/stable/wrappers/ and
https://werkzeug.palletsprojects.com/en/stable/routing/ ; OWASP CSRF cheat sheet (signed
double-submit cookie): https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from reports.confirm.access import app_access
from reports.confirm.links import LinkClaims, LinkSigner, redact_path, utcnow
from scanner.analysis import confirm
from scanner.analysis.risk import ScopeTable
from scanner.core.config import Config, ConfirmSettings
from scanner.core.errors import ShadowitError, StoreError
from scanner.core.names import NAME_WIDTH, is_email, one_line, visible
from scanner.core.words import label, plural
from scanner.store.database import Store

log = logging.getLogger(__name__)

CSRF_COOKIE = "shadowit_csrf"
MAX_USERS_SHOWN = 100
MAX_FORM_BYTES = 64 * 1024
LOCK_WAIT_SECONDS = 5.0
"""How long an answer waits for a scan's write to the store before the person gets 503."""
RETRY_AFTER_SECONDS = 30
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

CHOICES = tuple((code, label("answer", code)) for code in confirm.ANSWERS)
"""(answer code, the words on its button); the code is only ever a form value."""


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
            or not self.signer.made_for(claims, asked.owner)
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
        everyone = facts.users if facts else ()
        users = [u for u in everyone if is_email(u)]
        access = app_access(store, asked.app_key, self.scopes)
        body = _TEMPLATES.get_template("page.html.j2").render(
            organisation=self.config.organisation.name,
            asked=asked,
            app=facts,
            access=access,
            risky=[line for line in access if line.high_risk],
            users=users[:MAX_USERS_SHOWN],
            users_count=plural(len(everyone), "person", "people"),
            more_users=max(0, len(everyone) - min(len(users), MAX_USERS_SHOWN)),
            chosen=form.answer if form else None,
            answer_codes=confirm.ANSWERS,
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
            answer_words=label("answer", outcome.attestation.answer),
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


def _locked(err: BaseException) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text
