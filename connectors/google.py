"""Google Workspace: the directory, every user's third-party OAuth tokens, token audit events and
SSO sign-ins, read from the Admin SDK with a service account and domain-wide delegation.

Streams (all read-only):

- ``users``   Directory ``users.list`` (``admin.directory.user.readonly``): department, org unit,
  suspended, admin (https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/list).
- ``apps`` and ``grants`` from Directory ``tokens.list`` per user
  (``admin.directory.user.security``; Google offers no read-only variant of that scope, and this
  connector never calls a write method;
  https://developers.google.com/admin-sdk/directory/reference/rest/v1/tokens/list). The calls go
  in Directory batch requests (at most 1,000 calls each,
  https://developers.google.com/admin-sdk/directory/v1/guides/batch). The first scan, ``--full``
  and every ``full_sweep_days`` sweep every user; the scans in between read the
  ``token`` audit log instead (``authorize`` -> Grant, ``revoke`` -> Removed).
- ``token_events``, ``login_events``, ``saml_events``: Reports ``activities.list``
  (``admin.reports.audit.readonly``,
  https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities/list) from the last
  watermark minus an overlap, because Google's audit events arrive late
  (https://support.google.com/a/answer/7061566). The Reports API has no batching for
  activities (https://developers.google.com/admin-sdk/reports/v1/guides/batch).

The client library retries only when ``execute(num_retries=N)`` is set and ignores Retry-After,
so every call goes through ``_Caller``: 429, 5xx and 403 with a quota reason are retried with
the server's Retry-After or exponential backoff, within ``scanner.net.http.RetryPolicy`` bounds
(Directory quota errors: https://developers.google.com/admin-sdk/directory/v1/limits; the Reports
API signals quota with 503: https://developers.google.com/admin-sdk/reports/v1/limits).
Directory calls are paced under ``queries_per_minute`` (each call inside a batch counts).

Transport: googleapiclient's own (httplib2 through google-auth-httplib2), one client per thread
because httplib2 is not thread-safe; ``ca_bundle`` is its trust store. ``ConnectorContext.session``
(a requests.Session) is not used by this connector.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import urljoin

import google_auth_httplib2
import httplib2
from google.auth import transport as google_transport
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from connectors.base import ConnectorContext, ConnectorSpec, Probe, transport_policy
from connectors.google_http import BoundedHttp
from connectors.tokens import answer_problem, endpoint, not_a_token_answer
from scanner.core.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    PermissionMissing,
    ResponseShapeError,
    RetryableError,
)
from scanner.core.models import (
    Checkpoint,
    Grant,
    RawApp,
    Removed,
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
    RateLimiter,
    RetryPolicy,
    TransportProblem,
    new_session,
    retry_after_seconds,
)
from scanner.net.paging import token_pages

log = logging.getLogger(__name__)

T = TypeVar("T")

SOURCE = "google"
_AUTH = "https://www.googleapis.com/auth/"
SCOPE_USERS = _AUTH + "admin.directory.user.readonly"
SCOPE_REPORTS = _AUTH + "admin.reports.audit.readonly"
SCOPE_TOKENS = _AUTH + "admin.directory.user.security"
"""tokens.list accepts only this scope; it also allows tokens.delete, which we never call
(https://developers.google.com/admin-sdk/directory/reference/rest/v1/tokens/list)."""
SCOPES = (SCOPE_USERS, SCOPE_REPORTS, SCOPE_TOKENS)

USERS_PAGE = 500
"""users.list ``maxResults``: default 100, at most 500 (Directory discovery document)."""
ACTIVITIES_PAGE = 1000
"""activities.list ``maxResults``: default and maximum 1000 (Reports discovery document)."""
MAX_BATCH = 1000
""""You're limited to 1000 calls in a single batch request"
(https://developers.google.com/admin-sdk/directory/v1/guides/batch)."""

QUOTA_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
"""403/429 reasons that mean "slow down", not "forbidden"
(https://developers.google.com/admin-sdk/directory/v1/limits)."""
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})

LOGIN_APP_ID = "google-workspace"
"""``client_id`` of sign-ins to Google itself (``login`` events); no app record is made for it."""

# Event names of the Reports applications we read
# (https://developers.google.com/admin-sdk/reports/v1/appendix/activity/token,
# .../activity/login, .../activity/saml).
TOKEN_AUTHORIZE = "authorize"  # noqa: S105 (an event name)
TOKEN_REVOKE = "revoke"  # noqa: S105
SIGNIN_EVENTS = {"login_success": True, "login_failure": False}

CURSOR_SWEEP = "tokens_sweep"
CURSOR_EVENTS = {"token": "token_events", "login": "login_events", "saml": "saml_events"}


@dataclass(frozen=True)
class GoogleSettings:
    """``[sources.google]``: the service account key, the admin it acts as, and pacing."""

    admin_email: str
    """A super admin (or an admin with the Users read and Reports privileges) to impersonate."""
    enabled: bool = True
    customer: str = "my_customer"
    """``my_customer`` is the account of the admin; or a customer ID like ``C03az79cb``."""
    key_file: str | None = None
    """The service account's JSON key file (relative to the config file)."""
    key_env: str | None = None
    """Environment variable holding the JSON key itself."""
    api_root: str = "https://admin.googleapis.com/"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    """Replaces the key's ``token_uri`` (tests point it at 127.0.0.1)."""
    ca_bundle: str | None = None
    lookback_days: int = 30
    """First scan (or ``--full``): read this many days of login and SAML events."""
    overlap_minutes: int = 60
    """Re-read this much before the last watermark: audit events can arrive late
    (https://support.google.com/a/answer/7061566)."""
    full_sweep_days: int = 7
    """Re-list every user's tokens this often (0: every scan); token events fill the days
    between."""
    batch_size: int = 100
    """tokens.list calls per Directory batch request (at most 1,000)."""
    queries_per_minute: int = 2400
    """Directory API default quota: 2,400 queries per minute per user per project
    (https://developers.google.com/admin-sdk/directory/v1/limits)."""
    concurrency: int = 4
    """Batch requests in flight at once."""
    timeout: float = 60.0
    """Seconds to wait for a connection and for each read of an answer."""
    deadline_hours: float = 4.0
    """The source ends ``failed`` after this long, keeping what it collected."""
    max_response_mib: int = 64
    """The largest single answer accepted."""


# -- parsing (pure) -------------------------------------------------------------------------


def _parse_user(raw: Mapping[str, Any]) -> User:
    """A Directory user (https://developers.google.com/admin-sdk/directory/reference/rest/v1/users)."""
    organization = _primary_organization(raw.get("organizations"))
    name = raw.get("name") or {}
    org_unit = raw.get("orgUnitPath")
    return User(
        source=SOURCE,
        id=str(raw["id"]),
        email=raw.get("primaryEmail") or None,
        display_name=name.get("fullName") or None,
        department=organization.get("department") or None,
        job_title=organization.get("title") or None,
        groups=(org_unit,) if org_unit else (),
        enabled=not (raw.get("suspended") or raw.get("archived")),
        is_admin=bool(raw.get("isAdmin")),
    )


def _primary_organization(organizations: Any) -> Mapping[str, Any]:
    """The ``primary`` entry of ``organizations`` (a list of dicts), else the first one."""
    if not isinstance(organizations, list):
        return {}
    entries = [o for o in organizations if isinstance(o, dict)]
    for entry in entries:
        if entry.get("primary"):
            return entry
    return entries[0] if entries else {}


def _parse_token(raw: Mapping[str, Any], user: User) -> tuple[RawApp, Grant]:
    """One Directory token: the app and the user's grant to it."""
    client_id = str(raw["clientId"])
    tags = ("anonymous",) if raw.get("anonymous") else ()
    app = RawApp(
        source=SOURCE,
        client_id=client_id,
        name=raw.get("displayText") or client_id,
        kind="native" if raw.get("nativeApp") else "oauth",
        tags=tags,
    )
    grant = Grant(
        source=SOURCE,
        client_id=client_id,
        user_id=user.id,
        scopes=tuple(raw.get("scopes") or ()),
        consent_type="user",
        resource="Google",
        user_email=user.email,
    )
    return app, grant


@dataclass(frozen=True)
class _Event:
    """One event of a Reports activity, flattened."""

    event_id: str
    name: str
    at: datetime
    actor_id: str | None
    actor_email: str | None
    params: Mapping[str, Any]


def _parse_activity(raw: Mapping[str, Any]) -> Iterator[_Event]:
    """The events of one Reports activity
    (https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities)."""
    ident = raw["id"]
    time_text = ident["time"]
    at = _parse_time(time_text)
    base_id = f"{ident.get('applicationName', '')}:{ident['uniqueQualifier']}@{time_text}"
    actor = raw.get("actor") or {}
    events = raw.get("events") or []
    for index, event in enumerate(events):
        event_id = base_id if len(events) == 1 else f"{base_id}#{index}"
        yield _Event(
            event_id=event_id,
            name=event["name"],
            at=at,
            actor_id=actor.get("profileId") or None,
            actor_email=actor.get("email") or None,
            params=_parameters(event.get("parameters")),
        )


def _parameters(parameters: Any) -> dict[str, Any]:
    """``[{name, value|multiValue|boolValue|intValue}]`` -> ``{name: value}``."""
    values: dict[str, Any] = {}
    for parameter in parameters or []:
        name = parameter.get("name")
        if not name:
            continue
        for key in ("value", "multiValue", "boolValue", "intValue"):
            if key in parameter:
                values[name] = parameter[key]
                break
    return values


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _token_event_records(event: _Event) -> list[SourceRecord]:
    """``authorize`` -> RawApp + Grant; ``revoke`` -> Removed grant (token audit log)."""
    client_id = event.params.get("client_id")
    if not client_id or not event.actor_id:
        return []
    if event.name == TOKEN_REVOKE:
        return [Removed(SOURCE, "grant", client_id=client_id, user_id=event.actor_id, at=event.at)]
    client_type = str(event.params.get("client_type") or "")
    app = RawApp(
        source=SOURCE,
        client_id=client_id,
        name=event.params.get("app_name") or client_id,
        kind="native" if client_type.startswith("NATIVE") else "oauth",
    )
    scope = event.params.get("scope") or ()
    grant = Grant(
        source=SOURCE,
        client_id=client_id,
        user_id=event.actor_id,
        scopes=tuple(scope) if isinstance(scope, list) else (str(scope),),
        consent_type="user",
        resource="Google",
        granted_at=event.at,
        user_email=event.actor_email,
    )
    return [app, grant]


def _signin(application: str, event: _Event) -> SignIn | None:
    """``login_success``/``login_failure`` of the login or SAML log -> SignIn."""
    if event.name not in SIGNIN_EVENTS:
        return None
    if application == "saml":
        app_name = event.params.get("application_name")
        if not app_name:
            return None
        client_id = str(app_name)
    else:
        client_id, app_name = LOGIN_APP_ID, "Google Workspace"
    return SignIn(
        source=SOURCE,
        event_id=event.event_id,
        client_id=client_id,
        at=event.at,
        user_id=event.actor_id,
        user_email=event.actor_email,
        app_name=str(app_name),
        success=SIGNIN_EVENTS[event.name],
    )


def _iso(value: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the Reports API documents ``startTime``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}Z"
    )


# -- credentials ----------------------------------------------------------------------------


def load_key(settings: GoogleSettings, config_path: Path | None) -> dict[str, Any]:
    """The service account key JSON from ``key_file`` or ``key_env``; ConfigError naming it."""
    key = "sources.google.key"
    setting = f"{key}_env" if settings.key_env else f"{key}_file"
    named = settings.key_env or settings.key_file
    text = secret(settings.key_env, settings.key_file, key, config_path)
    assert text is not None
    where = f" ({config_path})" if config_path else ""
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError(
            f"{setting}: {named} does not hold JSON; download a JSON key of the service account "
            f"(IAM & Admin > Service accounts > Keys > Add key > JSON){where}"
        ) from None
    missing = [
        field
        for field in ("type", "client_email", "client_id", "private_key")
        if not isinstance(info, dict) or not info.get(field)
    ]
    if missing or info.get("type") != "service_account":
        what = f"lacks {', '.join(missing)}" if missing else "is not of type service_account"
        raise ConfigError(
            f"{setting}: {named} is not a service account key ({what}); download a JSON key of "
            f"the service account (IAM & Admin > Service accounts > Keys > Add key > JSON){where}"
        )
    return cast(dict[str, Any], info)


def build_credentials(
    info: Mapping[str, Any], settings: GoogleSettings, setting: str
) -> service_account.Credentials:
    """Delegated credentials acting as ``admin_email``, refreshed at ``settings.token_uri``."""
    try:
        credentials = _Credentials.from_service_account_info(
            {**info, "token_uri": settings.token_uri}, scopes=list(SCOPES)
        )
    except ValueError as err:
        raise ConfigError(
            f"{setting}: the service account key cannot be used ({err}); create a new JSON key"
        ) from None
    delegated: service_account.Credentials = credentials.with_subject(settings.admin_email)
    return delegated


class _Credentials(service_account.Credentials):
    """Service-account credentials whose token answers are checked before google-auth reads them.

    From ``token_uri`` google-auth turns an HTML page, an empty body or a JSON array into a
    TypeError, quotes the page in a RefreshError, and retries 5xx with its own sleeps. Every
    refresh (``authorize``'s, and the later ones of google-auth-httplib2 and googleapiclient's
    batches, which copy the credentials with their class) goes through ``_TokenAnswers``: such
    answers become one line naming the endpoint's host, and 429/5xx our bounded retries."""

    def refresh(self, request: google_transport.Request) -> None:
        super().refresh(_TokenAnswers(request))


# OAuth error codes google-auth retries itself, with real sleeps (google.oauth2._client).
_TRANSIENT_TOKEN_ERRORS = frozenset({"internal_failure", "server_error", "temporarily_unavailable"})


class _TokenAnswers(google_transport.Request):
    """A google-auth transport that checks each token answer (the JWT grant, a POST)."""

    def __init__(self, inner: google_transport.Request) -> None:
        self._inner = inner

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        try:
            response = self._inner(
                url, method=method, body=body, headers=headers, timeout=timeout, **kwargs
            )
        except TransportProblem as err:  # names host and path already
            raise _RetryLater(str(err), None) from None
        except (TransportError, OSError) as err:
            cause = err.args[0] if err.args and isinstance(err.args[0], BaseException) else err
            failure = f"{type(cause).__name__} talking to the token endpoint at {endpoint(url)}"
            raise _RetryLater(failure, None) from None
        if method != "POST":  # an access-boundary lookup, not a token answer
            return response
        status = int(response.status)
        answer_headers = {str(k).lower(): str(v) for k, v in dict(response.headers).items()}
        data = response.data
        if status == 429 or status >= 500 or _transient_error(status, data):
            hint = answer_headers.get("retry-after")
            wait = retry_after_seconds({"Retry-After": hint}) if hint else None
            raise _RetryLater(f"HTTP {status} from the token endpoint at {endpoint(url)}", wait)
        problem = answer_problem(status, answer_headers.get("content-type"), data)
        if problem is not None:
            raise not_a_token_answer(SOURCE, url, status, problem, "sources.google.token_uri")
        return response


def _transient_error(status: int, data: bytes | str) -> bool:
    if 200 <= status < 300:
        return False
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and body.get("error") in _TRANSIENT_TOKEN_ERRORS


def delegation_help(client_id: str) -> str:
    """Where an admin authorises our scopes for the service account."""
    return (
        "In the Admin console (admin.google.com) open Security > Access and data control > "
        f"API controls > Manage Domain Wide Delegation and add client ID {client_id} with the "
        f"scopes {','.join(SCOPES)}"
    )


# -- calls with our retry policy --------------------------------------------------------------


class _RetryLater(Exception):
    def __init__(self, problem: str, wait: float | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.wait = wait


def _error_reasons(err: HttpError) -> set[str]:
    """``error.errors[].reason`` of a Google error body."""
    try:
        body = json.loads(err.content.decode("utf-8") if err.content else "{}")
    except (ValueError, UnicodeDecodeError):
        return set()
    errors = (body.get("error") or {}).get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(e.get("reason")) for e in errors if isinstance(e, dict) and e.get("reason")}


def _error_message(err: HttpError) -> str:
    try:
        body = json.loads(err.content.decode("utf-8") if err.content else "{}")
        message = body["error"]["message"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        message = err.resp.reason or ""
    return f"HTTP {err.resp.status}: {message}".rstrip(": ")


def _is_retriable(err: HttpError) -> bool:
    status = int(err.resp.status)
    if status in RETRIABLE_STATUS:
        return True
    return status == 403 and bool(_error_reasons(err) & QUOTA_REASONS)


def _retry_hint(err: HttpError) -> float | None:
    value = err.resp.get("retry-after")
    return retry_after_seconds({"Retry-After": value}) if value else None


class _Caller:
    """Runs a Google API call under our retry policy and translates auth failures."""

    def __init__(self, policy: RetryPolicy, client_id: str) -> None:
        self.policy = policy
        self.client_id = client_id
        self.retries = 0
        self._lock = threading.Lock()

    def run(self, what: str, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it returns, retrying what raises _RetryLater."""
        policy = self.policy
        problem = "no attempt made"
        for number in range(1, policy.attempts + 1):
            try:
                return self.guard(attempt)
            except _RetryLater as err:
                problem = err.problem
                hinted = err.wait
            if number == policy.attempts:
                break
            wait = min(hinted if hinted is not None else self._backoff(number), policy.max_wait)
            with self._lock:
                self.retries += 1
            log.info("google: %s: %s; retry %d in %.1f s", what, one_line(problem), number, wait)
            policy.sleep(wait)
        raise RetryableError(
            SOURCE,
            f"gave up on {what} after {policy.attempts} attempts: {problem}. Google is "
            "throttling or failing; what was read is kept and the next scan tries again.",
        )

    def execute(self, what: str, request: Any, pace: RateLimiter | None = None) -> Any:
        """``request.execute()`` with retries; non-retriable HttpErrors propagate."""

        def attempt() -> Any:
            if pace is not None:
                pace.acquire()
            try:
                return request.execute()
            except HttpError as err:
                if _is_retriable(err):
                    raise _RetryLater(_error_message(err), _retry_hint(err)) from None
                raise

        return self.run(what, attempt)

    def guard(self, attempt: Callable[[], T]) -> T:
        """Translate token and transport failures of one attempt."""
        try:
            return attempt()
        except RefreshError as err:
            raise self._auth_error(err) from None
        except TransportProblem as err:
            raise _RetryLater(str(err), None) from None
        except (TransportError, httplib2.HttpLib2Error, OSError) as err:
            raise _RetryLater(f"{type(err).__name__} talking to Google", None) from None

    def _auth_error(self, err: RefreshError) -> AuthError:
        details = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], dict) else {}
        code = one_line(
            details.get("error") or str(err.args[0] if err.args else err).split(":")[0], 100
        )
        description = one_line(details.get("error_description") or "", 200)
        if code == "unauthorized_client":
            return AuthError(
                SOURCE,
                "domain-wide delegation is not set up for the service account (Google "
                f"answered unauthorized_client). {delegation_help(self.client_id)}. "
                "Changes can take a few minutes to apply.",
            )
        if code == "invalid_grant":
            return AuthError(
                SOURCE,
                f"the token request was refused (invalid_grant: {description or 'no detail'}). "
                "Check sources.google.admin_email names an existing admin, and that the key "
                "has not been deleted or disabled in the Google Cloud console.",
            )
        return AuthError(
            SOURCE,
            f"the service account could not get a token ({code}: {description}). "
            "Check the key and the domain-wide delegation entry.",
        )

    def _backoff(self, attempt: int) -> float:
        base = self.policy.backoff * (2 ** (attempt - 1))
        return float(min(self.policy.max_wait, base + random.uniform(0, base / 2)))


# -- the connector ----------------------------------------------------------------------------


class GoogleConnector:
    """Reads a Google Workspace account; see the module docstring for the streams."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        settings: GoogleSettings,
        context: ConnectorContext,
        policy: RetryPolicy | None = None,
    ) -> None:
        _validate(settings, context.config_path)
        self.settings = settings
        self.context = context
        setting = "sources.google.key_env" if settings.key_env else "sources.google.key_file"
        info = load_key(settings, context.config_path)
        self.client_id = str(info["client_id"])
        self.credentials = build_credentials(info, settings, setting)
        sleep = context.sleep or RetryPolicy().sleep
        self.policy, deadline = transport_policy(SOURCE, settings, sleep)
        self.policy = policy or self.policy
        self.transport = HttpClient(
            SOURCE,
            context.session or new_session(self._ca_bundle()),
            self.policy,
            origins=[settings.api_root, settings.token_uri],
            origin_setting="api_root or token_uri",
            deadline=deadline,
        )
        self.caller = _Caller(self.policy, self.client_id)
        # Directory calls (each call inside a batch counts) share one minute window.
        self.pace = RateLimiter(settings.queries_per_minute, 60.0, sleep=sleep)
        self.api_root = (
            settings.api_root if settings.api_root.endswith("/") else (settings.api_root + "/")
        )
        self._local = threading.local()
        self._now = context.now.astimezone(UTC)
        self._seen_apps: set[str] = set()
        """Client IDs whose RawApp this scan already yielded (one per app, not per user)."""

    # -- transport ------------------------------------------------------------------------
    def _http(self) -> google_auth_httplib2.AuthorizedHttp:
        return google_auth_httplib2.AuthorizedHttp(
            self.credentials, http=BoundedHttp(self.transport)
        )

    def _ca_bundle(self) -> str | None:
        if not self.settings.ca_bundle:
            return None
        return str(self.context.resolve_path(self.settings.ca_bundle))

    def _service(self, api: str) -> Any:
        """This thread's client for ``directory_v1`` or ``reports_v1`` (httplib2 is not
        thread-safe, so each thread builds its own from the packaged discovery document)."""
        services: dict[str, Any] = self._local.__dict__.setdefault("services", {})
        if api not in services:
            services[api] = build(
                "admin",
                api,
                http=self._http(),
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self.api_root},
            )
        return services[api]

    def _batch_uri(self, directory: Any) -> str:
        # new_batch_http_request() joins the discovery rootUrl, ignoring api_endpoint; build the
        # URI from our root and the documented batchPath instead.
        return urljoin(self.api_root, str(directory._rootDesc.get("batchPath", "batch")))

    def authorize(self) -> None:
        """Get the first token now, so a delegation problem stops the scan before any listing."""
        request = google_auth_httplib2.Request(BoundedHttp(self.transport))
        self.caller.run("the token request", lambda: self.credentials.refresh(request))

    # -- collect --------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        self._seen_apps = set()
        self.authorize()
        sweep = self._sweep_due(since)
        swept = yield from self._users(sweep)
        if not sweep:
            yield from self._token_events(since)
        # A sweep marks apps not seen as gone; SAML apps are only seen through sign-ins, so a
        # sweep scan re-reads the whole lookback of SAML events to keep the ones in use.
        yield from self._signin_events("login", since, full_window=False)
        yield from self._signin_events("saml", since, full_window=swept)

    def _sweep_due(self, since: Mapping[str, str]) -> bool:
        last = since.get(CURSOR_SWEEP)
        if self.context.full or not last or CURSOR_EVENTS["token"] not in since:
            return True
        try:
            previous = _parse_time(last)
        except ValueError:
            return True
        return self._now - previous >= timedelta(days=self.settings.full_sweep_days)

    def _users(self, sweep: bool) -> Generator[SourceRecord, None, bool]:
        """Users page by page; on a sweep, each page's tokens before its checkpoint.

        Returns whether the token sweep completed."""
        sweeping = sweep
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            try:
                for users in self._user_pages():
                    yield from users
                    if sweeping:
                        sweeping = yield from self._sweep_tokens(users, pool)
                    yield Checkpoint(SOURCE, "users")
            except (PermissionMissing, RetryableError) as err:
                yield _skipped("users", err)
                return False
        yield Checkpoint(SOURCE, "users", complete=True)
        if not sweeping:
            return False
        stamp = _iso(self._now)
        yield Checkpoint(SOURCE, "grants", complete=True)
        yield Checkpoint(SOURCE, "apps", complete=True)
        yield Checkpoint(SOURCE, CURSOR_EVENTS["token"], cursor=stamp)
        yield Checkpoint(SOURCE, CURSOR_SWEEP, cursor=stamp)
        return True

    def _user_pages(self) -> Iterator[list[User]]:
        directory = self._service("directory_v1")

        def fetch(token: str | None) -> Mapping[str, Any]:
            request = directory.users().list(
                customer=self.settings.customer, maxResults=USERS_PAGE, pageToken=token
            )
            try:
                body = self.caller.execute("users.list", request, self.pace)
            except HttpError as err:
                raise self._http_error(err, "users", "list users", SCOPE_USERS) from None
            return _page_body(body, "users.list")

        for page in token_pages(SOURCE, fetch, "users"):
            yield [_shape(_parse_user, "users.list", raw) for raw in page.items]

    # -- tokens ---------------------------------------------------------------------------
    def _sweep_tokens(
        self, users: list[User], pool: ThreadPoolExecutor
    ) -> Generator[SourceRecord, None, bool]:
        """RawApps and Grants of ``users``; returns False if the sweep had to stop."""
        size = self.settings.batch_size
        chunks = [users[i : i + size] for i in range(0, len(users), size)]
        futures: list[Future[list[tuple[User, list[Any] | None]]]] = [
            pool.submit(self._tokens_batch, chunk) for chunk in chunks
        ]
        try:
            for future in futures:
                for user, tokens in future.result():
                    yield from self._token_records(user, tokens)
        except (PermissionMissing, RetryableError) as err:
            for pending in futures:
                pending.cancel()
            yield _skipped("grants", err)
            return False
        return True

    def _token_records(self, user: User, tokens: list[Any] | None) -> Iterator[SourceRecord]:
        if tokens is None:
            yield SourceWarning(
                SOURCE,
                "grants",
                f"tokens of {user.email or user.id} could not be read: the user no longer "
                "exists (deleted during the scan)",
            )
            return
        for raw in tokens:
            app, grant = _shape(lambda r: _parse_token(r, user), "tokens.list", raw)
            if app.client_id not in self._seen_apps:
                self._seen_apps.add(app.client_id)
                yield app
            yield grant

    def _tokens_batch(self, users: list[User]) -> list[tuple[User, list[Any] | None]]:
        """tokens.list of each user in one Directory batch request; retries what was throttled.

        None for a user means 404 (deleted since the users page was read)."""
        directory = self._service("directory_v1")
        batch_uri = self._batch_uri(directory)
        pending = {str(i): user for i, user in enumerate(users)}
        results: dict[str, list[Any] | None] = {}

        def attempt() -> None:
            outcomes: dict[str, tuple[Any, HttpError | None]] = {}
            batch = BatchHttpRequest(batch_uri=batch_uri)
            for request_id, user in pending.items():
                self.pace.acquire()
                batch.add(
                    directory.tokens().list(userKey=user.id),
                    callback=lambda rid, resp, exc: outcomes.__setitem__(rid, (resp, exc)),
                    request_id=request_id,
                )
            try:
                batch.execute()
            except HttpError as err:
                if _is_retriable(err):
                    raise _RetryLater(_error_message(err), _retry_hint(err)) from None
                raise self._http_error(err, "grants", "read tokens", SCOPE_TOKENS) from None
            self._settle(pending, outcomes, results)

        self.caller.run(f"tokens.list batch of {len(users)} users", attempt)
        return [(users[int(rid)], results[rid]) for rid in sorted(results, key=int)]

    def _settle(
        self,
        pending: dict[str, User],
        outcomes: Mapping[str, tuple[Any, HttpError | None]],
        results: dict[str, list[Any] | None],
    ) -> None:
        """Record the answers of one batch; leave throttled calls in ``pending``."""
        waits: list[float] = []
        problem = ""
        for request_id in list(pending):
            body, error = outcomes.get(request_id, (None, None))
            if error is None:
                items = _page_body(body, "tokens.list").get("items")
                results[request_id] = list(items or [])
            elif int(error.resp.status) == 404:
                results[request_id] = None
            elif _is_retriable(error):
                problem = _error_message(error)
                hint = _retry_hint(error)
                if hint is not None:
                    waits.append(hint)
                continue
            else:
                raise self._http_error(error, "grants", "read tokens", SCOPE_TOKENS)
            del pending[request_id]
        if pending:
            raise _RetryLater(
                f"{len(pending)} calls of the batch throttled ({problem})",
                max(waits) if waits else None,
            )

    # -- audit events ---------------------------------------------------------------------
    def _activities(
        self, application: str, start: datetime, event_name: str | None = None
    ) -> Iterator[list[_Event]]:
        reports = self._service("reports_v1")
        what = f"activities.list {application}"

        def fetch(token: str | None) -> Mapping[str, Any]:
            request = reports.activities().list(
                userKey="all",
                applicationName=application,
                startTime=_iso(start),
                endTime=_iso(self._now),
                eventName=event_name,
                maxResults=ACTIVITIES_PAGE,
                pageToken=token,
            )
            try:
                body = self.caller.execute(what, request)
            except HttpError as err:
                stream = CURSOR_EVENTS[application]
                raise self._http_error(
                    err, stream, f"read the {application} audit log", SCOPE_REPORTS
                ) from None
            return _page_body(body, what)

        for page in token_pages(SOURCE, fetch, "items"):
            events: list[_Event] = []
            for raw in page.items:
                events.extend(_shape(lambda r: list(_parse_activity(r)), what, raw))
            yield events

    def _window_start(self, application: str, since: Mapping[str, str], full: bool) -> datetime:
        earliest = self._now - timedelta(days=self.settings.lookback_days)
        cursor = since.get(CURSOR_EVENTS[application])
        if full or not cursor:
            return earliest
        try:
            start = _parse_time(cursor) - timedelta(minutes=self.settings.overlap_minutes)
        except ValueError:
            return earliest
        return min(start, self._now - timedelta(minutes=1))

    def _token_events(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        """Grant changes since the watermark; only the newest event per (user, app) counts,
        whatever order the pages come in, and an event seen twice counts once."""
        stream = CURSOR_EVENTS["token"]
        start = self._window_start("token", since, full=False)
        seen: set[str] = set()
        newest: dict[tuple[str, str], datetime] = {}

        def pages() -> Iterator[SourceRecord]:
            for event_name in (TOKEN_AUTHORIZE, TOKEN_REVOKE):
                for events in self._activities("token", start, event_name):
                    yield from self._newest_token_records(events, seen, newest)
                    yield Checkpoint(SOURCE, stream)

        yield from self._watermarked(stream, pages())

    def _newest_token_records(
        self,
        events: Iterable[_Event],
        seen: set[str],
        newest: dict[tuple[str, str], datetime],
    ) -> Iterator[SourceRecord]:
        page_newest: dict[tuple[str, str], _Event] = {}
        for event in events:
            client_id = event.params.get("client_id")
            if event.name not in (TOKEN_AUTHORIZE, TOKEN_REVOKE) or event.event_id in seen:
                continue
            seen.add(event.event_id)
            if not client_id or not event.actor_id:
                continue
            key = (event.actor_id, str(client_id))
            if key in newest and newest[key] >= event.at:
                continue
            if key not in page_newest or page_newest[key].at < event.at:
                page_newest[key] = event
        for key, event in page_newest.items():
            newest[key] = event.at
            yield from _token_event_records(event)

    def _signin_events(
        self, application: str, since: Mapping[str, str], full_window: bool
    ) -> Iterator[SourceRecord]:
        stream = CURSOR_EVENTS[application]
        start = self._window_start(application, since, full_window)
        saml_apps: set[str] = set()

        def pages() -> Iterator[SourceRecord]:
            for events in self._activities(application, start):
                for signin in filter(None, (_signin(application, e) for e in events)):
                    if application == "saml" and signin.client_id not in saml_apps:
                        saml_apps.add(signin.client_id)
                        yield RawApp(SOURCE, signin.client_id, signin.app_name or "", kind="saml")
                    yield signin
                yield Checkpoint(SOURCE, stream)

        yield from self._watermarked(stream, pages())

    def _watermarked(self, stream: str, records: Iterator[SourceRecord]) -> Iterator[SourceRecord]:
        """An audit log listing: Skipped if it cannot finish (its watermark stays where it was),
        else the watermark advances to the end of the window after the last page."""
        try:
            yield from records
        except (PermissionMissing, RetryableError) as err:
            yield _skipped(stream, err)
            return
        yield Checkpoint(SOURCE, stream, cursor=_iso(self._now))

    # -- errors ---------------------------------------------------------------------------
    def _http_error(self, err: HttpError, stream: str, action: str, scope: str) -> ConnectorError:
        status = int(err.resp.status)
        detail = _error_message(err)
        if status == 401:
            return AuthError(
                SOURCE,
                f"Google refused the token to {action} ({detail}). "
                f"{delegation_help(self.client_id)}.",
            )
        if status == 403:
            return PermissionMissing(
                SOURCE,
                stream,
                scope,
                f"{self.settings.admin_email} may not {action} ({detail}). Make sure this admin "
                "has the Users (read) and Reports admin privileges, and that the delegation "
                f"entry of client ID {self.client_id} lists {scope}.",
            )
        return ConnectorError(SOURCE, f"cannot {action}: {detail}")

    # -- doctor ---------------------------------------------------------------------------
    def check(self) -> Iterator[Probe]:
        try:
            self.authorize()
        except (AuthError, RetryableError) as err:
            yield Probe(SOURCE, "token", False, str(err), delegation_help(self.client_id))
            return
        yield Probe(SOURCE, "token", True, f"acting as {self.settings.admin_email}")
        directory = self._service("directory_v1")
        reports = self._service("reports_v1")
        probes = (
            (
                "users (admin.directory.user.readonly)",
                "users.list",
                directory.users().list(customer=self.settings.customer, maxResults=1),
                SCOPE_USERS,
            ),
            (
                "tokens (admin.directory.user.security)",
                "tokens.list",
                directory.tokens().list(userKey=self.settings.admin_email),
                SCOPE_TOKENS,
            ),
            (
                "audit log (admin.reports.audit.readonly)",
                "activities.list",
                reports.activities().list(userKey="all", applicationName="token", maxResults=1),
                SCOPE_REPORTS,
            ),
        )
        for label, what, request, scope in probes:
            try:
                self.caller.execute(what, request)
            except HttpError as err:
                problem = self._http_error(err, label, what, scope)
                yield Probe(SOURCE, label, False, str(problem), delegation_help(self.client_id))
            except ConnectorError as err:
                yield Probe(SOURCE, label, False, str(err))
            else:
                yield Probe(SOURCE, label, True, f"{what} answered")


def _skipped(stream: str, err: PermissionMissing | RetryableError) -> Skipped:
    """A stream that could not be read: a missing permission, or throttling that outlasted
    the retries. The source ends partial; nothing of the stream is marked gone."""
    permission = err.permission if isinstance(err, PermissionMissing) else None
    return Skipped(SOURCE, stream, str(err), permission)


def _page_body(body: Any, what: str) -> Mapping[str, Any]:
    """A page as an object. googleapiclient hands back the raw text of a body that is not JSON;
    taking it (or a JSON array) for an empty last page would end a listing early and mark every
    unread item gone, so it is a ResponseShapeError instead."""
    if isinstance(body, dict):
        return body
    if isinstance(body, str | bytes):
        raise ResponseShapeError(SOURCE, f"{what} answered with a body that is not JSON")
    kind = {list: "array"}.get(type(body), type(body).__name__)
    raise ResponseShapeError(SOURCE, f"{what} answered with a JSON {kind}, not an object")


def _shape(parse: Callable[[Any], T], what: str, raw: Any) -> T:
    """Run a parser; a missing required field becomes ResponseShapeError."""
    try:
        return parse(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ResponseShapeError(
            SOURCE, f"{what} answered with an item that lacks a required field ({err!r})"
        ) from None


def _validate(settings: GoogleSettings, config_path: Path | None) -> None:
    where = f" ({config_path})" if config_path else ""
    bounds = {
        "batch_size": (settings.batch_size, 1, MAX_BATCH),
        "concurrency": (settings.concurrency, 1, 64),
        "queries_per_minute": (settings.queries_per_minute, 1, 1_000_000),
        "lookback_days": (settings.lookback_days, 1, 180),
        "full_sweep_days": (settings.full_sweep_days, 0, 365),
        "overlap_minutes": (settings.overlap_minutes, 0, 24 * 60),
    }
    for name, (value, low, high) in bounds.items():
        if not low <= value <= high:
            raise ConfigError(
                f"sources.google.{name}: {value} is out of range ({low} to {high}){where}"
            )
    if "@" not in settings.admin_email:
        raise ConfigError(
            f"sources.google.admin_email: {settings.admin_email!r} is not an email address; "
            f"name the admin the service account acts as{where}"
        )
    if not settings.key_env and not settings.key_file:
        raise ConfigError(
            "sources.google.key: set sources.google.key_file (the service account's JSON key) "
            f"or sources.google.key_env (a variable holding it){where}"
        )


def factory(settings: GoogleSettings, context: ConnectorContext) -> GoogleConnector:
    return GoogleConnector(settings, context)


SPEC = ConnectorSpec(
    "google",
    GoogleSettings,
    factory,
    "Google Workspace: users, third-party OAuth tokens, token/login/SAML audit events",
)
