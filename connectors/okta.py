"""Okta: SSO apps, who is assigned to them, the directory, and System Log sign-ins and consents.

Streams (all read-only, each behind one OAuth scope):

- ``users``   ``GET /api/v1/users`` (``okta.users.read``): department, title, status.
- ``apps``    ``GET /api/v1/apps`` (``okta.apps.read``): one RawApp per app integration.
- ``grants``  ``GET /api/v1/apps/{id}/users`` (``okta.apps.read``): one Grant per assigned user, so
  the users of an SSO app are counted even when they never signed in during the lookback.
- ``signins`` ``GET /api/v1/logs`` (``okta.logs.read``): ``user.authentication.sso`` events become
  SignIns, OAuth consent events become Grants.

Auth is an API token (``Authorization: SSWS ...``) or an OAuth 2.0 service app that signs a
private-key JWT (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/);
``private_key_jwt`` is the only client authentication Okta accepts for Okta-scoped tokens.

Paging follows ``Link: <...>; rel="next"`` (https://developer.okta.com/docs/api/#pagination).
Rate limits come back on every answer as ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset``
(reset in UTC epoch seconds, https://developer.okta.com/docs/reference/rl2-monitor/): when the
remaining share falls under ``slowdown_remaining`` we wait for the reset before the next request
to that endpoint family, and a 429 (``E0000047``) waits until the reset (``scanner.net.http``).
"""

from __future__ import annotations

import email.utils
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connectors.base import ConnectorContext, ConnectorSpec, Probe, transport_policy
from connectors.tokens import answer_problem, not_a_token_answer
from scanner.core.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    PermissionMissing,
    ResponseShapeError,
)
from scanner.core.models import (
    Checkpoint,
    Grant,
    RawApp,
    SignIn,
    Skipped,
    SourceRecord,
    SourceWarning,
    User,
)
from scanner.core.names import one_line
from scanner.core.settings import secret
from scanner.net.http import (
    HttpClient,
    HttpStatusError,
    RateLimiter,
    new_session,
)
from scanner.net.paging import link_pages

log = logging.getLogger(__name__)

SOURCE = "okta"
READ_SCOPES = ("okta.apps.read", "okta.users.read", "okta.logs.read")

# Page sizes: the documented maximum of each list call
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/,
# .../tag/ApplicationUsers/, .../tag/User/, .../tag/SystemLog/).
APPS_PAGE = 200
APP_USERS_PAGE = 500
USERS_PAGE = 200
LOGS_PAGE = 1000

# The System Log keeps 90 days; a `since` older than 180 days is refused with E0000053
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/SystemLog/).
LOG_RETENTION_DAYS = 90

SSO_EVENT = "user.authentication.sso"
""""A user attempts a Single Sign-On (SSO) to an application managed in Okta"
(https://developer.okta.com/docs/reference/api/event-types/)."""
CONSENT_EVENTS = {
    # A user consents to an app's scopes on a custom authorization server
    # (https://help.okta.com/en-us/content/topics/workflows/connector-reference/okta/events/oauth2appconsentgranted.htm).
    "app.oauth2.as.consent.grant": "user",
    # An admin grants an app Okta API scopes on the org authorization server (event type catalog,
    # https://developer.okta.com/docs/reference/api/event-types/).
    "app.oauth2.admin.consent.grant": "admin",
}
LOG_FILTER = " or ".join(f'eventType eq "{t}"' for t in (SSO_EVENT, *CONSENT_EVENTS))

# signOnMode -> RawApp.kind (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/)
_SAML_MODES = {"SAML_2_0", "SAML_1_1", "WS_FEDERATION"}
_OAUTH_MODES = {"OPENID_CONNECT"}
# User statuses that can no longer sign in
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/).
_DISABLED_STATUSES = {"DEPROVISIONED", "SUSPENDED"}
# Hosts that belong to Okta itself, never to the app behind an integration.
_OKTA_HOST_SUFFIXES = (".okta.com", ".oktapreview.com", ".okta-emea.com", ".oktacdn.com")

# Error codes (https://developer.okta.com/docs/reference/error-codes/).
INVALID_CREDENTIAL_CODE = "E0000011"
NO_PERMISSION_CODE = "E0000006"


@dataclass(frozen=True)
class OktaSettings:
    """``[sources.okta]``: the org, and either an API token or an OAuth service app."""

    org_url: str
    """``https://acme.okta.com`` (not the ``-admin`` URL)."""
    enabled: bool = True
    token_env: str | None = None
    """Environment variable holding an API token (sent as ``SSWS``)."""
    token_file: str | None = None
    client_id: str | None = None
    """OAuth service app client id; with ``private_key_env`` or ``private_key_file``."""
    private_key_env: str | None = None
    """Environment variable holding the service app's private key (PEM or JWK JSON)."""
    private_key_file: str | None = None
    key_id: str | None = None
    """``kid`` of the key registered on the service app, when it has several."""
    scopes: tuple[str, ...] = READ_SCOPES
    ca_bundle: str | None = None
    lookback_days: int = 30
    """First scan (or ``--full``): read this many days of System Log (Okta keeps 90)."""
    slowdown_remaining: float = 0.1
    """Wait for the rate-limit reset once fewer than this share of calls remain."""
    concurrency: int = 4
    """App-user listings fetched in parallel (Okta's org concurrency limit is 75)."""
    timeout: float = 60.0
    """Seconds to wait for a connection and for each read of an answer."""
    deadline_hours: float = 4.0
    """The source ends ``failed`` after this long, keeping what it collected."""
    max_response_mib: int = 64
    """The largest single answer accepted (a page of 1,000 Graph sign-ins is about 1.5 MiB)."""


# -- auth -----------------------------------------------------------------------------------


class TokenAuth:
    """``Authorization: SSWS <token>`` (https://developer.okta.com/docs/api/#authentication)."""

    def __init__(self, token: str, origin: str) -> None:
        self._token = token
        self.origin = origin
        """Where the token came from, for messages: the env var or file name."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"SSWS {self._token}"}

    def describe(self) -> str:
        return f"the API token in {self.origin}"


class ServiceAppAuth:
    """Client credentials with a private-key JWT at the org authorization server.

    https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/ : POST
    ``/oauth2/v1/token`` with ``grant_type=client_credentials``, the scopes, and a
    ``client_assertion`` signed by the app's key (``iss`` = ``sub`` = client id, ``aud`` = the
    token URL, at most one hour of lifetime). The token is cached until shortly before it expires.
    """

    ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ASSERTION_LIFETIME = 300
    EXPIRY_MARGIN = 60

    def __init__(
        self,
        org_url: str,
        client_id: str,
        key: Any,
        algorithm: str,
        key_id: str | None,
        scopes: tuple[str, ...],
        client: HttpClient,
        origin: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url = f"{org_url}/oauth2/v1/token"
        self.org_url = org_url
        self.client_id = client_id
        self._key = key
        self._algorithm = algorithm
        self._key_id = key_id
        self.scopes = scopes
        self._client = client
        self.origin = origin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def describe(self) -> str:
        return f"the access token of service app {self.client_id}"

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._clock() > self._expires - self.EXPIRY_MARGIN:
                self._token, lifetime = self._fetch_token()
                self._expires = self._clock() + lifetime
            return {"Authorization": f"Bearer {self._token}"}

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + self.ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(self.scopes),
            "client_assertion_type": self.ASSERTION_TYPE,
            "client_assertion": self._assertion(),
        }
        try:
            response = self._client.request(
                "POST", self.token_url, data=form, headers={"Accept": "application/json"}
            )
        except HttpStatusError as err:
            self._check_answer(err.response)  # a proxy's HTML 403 is not Okta refusing
            raise self._token_error(err) from None
        self._check_answer(response)
        body = response.json()
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return body["access_token"], lifetime

    def _check_answer(self, response: requests.Response) -> None:
        """Raise one line naming the org when the answer is no token (an HTML page, empty...)."""
        status = response.status_code
        problem = answer_problem(status, response.headers.get("Content-Type"), response.content)
        if problem is not None:
            raise not_a_token_answer(
                SOURCE, self.token_url, status, problem, "sources.okta.org_url"
            )

    def _token_error(self, err: HttpStatusError) -> AuthError:
        body = err.body if isinstance(err.body, dict) else {}
        code = one_line(body.get("error") or f"HTTP {err.status}", 100)
        detail = one_line(str(body.get("error_description") or "").strip(), 200)
        if code == "invalid_scope":
            fix = (
                f"grant the scopes {', '.join(self.scopes)} on the app's 'Okta API Scopes' tab, "
                "or narrow sources.okta.scopes"
            )
        elif code == "invalid_client":
            fix = (
                f"check sources.okta.client_id and that the public key of the key in "
                f"{self.origin} is registered on the app (Public key / Private key)"
            )
        else:
            fix = "check the service app's client authentication (Public key / Private key)"
        return AuthError(
            SOURCE,
            f"{self.org_url} refused a token for service app {self.client_id} "
            f"({code}{': ' + detail if detail else ''}); {fix}",
        )


Auth = TokenAuth | ServiceAppAuth


def build_auth(settings: OktaSettings, context: ConnectorContext, token_client: HttpClient) -> Auth:
    """Read the configured secret and return the matching auth, or raise ConfigError."""
    key_path = "sources.okta"
    config_file = context.config_path
    where = f" ({config_file})" if config_file else ""
    if settings.token_env or settings.token_file:
        token = secret(settings.token_env, settings.token_file, f"{key_path}.token", config_file)
        assert token is not None
        origin = settings.token_env or str(context.resolve_path(settings.token_file or ""))
        return TokenAuth(token, origin)
    if settings.client_id:
        pem = secret(
            settings.private_key_env,
            settings.private_key_file,
            f"{key_path}.private_key",
            config_file,
        )
        assert pem is not None
        origin = settings.private_key_env or str(
            context.resolve_path(settings.private_key_file or "")
        )
        key, algorithm, kid = load_private_key(pem, f"{key_path}.private_key", where)
        return ServiceAppAuth(
            settings.org_url,
            settings.client_id,
            key,
            algorithm,
            settings.key_id or kid,
            settings.scopes,
            token_client,
            origin,
        )
    raise ConfigError(
        f"{key_path}: set token_env (or token_file) for an API token, or client_id with "
        f"private_key_env (or private_key_file) for an OAuth service app{where}"
    )


def load_private_key(text: str, key: str, where: str) -> tuple[Any, str, str | None]:
    """A PEM or JWK private key -> (key object, JWS algorithm, kid from the JWK)."""
    kid: str | None = None
    try:
        if text.lstrip().startswith("{"):
            jwk = jwt.PyJWK.from_json(text)
            private = jwk.key
            kid = jwk.key_id
        else:
            private = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, jwt.PyJWTError) as err:
        raise ConfigError(
            f"{key}: not an unencrypted PEM or JWK private key ({type(err).__name__}); "
            f"export the service app's private key without a passphrase{where}"
        ) from None
    if isinstance(private, rsa.RSAPrivateKey):
        return private, "RS256", kid
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private, "ES256", kid
    raise ConfigError(f"{key}: Okta service apps sign with RSA or EC keys{where}")


# -- pacing ---------------------------------------------------------------------------------


class ResetPacer(RateLimiter):
    """A limiter driven by Okta's headers instead of a fixed window.

    ``observe()`` reads ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` from each successful
    answer; once ``Remaining / Limit`` is under ``share``, the next ``acquire()`` sleeps until
    the reset. The reset is measured against the answer's ``Date`` header when there is one, so
    a skewed local clock does not stretch or skip the wait
    (https://developer.okta.com/docs/reference/rl2-monitor/).
    """

    MAX_WAIT = 65.0
    """Counters reset every 60 s; never wait longer than one window plus slack."""

    def __init__(
        self,
        share: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(1, 1.0, clock=clock, sleep=sleep)
        self.share = share
        self._resume_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        try:
            limit = int(headers["X-Rate-Limit-Limit"])
            remaining = int(headers["X-Rate-Limit-Remaining"])
            reset = float(headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError):
            return
        if limit <= 0 or remaining / limit >= self.share:
            return
        server_now = _http_date(headers.get("Date")) or self._clock()
        wait = min(self.MAX_WAIT, max(0.0, reset - server_now))
        with self._lock:
            self._resume_at = self._clock() + wait
        log.info(
            "okta: %d of %d calls left; pausing %.0f s before the next one", remaining, limit, wait
        )

    def acquire(self) -> float:
        with self._lock:
            resume_at, self._resume_at = self._resume_at, None
        if resume_at is None:
            return 0.0
        wait = resume_at - self._clock()
        if wait <= 0:
            return 0.0
        self._sleep(wait)
        return wait


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def pace_group(url: str) -> str | None:
    """The rate-limit family of a URL: Okta counts apps, users and logs separately."""
    path = urlsplit(url).path
    for group in ("apps", "users", "logs"):
        if path.startswith(f"/api/v1/{group}"):
            return group
    return None


# -- parsing (pure) -------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """Okta timestamps: ``2024-01-31T18:25:01.000Z``."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the System Log takes ``since`` / ``until``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _host(url: Any) -> str | None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    host = (urlsplit(url).hostname or "").lower()
    if not host or host.endswith(_OKTA_HOST_SUFFIXES) or "{" in host:
        return None
    return host


def app_kind(sign_on_mode: str | None) -> str:
    if sign_on_mode in _SAML_MODES:
        return "saml"
    if sign_on_mode in _OAUTH_MODES:
        return "oauth"
    return "sso"


def parse_app(raw: Mapping[str, Any]) -> RawApp:
    """One ``/api/v1/apps`` item -> RawApp. Domains come from the app's own URLs."""
    settings = raw.get("settings") or {}
    app_settings = settings.get("app") or {}
    oauth = settings.get("oauthClient") or {}
    urls: list[Any] = [v for v in app_settings.values() if isinstance(v, str)]
    reply_urls = tuple(u for u in oauth.get("redirect_uris") or () if isinstance(u, str))
    urls += [oauth.get("client_uri"), oauth.get("initiate_login_uri"), *reply_urls]
    domains = tuple(dict.fromkeys(h for h in map(_host, urls) if h))
    homepage = next(
        (u for u in urls if isinstance(u, str) and _host(u)),
        None,
    )
    name = raw.get("name")
    return RawApp(
        source=SOURCE,
        client_id=raw["id"],
        name=raw.get("label") or name or raw["id"],
        kind=app_kind(raw.get("signOnMode")),
        homepage=homepage,
        reply_urls=reply_urls,
        domains=domains,
        enabled=raw.get("status") == "ACTIVE",
        created=parse_time(raw.get("created")),
        tags=(f"okta:{name}",) if name else (),
    )


def parse_app_user(app_id: str, raw: Mapping[str, Any]) -> Grant:
    """One ``/api/v1/apps/{id}/users`` item -> an SSO Grant (no OAuth scopes)."""
    profile = raw.get("profile") or {}
    credentials = raw.get("credentials") or {}
    embedded = (raw.get("_embedded") or {}).get("user") or {}
    email = (
        profile.get("email")
        or (embedded.get("profile") or {}).get("email")
        or _email_or_none(credentials.get("userName"))
    )
    return Grant(
        source=SOURCE,
        client_id=app_id,
        user_id=raw["id"],
        scopes=(),
        consent_type="user",
        resource="Okta",
        granted_at=parse_time(raw.get("created")),
        user_email=email or None,
    )


def parse_user(raw: Mapping[str, Any]) -> User:
    """One ``/api/v1/users`` item -> User."""
    profile = raw.get("profile") or {}
    full_name = " ".join(p for p in (profile.get("firstName"), profile.get("lastName")) if p)
    return User(
        source=SOURCE,
        id=raw["id"],
        email=profile.get("email") or _email_or_none(profile.get("login")),
        display_name=profile.get("displayName") or full_name or None,
        department=profile.get("department") or None,
        job_title=profile.get("title") or None,
        enabled=raw.get("status") not in _DISABLED_STATUSES,
        is_guest=(profile.get("userType") or "").lower() in ("guest", "contractor"),
    )


def _email_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and "@" in value else None


def parse_sso_event(raw: Mapping[str, Any]) -> SignIn | None:
    """A ``user.authentication.sso`` event -> SignIn, or None when it names no app."""
    app = next((t for t in raw.get("target") or () if t.get("type") == "AppInstance"), None)
    if app is None or not app.get("id"):
        return None
    actor = raw.get("actor") or {}
    published = parse_time(raw["published"])
    if published is None:
        raise ValueError("'published' is empty")
    return SignIn(
        source=SOURCE,
        event_id=raw["uuid"],
        client_id=app["id"],
        at=published,
        user_id=actor.get("id") if actor.get("type") == "User" else None,
        user_email=_email_or_none(actor.get("alternateId")),
        app_name=app.get("displayName"),
        success=(raw.get("outcome") or {}).get("result") in (None, "SUCCESS", "ALLOW"),
    )


def parse_consent_event(raw: Mapping[str, Any]) -> Grant | None:
    """An OAuth consent event -> Grant, or None when it failed or names no client.

    The targets are the granted scopes; each carries ``detailEntry.publicclientapp`` (the client)
    and ``detailEntry.user``; an ``AppInstance`` target or a ``PublicClientApp`` actor also names
    the client.
    """
    if (raw.get("outcome") or {}).get("result") not in (None, "SUCCESS"):
        return None
    actor = raw.get("actor") or {}
    targets = [t for t in raw.get("target") or () if isinstance(t, dict)]
    details = [t.get("detailEntry") or {} for t in targets]
    client_id = next((d["publicclientapp"] for d in details if d.get("publicclientapp")), None)
    if client_id is None:
        client_id = next(
            (t.get("id") for t in targets if t.get("type") == "AppInstance"), None
        ) or (actor.get("id") if actor.get("type") == "PublicClientApp" else None)
    if not client_id:
        return None
    user_id = next((d["user"] for d in details if d.get("user")), None)
    if user_id is None and actor.get("type") == "User":
        user_id = actor.get("id")
    scope_types = ("AppInstance", "User", "AppUser", "PublicClientApp")
    scopes = tuple(
        dict.fromkeys(
            t["displayName"]
            for t in targets
            if t.get("displayName") and t.get("type") not in scope_types
        )
    )
    consent = CONSENT_EVENTS.get(raw["eventType"], "user")
    return Grant(
        source=SOURCE,
        client_id=client_id,
        user_id=user_id if consent == "user" else None,
        scopes=scopes,
        consent_type="admin" if consent == "admin" else "user",
        resource="Okta",
        granted_at=parse_time(raw.get("published")),
        user_email=_email_or_none(actor.get("alternateId")) if consent == "user" else None,
    )


T = TypeVar("T")


def _parsed(parse: Callable[..., T], *args: Any, what: str) -> T:
    """Run a parser; a missing required field fails loudly instead of half-storing."""
    try:
        return parse(*args)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ResponseShapeError(
            SOURCE, f"{what} lacks a field we need ({type(err).__name__}: {err})"
        ) from None


# -- the connector --------------------------------------------------------------------------


class OktaConnector:
    """Reads one Okta org; ``settings.org_url`` may point at a local fake for tests."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        settings: OktaSettings,
        context: ConnectorContext,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.context = context
        self.org_url = _org_url(settings, context)
        sleep = context.sleep if context.sleep is not None else time.sleep
        ca_bundle = str(context.resolve_path(settings.ca_bundle)) if settings.ca_bundle else None
        session = context.session or new_session(ca_bundle, pool=max(16, settings.concurrency))
        policy, deadline = transport_policy(SOURCE, settings, sleep)
        self.pacers = {
            group: ResetPacer(settings.slowdown_remaining, clock=clock, sleep=sleep)
            for group in ("apps", "users", "logs")
        }
        token_client = HttpClient(
            SOURCE, session, policy, origins=[self.org_url], origin_setting="org_url"
        )
        self.auth = build_auth(_replace_org(settings, self.org_url), context, token_client)
        self.http = HttpClient(
            SOURCE,
            session,
            policy,
            limiters=self.pacers,
            auth=self.auth.headers,
            after_response=self._observe,
            origins=[self.org_url],
            origin_setting="org_url",
            deadline=deadline,
        )

    def _observe(self, response: requests.Response) -> None:
        group = pace_group(response.url)
        if group and response.ok:
            self.pacers[group].observe(response.headers)

    # -- fetch ----------------------------------------------------------------------------
    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        url = f"{self.org_url}{path}"
        for page in link_pages(self.http, url, params=params, pace=pace_group(url)):
            yield page.items

    def _fetch_users(self) -> Iterator[list[Any]]:
        return self._pages("/api/v1/users", {"limit": USERS_PAGE})

    def _fetch_apps(self) -> Iterator[list[Any]]:
        return self._pages("/api/v1/apps", {"limit": APPS_PAGE})

    def _fetch_app_users(self, app_id: str) -> Iterator[list[Any]]:
        return self._pages(f"/api/v1/apps/{app_id}/users", {"limit": APP_USERS_PAGE})

    def _fetch_logs(self, since: datetime, until: datetime) -> Iterator[list[Any]]:
        # Bounded mode (since + until): ordered by `published`, the last page has no next link.
        return self._pages(
            "/api/v1/logs",
            {
                "since": format_time(since),
                "until": format_time(until),
                "filter": LOG_FILTER,
                "sortOrder": "ASCENDING",
                "limit": LOGS_PAGE,
            },
        )

    # -- collect --------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        cursors = {} if self.context.full else dict(since)
        yield from self._guarded("users", self._collect_users())
        yield from self._guarded("apps", self._collect_apps(), also=("grants",))
        yield from self._guarded("signins", self._collect_logs(cursors.get("signins")))

    def _guarded(
        self, stream: str, records: Iterator[SourceRecord], also: tuple[str, ...] = ()
    ) -> Iterator[SourceRecord]:
        """Run one stream; a missing scope becomes Skipped and the other streams go on."""
        try:
            yield from records
        except PermissionMissing as err:
            for name in (stream, *also):
                yield Skipped(SOURCE, name, str(err), err.permission)

    def _collect_users(self) -> Iterator[SourceRecord]:
        with self._translated("users", "okta.users.read"):
            for items in self._fetch_users():
                for raw in items:
                    yield _parsed(parse_user, raw, what="a /api/v1/users item")
                yield Checkpoint(SOURCE, "users")
        yield Checkpoint(SOURCE, "users", complete=True)

    def _collect_apps(self) -> Iterator[SourceRecord]:
        grants_denied = False
        with self._translated("apps", "okta.apps.read"):
            for items in self._fetch_apps():
                apps = [_parsed(parse_app, raw, what="a /api/v1/apps item") for raw in items]
                yield from apps
                yield Checkpoint(SOURCE, "apps")
                if grants_denied:
                    continue
                try:
                    yield from self._collect_app_users([a.client_id for a in apps])
                except PermissionMissing as err:
                    # Apps stay readable; only the assignments are skipped, once.
                    grants_denied = True
                    yield Skipped(SOURCE, "grants", str(err), err.permission)
        yield Checkpoint(SOURCE, "apps", complete=True)

    def _collect_app_users(self, app_ids: list[str]) -> Iterator[SourceRecord]:
        """Assigned users of a page of apps, ``concurrency`` listings at a time."""
        producers = [self._app_user_pages(app_id) for app_id in app_ids]
        for records in parallel(producers, self.settings.concurrency):
            yield from records
            yield Checkpoint(SOURCE, "grants")

    def _app_user_pages(self, app_id: str) -> Callable[[], Iterator[list[SourceRecord]]]:
        def produce() -> Iterator[list[SourceRecord]]:
            try:
                with self._translated("grants", "okta.apps.read"):
                    for items in self._fetch_app_users(app_id):
                        yield [
                            _parsed(parse_app_user, app_id, raw, what="an app user")
                            for raw in items
                        ]
            except _NotFound:
                # The app was deleted between the listing and this call.
                yield [SourceWarning(SOURCE, "grants", f"app {app_id} vanished during the scan")]

        return produce

    def _collect_logs(self, watermark: str | None) -> Iterator[SourceRecord]:
        until = self.context.now.astimezone(UTC)
        oldest = until - timedelta(days=LOG_RETENTION_DAYS)
        start = until - timedelta(days=self.settings.lookback_days)
        if watermark:
            try:
                start = parse_time(watermark) or start
            except ValueError:
                log.warning(
                    "okta: ignoring an unreadable System Log cursor %s", one_line(repr(watermark))
                )
        start = max(start, oldest)
        unnamed = 0
        with self._translated("signins", "okta.logs.read"):
            for items in self._fetch_logs(start, until):
                for raw in items:
                    record = _parsed(_parse_event, raw, what="a System Log event")
                    if record is None:
                        unnamed += 1
                    else:
                        yield record
                yield Checkpoint(SOURCE, "signins")
        if unnamed:
            yield SourceWarning(
                SOURCE,
                "signins",
                f"{unnamed} System Log events named no app or failed; they were not counted",
            )
        yield Checkpoint(SOURCE, "signins", cursor=format_time(until))

    # -- errors ---------------------------------------------------------------------------
    @contextmanager
    def _translated(self, stream: str, scope: str) -> Iterator[None]:
        """HttpStatusError inside the block -> our error for this stream."""
        try:
            yield
        except HttpStatusError as err:
            raise self.failure(err, stream, scope) from None

    def auth_failure(self, err: HttpStatusError) -> AuthError:
        summary = _error_summary(err) or f"{INVALID_CREDENTIAL_CODE} Invalid token provided"
        if isinstance(self.auth, TokenAuth):
            fix = (
                f"create a new API token (Security > API > Tokens) and put it in {self.auth.origin}"
            )
        else:
            fix = "check the service app's scopes and admin role"
        return AuthError(
            SOURCE,
            f"{self.auth.describe()} was rejected by {self.org_url} ({summary}); {fix}",
        )

    def failure(self, err: HttpStatusError, stream: str, scope: str) -> Exception:
        if err.status == 401:
            return self.auth_failure(err)
        if err.status == 403:
            summary = _error_summary(err) or f"{NO_PERMISSION_CODE} no permission"
            return PermissionMissing(
                SOURCE,
                stream,
                scope,
                f"{stream} not readable: {self._grant_hint(scope)} ({summary})",
            )
        if err.status == 404:
            return _NotFound(str(err))
        summary = _error_summary(err) or "no details"
        return ConnectorError(SOURCE, f"{err} ({summary})")

    def _grant_hint(self, scope: str) -> str:
        if isinstance(self.auth, ServiceAppAuth):
            return (
                f"grant {scope} to service app {self.auth.client_id} and add it to "
                "sources.okta.scopes"
            )
        return (
            f"the admin who created the API token lacks {scope} rights; use a token of a "
            "read-only admin (or an OAuth service app with that scope)"
        )

    # -- doctor ---------------------------------------------------------------------------
    def check(self) -> Iterator[Probe]:
        probes = (
            ("okta.users.read", "/api/v1/users", {"limit": 1}),
            ("okta.apps.read", "/api/v1/apps", {"limit": 1}),
            (
                "okta.logs.read",
                "/api/v1/logs",
                {"limit": 1, "since": format_time(self.context.now - timedelta(hours=1))},
            ),
        )
        for scope, path, params in probes:
            try:
                self.http.get_json(f"{self.org_url}{path}", params=params)
            except HttpStatusError as err:
                failure = self.failure(err, path, scope)
                yield Probe(SOURCE, scope, False, str(failure), fix=self._grant_hint(scope))
                if isinstance(failure, AuthError):
                    return
            except AuthError as err:
                yield Probe(SOURCE, "credentials", False, str(err))
                return
            else:
                yield Probe(SOURCE, scope, True, f"GET {path} answered")


class _NotFound(Exception):
    """An item vanished mid-scan (HTTP 404)."""


def _parse_event(raw: Mapping[str, Any]) -> SourceRecord | None:
    if raw["eventType"] == SSO_EVENT:
        return parse_sso_event(raw)
    if raw["eventType"] in CONSENT_EVENTS:
        return parse_consent_event(raw)
    return None


def _error_summary(err: HttpStatusError) -> str | None:
    """``E0000011 Invalid token provided`` from an Okta error body."""
    body = err.body if isinstance(err.body, dict) else {}
    code, summary = body.get("errorCode"), body.get("errorSummary")
    text = " ".join(str(p) for p in (code, summary) if p)
    return text or None


def _org_url(settings: OktaSettings, context: ConnectorContext) -> str:
    where = f" ({context.config_path})" if context.config_path else ""
    url = settings.org_url.strip().rstrip("/")
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(
            f"sources.okta.org_url: {settings.org_url!r} is not an https:// URL, "
            f"e.g. https://acme.okta.com{where}"
        )
    if parts.hostname and "-admin." in parts.hostname:
        raise ConfigError(
            f"sources.okta.org_url: use the org URL, not the admin console "
            f"({parts.hostname.replace('-admin.', '.')}){where}"
        )
    if not 1 <= settings.lookback_days <= LOG_RETENTION_DAYS:
        raise ConfigError(
            f"sources.okta.lookback_days: {settings.lookback_days} is outside 1..90; the System "
            f"Log keeps 90 days{where}"
        )
    if not 0 <= settings.slowdown_remaining < 1:
        raise ConfigError(f"sources.okta.slowdown_remaining: expected a share in 0..1{where}")
    if settings.concurrency < 1:
        raise ConfigError(f"sources.okta.concurrency: expected at least 1{where}")
    return f"{parts.scheme}://{parts.netloc}"


def _replace_org(settings: OktaSettings, org_url: str) -> OktaSettings:
    return replace(settings, org_url=org_url)


# -- running producers side by side ---------------------------------------------------------

_ITEM, _ERROR, _DONE = "item", "error", "done"


def parallel(producers: Iterable[Callable[[], Iterator[T]]], workers: int) -> Iterator[T]:
    """Yield what the producers yield, running ``workers`` of them at a time.

    A bounded queue keeps memory flat: a producer waits while the consumer is behind. The first
    error of any producer is raised in the consumer; closing the generator stops the producers.
    """
    producers = list(producers)
    if workers <= 1 or len(producers) <= 1:
        for produce in producers:
            yield from produce()
        return
    results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=workers * 2)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                results.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work(produce: Callable[[], Iterator[T]]) -> None:
        try:
            if stop.is_set():
                return
            for item in produce():
                if not put(_ITEM, item):
                    return
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(_ERROR, err)
        finally:
            put(_DONE, None)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="okta") as pool:
        futures = [pool.submit(work, produce) for produce in producers]
        pending = len(futures)
        try:
            while pending:
                kind, value = results.get()
                if kind == _DONE:
                    pending -= 1
                elif kind == _ERROR:
                    raise value
                else:
                    yield value
        finally:
            stop.set()
            for future in futures:
                future.cancel()


def factory(settings: OktaSettings, context: ConnectorContext) -> OktaConnector:
    return OktaConnector(settings, context)


SPEC = ConnectorSpec(
    SOURCE,
    OktaSettings,
    factory,
    "Okta: SSO apps and their users, the directory, System Log sign-ins and OAuth consents",
)
