"""A Microsoft Graph and Entra token authority stand-in, for ``LoopbackServer(tls=True)``.

Serves, from plain lists of Graph-shaped dicts:

- the msal authority: ``/<tenant>/v2.0/.well-known/openid-configuration`` and the client
  credentials token endpoint ``/<tenant>/oauth2/v2.0/token`` (client secret, or a certificate
  client assertion checked by its ``x5t`` thumbprint and, when a public key is registered, its
  signature), with Entra's AADSTS error bodies;
- Graph v1.0 ``users`` (+ ``/delta``), ``servicePrincipals`` (+ ``/{id}``,
  ``/{id}/appRoleAssignments``, ``/delta``), both deltas with delta links, ``@removed`` items and
  ``$deltatoken=latest`` ("sync from now"), ``oauth2PermissionGrants`` (``$filter=clientId eq``),
  ``directory/deletedItems/{id}``, ``auditLogs/directoryAudits`` and ``auditLogs/signIns``;
  beta ``auditLogs/signIns`` (``signInEventTypes``) and
  ``reports/servicePrincipalSignInActivities``.

Paging follows Graph: ``$top`` clamped to each API's maximum, an opaque ``$skiptoken`` in an
absolute ``@odata.nextLink`` that carries the original query. ``page_size`` caps every page so
small fixtures still span several pages. Bearer tokens must come from the token endpoint.
``denied`` holds application permissions the app lacks (403 ``Authorization_RequestDenied``);
``premium = False`` answers sign-in reports with 403
``Authentication_RequestFromNonPremiumTenantOrB2CTenant``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from werkzeug.wrappers import Request, Response

from connectors.testing.base import FakeProvider, json_response, parse_int

DEFAULT_TENANT = "3f6c1a52-8d0e-4b7a-9c21-5e4d3b2a1f00"

_COLLECTIONS = {
    "users": "users.json",
    "service_principals": "servicePrincipals.json",
    "grants": "oauth2PermissionGrants.json",
    "app_role_assignments": "appRoleAssignments.json",
    "sign_ins": "signIns.json",
    "directory_audits": "directoryAudits.json",
    "sp_activities": "servicePrincipalSignInActivities.json",
}

# Route prefix -> the application permission the fake requires for it.
_PERMISSIONS = (
    ("/v1.0/users", "User.Read.All"),
    ("/v1.0/servicePrincipals", "Application.Read.All"),
    ("/v1.0/directory/deletedItems", "Application.Read.All"),
    ("/v1.0/oauth2PermissionGrants", "Directory.Read.All"),
    ("/v1.0/auditLogs", "AuditLog.Read.All"),
    ("/beta/auditLogs", "AuditLog.Read.All"),
    ("/beta/reports", "AuditLog.Read.All"),
)
_PREMIUM_ONLY = ("/v1.0/auditLogs/signIns", "/beta/auditLogs/signIns", "/beta/reports/")

_GE = r"{field}\s+ge\s+(\S+)"
_EQ = r"{field}\s+eq\s+'([^']*)'"


def graph_error(status: int, code: str, message: str) -> Response:
    """Graph's OData error body."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2026-01-01T00:00:00", "request-id": secrets.token_hex(8)},
        }
    }
    return json_response(body, status)


def _token_error(status: int, error: str, code: int, text: str) -> Response:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {secrets.token_hex(8)}",
        "error_codes": [code],
        "timestamp": "2026-01-01 00:00:00Z",
    }
    return json_response(body, status)


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    try:
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _project(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return dict(item)
    keep = {f.strip() for f in select.split(",")} | {"id", "@removed"}
    return {k: v for k, v in item.items() if k in keep}


class FakeGraph(FakeProvider):
    """Graph + token authority over collections of Graph-shaped items."""

    def __init__(
        self,
        tenant: str = DEFAULT_TENANT,
        *,
        users: Iterable[dict[str, Any]] = (),
        service_principals: Iterable[dict[str, Any]] = (),
        grants: Iterable[dict[str, Any]] = (),
        app_role_assignments: Iterable[dict[str, Any]] = (),
        sign_ins: Iterable[dict[str, Any]] = (),
        directory_audits: Iterable[dict[str, Any]] = (),
        sp_activities: Iterable[dict[str, Any]] = (),
        page_size: int | None = None,
    ) -> None:
        super().__init__()
        self.tenant = tenant
        self.users = list(users)
        self.service_principals = list(service_principals)
        self.grants = list(grants)
        self.app_role_assignments = list(app_role_assignments)
        self.sign_ins = list(sign_ins)
        self.directory_audits = list(directory_audits)
        self.sp_activities = list(sp_activities)
        self.page_size = page_size
        self.denied: set[str] = set()
        self.premium = True
        self.delta_expired = False
        self.clients: dict[str, dict[str, Any]] = {}
        self.tokens_issued: list[str] = []
        self.deleted_sps: dict[str, dict[str, Any]] = {}
        self._version = 0
        self._changes: dict[str, list[tuple[int, str]]] = {"servicePrincipals": [], "users": []}
        self._page_faults: list[list[Any]] = []
        self._routes()

    @classmethod
    def from_dir(cls, path: str | Path, **kwargs: Any) -> FakeGraph:
        """Load one JSON list per collection (users.json, servicePrincipals.json, ...)."""
        folder = Path(path)
        data: dict[str, Any] = {}
        for name, file in _COLLECTIONS.items():
            target = folder / file
            if target.exists():
                items = json.loads(target.read_text(encoding="utf-8"))
                if not isinstance(items, list):
                    raise ValueError(f"{target}: expected a JSON list of items")
                data[name] = items
        return cls(**{**data, **kwargs})

    # -- tenant set-up ---------------------------------------------------------------------
    def add_client(
        self,
        client_id: str,
        secret: str | None = None,
        thumbprint: str | None = None,
        public_key_pem: str | None = None,
    ) -> None:
        """Register an app that may get tokens with a secret or a certificate."""
        self.clients[client_id] = {
            "secret": secret,
            "thumbprint": thumbprint.lower() if thumbprint else None,
            "public_key": public_key_pem,
        }

    def upsert_service_principal(self, raw: dict[str, Any]) -> None:
        """Add or change a service principal (shows up in the next delta round)."""
        self.service_principals = [sp for sp in self.service_principals if sp["id"] != raw["id"]]
        self.service_principals.append(raw)
        self._changed("servicePrincipals", raw["id"])

    def delete_service_principal(self, object_id: str) -> None:
        """Soft-delete a service principal: gone from listings, kept in deleted items."""
        for sp in self.service_principals:
            if sp["id"] == object_id:
                self.deleted_sps[object_id] = sp
        self.service_principals = [sp for sp in self.service_principals if sp["id"] != object_id]
        self._changed("servicePrincipals", object_id)

    def upsert_user(self, raw: dict[str, Any]) -> None:
        """Add or change a user (shows up in the next users delta round)."""
        self.users = [u for u in self.users if u["id"] != raw["id"]]
        self.users.append(raw)
        self._changed("users", raw["id"])

    def delete_user(self, object_id: str) -> None:
        self.users = [u for u in self.users if u["id"] != object_id]
        self._changed("users", object_id)

    def fail_later_page(
        self, prefix: str, status: int, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Like ``fail()``, but only for follow-up pages (requests carrying ``$skiptoken``)."""
        self._page_faults.append([prefix, status, times, headers or {}])

    def _injected(self, request: Request) -> Response | None:
        if "$skiptoken" in request.args:
            with self._lock:
                for fault in self._page_faults:
                    if fault[2] > 0 and request.path.startswith(fault[0]):
                        fault[2] -= 1
                        return json_response(self.error_body(fault[1]), fault[1], dict(fault[3]))
        return super()._injected(request)

    def _changed(self, kind: str, object_id: str) -> None:
        self._version += 1
        self._changes[kind].append((self._version, object_id))

    # -- routing ---------------------------------------------------------------------------
    def _routes(self) -> None:
        self.route("GET", "/<tenant>/v2.0/.well-known/openid-configuration", self._openid)
        self.route("POST", "/<tenant>/oauth2/v2.0/token", self._token)
        graph = {
            "/v1.0/users": lambda r: self._list(r, self.users, 100, 999),
            "/v1.0/users/delta": lambda r: self._delta(r, "users"),
            "/v1.0/servicePrincipals": lambda r: self._list(r, self.service_principals, 100, 999),
            "/v1.0/servicePrincipals/delta": lambda r: self._delta(r, "servicePrincipals"),
            "/v1.0/servicePrincipals/<object_id>": self._sp_get,
            "/v1.0/servicePrincipals/<object_id>/appRoleAssignments": self._assignments,
            "/v1.0/directory/deletedItems/<object_id>": self._deleted_item,
            "/v1.0/oauth2PermissionGrants": self._grants,
            "/v1.0/auditLogs/directoryAudits": self._audits,
            "/v1.0/auditLogs/signIns": self._signins,
            "/beta/auditLogs/signIns": self._signins,
            "/beta/reports/servicePrincipalSignInActivities": lambda r: self._list(
                r, self.sp_activities, 100, 999
            ),
        }
        for pattern, handler in graph.items():
            self.route("GET", pattern, self._guard(handler))

    def error_body(self, status: int) -> Any:
        codes = {
            429: ("TooManyRequests", "Please retry again later."),
            503: ("ServiceUnavailable", "Service is temporarily unavailable."),
        }
        code, message = codes.get(status, (f"Http{status}", "Injected fault."))
        return {"error": {"code": code, "message": message, "innerError": {"status": status}}}

    def _guard(self, handler: Any) -> Any:
        def guarded(request: Request, **args: str) -> Response:
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer ") or header[7:] not in self.tokens_issued:
                return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
            for prefix, permission in _PERMISSIONS:
                if request.path.startswith(prefix) and permission in self.denied:
                    return graph_error(
                        403,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                    )
            if not self.premium and request.path.startswith(_PREMIUM_ONLY):
                return graph_error(
                    403,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                )
            answer: Response = handler(request, **args) if args else handler(request)
            return answer

        return guarded

    # -- authority -------------------------------------------------------------------------
    def _openid(self, request: Request, tenant: str) -> Response:
        if tenant != self.tenant:
            return _token_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        base = request.host_url.rstrip("/")
        return json_response(
            {
                "issuer": f"{base}/{tenant}/v2.0",
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                ],
            }
        )

    def _token(self, request: Request, tenant: str) -> Response:
        form = request.form
        if tenant != self.tenant:
            return _token_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _token_error(400, "unsupported_grant_type", 70003, "Unsupported grant type.")
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return _token_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{tenant}'.",
            )
        if not str(form.get("scope", "")).endswith("/.default"):
            return _token_error(400, "invalid_scope", 1002012, "The provided scope is invalid.")
        problem = self._client_problem(client, form)
        if problem:
            return problem
        token = secrets.token_urlsafe(24)
        self.tokens_issued.append(token)
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )

    def _client_problem(self, client: dict[str, Any], form: Any) -> Response | None:
        assertion = form.get("client_assertion")
        if assertion:
            return self._assertion_problem(client, assertion)
        if client["secret"] is None or form.get("client_secret") != client["secret"]:
            return _token_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID.",
            )
        return None

    def _assertion_problem(self, client: dict[str, Any], assertion: str) -> Response | None:
        try:
            header = jwt.get_unverified_header(assertion)
            x5t = header.get("x5t", "")
            thumb = base64.urlsafe_b64decode(x5t + "=" * (-len(x5t) % 4)).hex()
            if client["public_key"]:
                jwt.decode(
                    assertion,
                    client["public_key"],
                    algorithms=["RS256", "PS256"],
                    options={"verify_aud": False},
                )
        except (jwt.PyJWTError, ValueError):
            thumb = ""
        if not client["thumbprint"] or thumb != client["thumbprint"]:
            return _token_error(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation.",
            )
        return None

    # -- Graph collections -----------------------------------------------------------------
    def _list(
        self,
        request: Request,
        items: list[dict[str, Any]],
        default_top: int,
        max_top: int,
        extra: dict[str, Any] | None = None,
    ) -> Response:
        args = request.args
        top = parse_int(args.get("$top"), default_top, 1, max_top)
        if self.page_size:
            top = min(top, self.page_size)
        start = int(_decode(args.get("$skiptoken", "")).get("o", 0))
        chunk = items[start : start + top]
        body: dict[str, Any] = {
            "@odata.context": f"{request.host_url}v1.0/$metadata",
            "value": [_project(i, args.get("$select")) for i in chunk],
        }
        if start + top < len(items):
            query = {k: v for k, v in args.items() if k != "$skiptoken"}
            query["$skiptoken"] = _encode({"o": start + top})
            body["@odata.nextLink"] = f"{request.base_url}?{urlencode(query)}"
        body.update(extra or {})
        return json_response(body)

    def _sp_by_id(self, object_id: str) -> dict[str, Any] | None:
        return next((sp for sp in self.service_principals if sp["id"] == object_id), None)

    def _not_found(self, object_id: str) -> Response:
        return graph_error(
            404, "Request_ResourceNotFound", f"Resource '{object_id}' does not exist."
        )

    def _sp_get(self, request: Request, object_id: str) -> Response:
        sp = self._sp_by_id(object_id)
        if sp is None:
            return self._not_found(object_id)
        return json_response(_project(sp, request.args.get("$select")))

    def _deleted_item(self, request: Request, object_id: str) -> Response:
        sp = self.deleted_sps.get(object_id)
        if sp is None:
            return self._not_found(object_id)
        return json_response(_project(sp, request.args.get("$select")))

    def _assignments(self, request: Request, object_id: str) -> Response:
        if self._sp_by_id(object_id) is None:
            return self._not_found(object_id)
        held = [a for a in self.app_role_assignments if a.get("principalId") == object_id]
        return self._list(request, held, 100, 999)

    def _grants(self, request: Request) -> Response:
        """Delegated grants; ``$filter=clientId eq '{id}'`` as Graph documents."""
        client = re.search(_EQ.format(field="clientId"), request.args.get("$filter", ""))
        items = self.grants
        if client:
            items = [g for g in items if g.get("clientId") == client.group(1)]
        return self._list(request, items, 100, 999)

    def _delta(self, request: Request, kind: str) -> Response:
        """Delta round: all current items, then changes after the version in $deltatoken.

        ``$deltatoken=latest`` answers no items and a delta link from now on.
        """
        args = request.args
        base = request.base_url
        if args.get("$deltatoken") == "latest":
            token = _encode({"v": self._version, "s": args.get("$select")})
            link = f"{base}?{urlencode({'$deltatoken': token})}"
            return json_response({"value": [], "@odata.deltaLink": link})
        if "$deltatoken" in args:
            if self.delta_expired:
                return graph_error(
                    400,
                    "syncStateNotFound",
                    "The sync state generation is not found. The delta token is expired and "
                    "data must be synchronized again.",
                )
            state = _decode(args["$deltatoken"])
            state["since"] = int(state.get("v", 0))
            state["v"] = self._version
        else:
            state = _decode(args.get("$skiptoken", "")) or {
                "v": self._version,
                "s": args.get("$select"),
                "since": None,
            }
        items = self._delta_items(state.get("since"), kind)
        select = state.get("s")
        start = int(state.get("o", 0))
        top = self.page_size or 100
        chunk = [_project(i, select) for i in items[start : start + top]]
        body: dict[str, Any] = {"value": chunk}
        if start + top < len(items):
            body["@odata.nextLink"] = (
                f"{base}?{urlencode({'$skiptoken': _encode({**state, 'o': start + top})})}"
            )
        else:
            token = _encode({"v": state["v"], "s": select})
            body["@odata.deltaLink"] = f"{base}?{urlencode({'$deltatoken': token})}"
        return json_response(body)

    def _delta_items(
        self, since: int | None, kind: str = "servicePrincipals"
    ) -> list[dict[str, Any]]:
        current = self.users if kind == "users" else self.service_principals
        if since is None:
            return list(current)
        changed: list[str] = []
        for version, object_id in self._changes[kind]:
            if version > since and object_id not in changed:
                changed.append(object_id)
        by_id = {item["id"]: item for item in current}
        return [
            by_id.get(object_id) or {"id": object_id, "@removed": {"reason": "changed"}}
            for object_id in changed
        ]

    # -- reports ---------------------------------------------------------------------------
    def _audits(self, request: Request) -> Response:
        query = request.args.get("$filter", "")
        items = self.directory_audits
        activity = re.search(_EQ.format(field="activityDisplayName"), query)
        if activity:
            items = [a for a in items if a.get("activityDisplayName") == activity.group(1)]
        since = re.search(_GE.format(field="activityDateTime"), query)
        if since:
            items = [a for a in items if a.get("activityDateTime", "") >= since.group(1)]
        items = sorted(items, key=lambda a: a.get("activityDateTime", ""), reverse=True)
        return self._list(request, items, 1000, 1000)

    def _signins(self, request: Request) -> Response:
        """v1.0: interactive sign-ins only; beta: filter on signInEventTypes. Newest first."""
        query = request.args.get("$filter", "")
        since = re.search(_GE.format(field="createdDateTime"), query)
        non_interactive = "nonInteractiveUser" in query
        beta = request.path.startswith("/beta/")
        items = []
        for item in self.sign_ins:
            interactive = item.get("isInteractive", True) is not False
            if beta and non_interactive and interactive:
                continue
            if not (beta and non_interactive) and not interactive:
                continue
            if since and _stamp(item.get("createdDateTime")) < _stamp(since.group(1)):
                continue
            items.append(item)
        items.sort(key=lambda s: _stamp(s.get("createdDateTime")), reverse=True)
        return self._list(request, items, 1000, 1000)


def _stamp(value: Any) -> str:
    """Comparable form of a UTC Graph timestamp (drop the Z and pad the fraction)."""
    text = str(value or "").rstrip("Zz")
    head, _, fraction = text.partition(".")
    return f"{head}.{fraction.ljust(7, '0')}"
