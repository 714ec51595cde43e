"""The confirmation page: a small werkzeug WSGI app behind ``shadowit serve``.

Routes: ``GET /c/<token>`` shows one app to the one person its link was made for;
``POST /c/<token>`` records their answer; ``GET /healthz`` for a reverse proxy. A link that is
tampered with, expired, already used, or for a request that is no longer open gets the same
"this link is no longer valid" page with status 403 and no data.

CSRF: the page sets a random ``SameSite=Strict`` cookie and puts an HMAC of it (bound to the
request) in each form; a POST without both, or with a foreign ``Origin``, is refused with 400
or 403 and records nothing. Pages are never cached, never framed, load nothing from elsewhere
and send no Referer, so the link in the address bar does not leak.

werkzeug: https://werkzeug.palletsprojects.com/en/stable/wrappers/ and
https://werkzeug.palletsprojects.com/en/stable/routing/ ; OWASP CSRF cheat sheet (signed
double-submit cookie): https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from reports.confirm.links import LinkClaims, LinkSigner, redact_path, utcnow
from scanner import confirm
from scanner.config import Config
from scanner.errors import ShadowitError
from scanner.risk import ScopeTable
from scanner.store import Store

log = logging.getLogger(__name__)

CSRF_COOKIE = "shadowit_csrf"
MAX_USERS_SHOWN = 100
MAX_FORM_BYTES = 64 * 1024

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

_HIDDEN = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2069\ufeff]"
)


def _visible(value: Any) -> Any:
    """Each ``{{ value }}`` without control, bidi or zero-width characters: app names come from
    providers, and those characters would disguise which app a person is asked about."""
    if not isinstance(value, str):
        return value
    cleaned = _HIDDEN.sub("", value)
    if isinstance(value, Markup):  # escaped already; removing characters adds no markup
        return Markup(cleaned)  # noqa: S704
    return cleaned


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
        settings: confirm.ConfirmSettings,
        signer: LinkSigner,
        scopes: ScopeTable,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.settings = settings
        self.signer = signer
        self.scopes = scopes
        self.clock = clock
        self.secure_cookie = urlsplit(settings.link_base_url).scheme == "https"
        self.urls = Map(
            [
                Rule("/c/<token>", endpoint="link", methods=["GET", "POST"]),
                Rule("/healthz", endpoint="health", methods=["GET"]),
            ]
        )

    @classmethod
    def from_config(cls, config: Config, clock: Callable[[], datetime] | None = None) -> ConfirmApp:
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
        return cls(config, s, signer, scopes, clock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_form_memory_size = MAX_FORM_BYTES
        request.max_content_length = MAX_FORM_BYTES
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            if endpoint == "health":
                response = Response("ok\n", mimetype="text/plain")
            else:
                response = self.link(request, args["token"])
        except NotFound:
            response = self.message(404, "Not found", "There is nothing here.")
        except HTTPException as err:
            response = self.message(
                err.code or 400, "Request refused", err.description or "Bad request."
            )
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    # -- the link page ------------------------------------------------------------------
    def link(self, request: Request, token: str) -> Response:
        store = Store.open(self.config.store_path)
        try:
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
        log.info("recorded answer %s for %s (request %s)", form.answer, asked.app_name, asked.id)
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


class RedactingRequestHandler(WSGIRequestHandler):
    """Access log lines without the link: ``GET /c/<link> 200``."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, redact_path(self.path), code)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
        log.warning("request from %s failed", self.address_string())


def serve_forever(
    config: Config,
    host: str | None = None,
    port: int | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Run the page until interrupted; binds ``confirm.host`` (127.0.0.1) by default."""
    app = ConfirmApp.from_config(config)
    bind_host = host or app.settings.host
    bind_port = port or app.settings.port
    try:
        server = make_server(
            bind_host, bind_port, app, threaded=True, request_handler=RedactingRequestHandler
        )
    except OSError as err:
        raise ShadowitError(
            f"cannot listen on {bind_host}:{bind_port}: {err.strerror or err}; "
            "choose another --port or stop what uses it"
        ) from None
    say(
        f"Serving confirmation links on http://{bind_host}:{server.server_port} "
        f"(links point to {app.settings.link_base_url}); Ctrl-C stops."
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("Stopped.")
    finally:
        server.server_close()
