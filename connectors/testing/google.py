"""A local Google Workspace: the OAuth token endpoint for service accounts, Admin SDK Directory
users.list and tokens.list (also inside multipart/mixed batch requests), and Reports
activities.list, answering in the documented shapes with real paging.

Built from plain lists of provider-shaped dicts: Directory users, Directory tokens (each with
``userKey`` = the owner's user id) and Reports activities per application (``token``, ``login``,
``saml``). ``from_dir(path)`` loads ``users.json``, ``tokens.json`` and ``activities-<app>.json``.

Auth: ``add_service_account()`` makes an RSA key, registers it, records a domain-wide delegation
entry for its client ID and returns the key JSON. With service accounts registered, the token
endpoint checks the JWT signature, the delegated scopes (``unauthorized_client`` otherwise) and
the subject; without any (the demo) it accepts every assertion. APIs then require the bearer
token it issued and the scope each method documents.
"""

from __future__ import annotations

import email.message
import email.parser
import itertools
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from connectors.testing.base import FakeProvider, json_response, parse_int

_AUTH = "https://www.googleapis.com/auth/"
SCOPE_USERS_READ = _AUTH + "admin.directory.user.readonly"
SCOPE_USERS = _AUTH + "admin.directory.user"
SCOPE_SECURITY = _AUTH + "admin.directory.user.security"
SCOPE_REPORTS = _AUTH + "admin.reports.audit.readonly"
JWT_AUDIENCE = "https://oauth2.googleapis.com/token"
"""google-auth always signs for this audience, even when ``token_uri`` is elsewhere."""

USERS_MAX = 500
ACTIVITIES_MAX = 1000

_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


def google_error(status: int, reason: str, message: str) -> dict[str, Any]:
    """Google's error body (https://developers.google.com/admin-sdk/directory/v1/limits shows the
    reasons; the shape is the global ``{"error": {"errors": [...], "code", "message"}}``)."""
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


@dataclass(frozen=True)
class _Account:
    client_id: str
    public_pem: bytes


@dataclass(frozen=True)
class _Issued:
    subject: str | None
    scopes: frozenset[str]


class FakeGoogle(FakeProvider):
    def __init__(
        self,
        users: Iterable[Mapping[str, Any]] = (),
        tokens: Iterable[Mapping[str, Any]] = (),
        activities: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    ) -> None:
        super().__init__()
        self.users: list[dict[str, Any]] = [dict(u) for u in users]
        self.tokens: dict[str, list[dict[str, Any]]] = {}
        for token in tokens:
            self.tokens.setdefault(str(token["userKey"]), []).append(dict(token))
        self.activities: dict[str, list[dict[str, Any]]] = {
            app: [dict(a) for a in items] for app, items in (activities or {}).items()
        }
        self.accounts: dict[str, _Account] = {}
        self.delegation: dict[str, frozenset[str]] = {}
        self.issued: dict[str, _Issued] = {}
        self._counter = itertools.count(1)
        self._state_lock = threading.Lock()
        self.route("POST", "/token", self._token)
        self.route("GET", "/admin/directory/v1/users", self._list_users)
        self.route("GET", "/admin/directory/v1/users/<path:user_key>/tokens", self._list_tokens)
        # The discovery document's batchPath is "batch"; older docs show /batch/<api>/<version>.
        for path in ("/batch", "/batch/admin/directory_v1", "/batch/admin/directory/v1"):
            self.route("POST", path, self._batch)
        self.route(
            "GET",
            "/admin/reports/v1/activity/users/<user_key>/applications/<application>",
            self._list_activities,
        )

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, path: str | Path) -> FakeGoogle:
        folder = Path(path)

        def load(name: str) -> list[dict[str, Any]]:
            file = folder / name
            return json.loads(file.read_text(encoding="utf-8")) if file.exists() else []

        activities = {app: load(f"activities-{app}.json") for app in ("token", "login", "saml")}
        return cls(load("users.json"), load("tokens.json"), activities)

    def add_service_account(
        self,
        client_email: str = "shadowit@example-project.iam.gserviceaccount.com",
        client_id: str = "102938475610293847561",
        delegated_scopes: Iterable[str] | None = (SCOPE_USERS_READ, SCOPE_SECURITY, SCOPE_REPORTS),
        token_uri: str = JWT_AUDIENCE,
    ) -> dict[str, Any]:
        """Register a new service account; return its key JSON (as Google's console makes it).

        ``delegated_scopes=None`` leaves it without a domain-wide delegation entry."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.accounts[client_email] = _Account(client_id, public_pem)
        if delegated_scopes is not None:
            self.delegation[client_id] = frozenset(delegated_scopes)
        return {
            "type": "service_account",
            "project_id": "example-project",
            "private_key_id": uuid.uuid4().hex,
            "private_key": private_pem,
            "client_email": client_email,
            "client_id": client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }

    def delete_user(self, user_key: str) -> None:
        """Remove a user (its tokens.list then answers 404), as if deleted mid-scan."""
        user = self._user(user_key)
        if user is not None:
            self.users.remove(user)

    # -- OAuth token endpoint -------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        if request.form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        assertion = request.form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error(400, "invalid_grant", "Invalid JWT.")
        scopes = frozenset(str(claims.get("scope", "")).split())
        subject = claims.get("sub")
        if self.accounts:
            account = self.accounts.get(str(claims.get("iss")))
            if account is None:
                return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
            try:
                jwt.decode(
                    assertion, account.public_pem, algorithms=["RS256"], audience=JWT_AUDIENCE
                )
            except jwt.PyJWTError:
                return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
            delegated = self.delegation.get(account.client_id)
            if subject and (delegated is None or not scopes <= delegated):
                # Google's answer when the delegation entry lacks the client or a scope.
                return _oauth_error(
                    401,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or "
                    "client not authorized for any of the scopes requested.",
                )
            if subject and self._user(str(subject)) is None:
                return _oauth_error(400, "invalid_grant", "Invalid email or User ID")
        with self._state_lock:
            token = f"ya29.fake-{next(self._counter)}-{uuid.uuid4().hex[:12]}"
            self.issued[token] = _Issued(str(subject) if subject else None, scopes)
        return json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _authorize(self, request: Request, accepted: Iterable[str]) -> Response | None:
        """None if the bearer token may call a method documented with ``accepted`` scopes."""
        header = request.headers.get("Authorization", "")
        issued = self.issued.get(header.removeprefix("Bearer ").strip())
        if issued is None:
            return json_response(
                google_error(401, "authError", "Request had invalid authentication credentials."),
                401,
            )
        if not issued.scopes & set(accepted):
            return json_response(
                google_error(
                    403,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                ),
                403,
            )
        actor = self._user(issued.subject) if issued.subject else None
        if self.accounts and (actor is None or not actor.get("isAdmin")):
            return json_response(
                google_error(403, "forbidden", "Not Authorized to access this resource/api"), 403
            )
        return None

    # -- Directory ------------------------------------------------------------------------
    def _list_users(self, request: Request) -> Response:
        denied = self._authorize(request, (SCOPE_USERS_READ, SCOPE_USERS))
        if denied:
            return denied
        if not request.args.get("customer") and not request.args.get("domain"):
            return json_response(google_error(400, "badRequest", "Bad Request"), 400)
        size = parse_int(request.args.get("maxResults"), 100, 1, USERS_MAX)
        start = _decode_page_token(request.args.get("pageToken"))
        if start is None:
            return json_response(google_error(400, "invalid", "Invalid page token"), 400)
        users = sorted(self.users, key=lambda u: str(u.get("primaryEmail", "")))
        body: dict[str, Any] = {
            "kind": "admin#directory#users",
            "etag": '"fake-users-etag"',
            "users": users[start : start + size],
        }
        if start + size < len(users):
            body["nextPageToken"] = _encode_page_token(start + size)
        return json_response(body)

    def _list_tokens(self, request: Request, user_key: str) -> Response:
        denied = self._authorize(request, (SCOPE_SECURITY,))
        if denied:
            return denied
        user = self._user(user_key)
        if user is None:
            return json_response(google_error(404, "notFound", "Resource Not Found: userKey"), 404)
        items = self.tokens.get(str(user.get("id")), [])
        body: dict[str, Any] = {"kind": "admin#directory#tokenList", "etag": '"fake-etag"'}
        if items:  # Google leaves "items" out for a user without tokens.
            body["items"] = items
        return json_response(body)

    def _user(self, key: str | None) -> dict[str, Any] | None:
        if not key:
            return None
        lowered = key.lower()
        for user in self.users:
            if str(user.get("id")) == key or str(user.get("primaryEmail", "")).lower() == lowered:
                return user
        return None

    # -- batch ----------------------------------------------------------------------------
    def _batch(self, request: Request) -> Response:
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/mixed"):
            return json_response(google_error(400, "badRequest", "Expected multipart/mixed"), 400)
        raw = request.get_data()
        message = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + raw
        )
        parts = message.get_payload()
        if not isinstance(parts, list) or len(parts) > 1000:
            return json_response(google_error(400, "badRequest", "Too many calls in a batch"), 400)
        boundary = f"batch_{uuid.uuid4().hex}"
        chunks: list[str] = []
        for part in parts:
            assert isinstance(part, email.message.Message)
            content_id = str(part.get("Content-ID", ""))
            inner = self._inner_response(str(part.get_payload()))
            response_id = f"<response-{content_id[1:-1]}>" if content_id else ""
            chunks.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: {response_id}\r\n\r\n{inner}\r\n"
            )
        chunks.append(f"--{boundary}--\r\n")
        return Response("".join(chunks), mimetype=f"multipart/mixed; boundary={boundary}")

    def _inner_response(self, payload: str) -> str:
        """Serve one serialized request of a batch; return the serialized response."""
        request_line, _, rest = payload.replace("\r\n", "\n").partition("\n")
        method, target, _version = request_line.split(" ", 2)
        head, _, body = rest.partition("\n\n")
        headers = email.parser.Parser().parsestr(head, headersonly=True)
        url = urlsplit(target)
        builder = EnvironBuilder(
            path=url.path,
            query_string=url.query,
            method=method,
            headers=[(k, v) for k, v in headers.items() if k.lower() != "host"],
            data=body.encode("utf-8") if body else None,
        )
        response = self.dispatch(Request(builder.get_environ()))
        lines = [f"HTTP/1.1 {response.status}"]
        lines.append(f"Content-Type: {response.headers.get('Content-Type', 'application/json')}")
        for name in ("Retry-After",):
            if name in response.headers:
                lines.append(f"{name}: {response.headers[name]}")
        return "\r\n".join(lines) + "\r\n\r\n" + response.get_data(as_text=True)

    # -- Reports --------------------------------------------------------------------------
    def _list_activities(self, request: Request, user_key: str, application: str) -> Response:
        denied = self._authorize(request, (SCOPE_REPORTS,))
        if denied:
            return denied
        try:
            start = _time_arg(request.args.get("startTime"))
            end = _time_arg(request.args.get("endTime"))
        except ValueError:
            return json_response(
                google_error(400, "invalid", "Invalid value for startTime/endTime"), 400
            )
        if start and end and start >= end:
            return json_response(
                google_error(400, "invalid", "Start time must be before end time"), 400
            )
        event_name = request.args.get("eventName")
        size = parse_int(request.args.get("maxResults"), ACTIVITIES_MAX, 1, ACTIVITIES_MAX)
        offset = _decode_page_token(request.args.get("pageToken"))
        if offset is None:
            return json_response(google_error(400, "invalid", "Invalid page token"), 400)
        matching = []
        for activity in self.activities.get(application, []):
            at = _time_arg(activity["id"]["time"])
            assert at is not None
            if (start and at < start) or (end and at > end):
                continue
            actor = activity.get("actor") or {}
            if user_key != "all" and user_key not in (actor.get("email"), actor.get("profileId")):
                continue
            if event_name:
                events = [e for e in activity.get("events", []) if e.get("name") == event_name]
                if not events:
                    continue
                activity = {**activity, "events": events}
            matching.append((at, activity))
        # Newest first, as the Reports API lists them.
        matching.sort(key=lambda pair: pair[0], reverse=True)
        chunk = [a for _, a in matching[offset : offset + size]]
        body: dict[str, Any] = {"kind": "admin#reports#activities", "etag": '"fake-etag"'}
        if chunk:
            body["items"] = chunk
        if offset + size < len(matching):
            body["nextPageToken"] = _encode_page_token(offset + size)
        return json_response(body)

    def error_body(self, status: int) -> Any:
        reason = _REASONS.get(status, "backendError")
        return google_error(status, reason, f"injected fault ({reason})")


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _encode_page_token(offset: int) -> str:
    return f"PT{offset:08x}"


def _decode_page_token(token: str | None) -> int | None:
    if not token:
        return 0
    if not token.startswith("PT"):
        return None
    try:
        return int(token[2:], 16)
    except ValueError:
        return None


def _time_arg(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
