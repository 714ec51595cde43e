"""A Log Analytics query API stand-in: ``POST /v1/workspaces/{id}/query`` on 127.0.0.1.

It answers the documented shape (``tables`` of ``columns`` and ``rows``; a non-fatal error as a
200 with an ``error`` object whose code is ``PartialError``; fatal errors as a OneAPI error,
https://learn.microsoft.com/en-us/azure/azure-monitor/logs/api/response-format) for the two KQL
texts ``connectors.entra.log_analytics`` sends, evaluated in Python over rows of the tables'
documented columns. It is no KQL engine: a query of another shape is a 400.
``hash(UserId, N)`` is modelled by CRC-32, as only its consistency matters.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.testing.base import FakeProvider, json_response

_FRESHNESS = re.compile(r"^(\w+)\n\| where TimeGenerated > ago\((\d+)d\)")
_UNION = re.compile(
    r"^union (?P<tables>[\w, ]+)\n\| where TimeGenerated >= datetime\((?P<start>[^)]+)\) and "
    r"TimeGenerated < datetime\((?P<end>[^)]+)\)\n\| where hash\(UserId, (?P<n>\d+)\) == "
    r"(?P<shard>\d+)\n"
)
_APP_ONLY = re.compile(
    r"^AADServicePrincipalSignInLogs\n\| where TimeGenerated >= datetime\((?P<start>[^)]+)\) "
    r"and TimeGenerated < datetime\((?P<end>[^)]+)\)\n"
)
COLUMNS = [
    ("AppId", "string"),
    ("UserId", "string"),
    ("Successes", "long"),
    ("Failures", "long"),
    ("FirstAt", "datetime"),
    ("LastOkAt", "datetime"),
    ("AppName", "string"),
    ("Upn", "string"),
]


def one_api_error(status: int, code: str, message: str, inner: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": "SemanticError", "message": inner}
    return json_response({"error": error}, status)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _kql_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeLogAnalytics(FakeProvider):
    """Workspace ``workspace_id`` holding ``tables``: name -> rows (dicts of table columns)."""

    def __init__(
        self,
        workspace_id: str,
        tables: dict[str, list[dict[str, Any]]],
        now: datetime,
        accepts: Callable[[str], bool] = lambda token: bool(token),
    ) -> None:
        super().__init__()
        self.workspace_id = workspace_id
        self.tables = tables
        self.now = now
        self.accepts = accepts
        self.partial: set[tuple[str, int]] = set()
        """(day, shard) whose answers come back PARTIAL."""
        self.queries: list[str] = []
        self.route("POST", "/v1/workspaces/<workspace>/query", self._query)

    @staticmethod
    def rows_from_graph(sign_ins: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Graph sign-ins as the rows diagnostic settings write for the same events."""
        tables: dict[str, list[dict[str, Any]]] = {"SigninLogs": []}
        for s in sign_ins:
            table = (
                "SigninLogs"
                if s.get("isInteractive", True) is not False
                else "AADNonInteractiveUserSignInLogs"
            )
            tables.setdefault(table, []).append(
                {
                    "TimeGenerated": s["createdDateTime"],
                    "AppId": s["appId"],
                    "AppDisplayName": s.get("appDisplayName"),
                    "UserId": s.get("userId"),
                    "UserPrincipalName": s.get("userPrincipalName"),
                    "ResultType": str((s.get("status") or {}).get("errorCode", 0)),
                }
            )
        return tables

    def _query(self, request: Request, workspace: str) -> Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not self.accepts(header[7:]):
            return one_api_error(
                401, "AuthorizationRequiredError", "Valid authentication was not provided"
            )
        if workspace != self.workspace_id:
            return one_api_error(404, "WorkspaceNotFoundError", f"Workspace {workspace} not found")
        query = str(json.loads(request.get_data() or b"{}").get("query", ""))
        self.queries.append(query)
        fresh = _FRESHNESS.match(query)
        if fresh:
            return self._freshness(fresh.group(1), int(fresh.group(2)))
        union = _UNION.match(query)
        if union:
            return self._summarize(union)
        app_only = _APP_ONLY.match(query)
        if app_only:
            return self._app_only(app_only)
        return one_api_error(400, "BadArgumentError", "The request had some invalid properties")

    def _missing(self, table: str) -> Response:
        return one_api_error(
            400,
            "BadArgumentError",
            "The request had some invalid properties",
            f"'where' operator: Failed to resolve table or column expression named '{table}'",
        )

    def _freshness(self, table: str, days: int) -> Response:
        if table not in self.tables:
            return self._missing(table)
        since = self.now - timedelta(days=days)
        times = [_time(r["TimeGenerated"]) for r in self.tables[table]]
        recent = [t for t in times if t > since]
        latest = _kql_time(max(recent)) if recent else None
        columns = [{"name": "Latest", "type": "datetime"}, {"name": "Rows", "type": "long"}]
        return json_response(
            {
                "tables": [
                    {"name": "PrimaryResult", "columns": columns, "rows": [[latest, len(recent)]]}
                ]
            }
        )

    def _app_only(self, match: re.Match[str]) -> Response:
        table = "AADServicePrincipalSignInLogs"
        if table not in self.tables:
            return self._missing(table)
        start, end = _time(match["start"]), _time(match["end"])
        groups: dict[str, dict[str, Any]] = {}
        for row in self.tables[table]:
            at = _time(row["TimeGenerated"])
            if not start <= at < end:
                continue
            g = groups.setdefault(row["AppId"], {"ok": 0, "failed": 0, "first": at, "last": None})
            ok = row.get("ResultType") == "0"
            g["ok" if ok else "failed"] += 1
            g["first"] = min(g["first"], at)
            if ok and (g["last"] is None or at > g["last"]):
                g["last"] = at
            g["name"] = g.get("name") or row.get("ServicePrincipalName")
        columns = [
            ("AppId", "string"),
            ("Successes", "long"),
            ("Failures", "long"),
            ("FirstAt", "datetime"),
            ("LastOkAt", "datetime"),
            ("AppName", "string"),
        ]
        rows = [
            [
                app,
                g["ok"],
                g["failed"],
                _kql_time(g["first"]),
                _kql_time(g["last"]) if g["last"] else None,
                g.get("name"),
            ]
            for app, g in sorted(groups.items())
        ]
        return json_response(
            {
                "tables": [
                    {
                        "name": "PrimaryResult",
                        "columns": [{"name": n, "type": t} for n, t in columns],
                        "rows": rows,
                    }
                ]
            }
        )

    def _summarize(self, match: re.Match[str]) -> Response:
        names = [t.strip() for t in match["tables"].split(",")]
        for name in names:
            if name not in self.tables:
                return self._missing(name)
        start, end = _time(match["start"]), _time(match["end"])
        shards, shard = int(match["n"]), int(match["shard"])
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for name in names:
            for row in self.tables[name]:
                at = _time(row["TimeGenerated"])
                user = str(row.get("UserId") or "")
                if not start <= at < end or zlib.crc32(user.encode()) % shards != shard:
                    continue
                g = groups.setdefault(
                    (row["AppId"], user),
                    {"ok": 0, "failed": 0, "first": at, "last_ok": None, "app": None, "upn": None},
                )
                ok = row.get("ResultType") == "0"
                g["ok" if ok else "failed"] += 1
                g["first"] = min(g["first"], at)
                if ok and (g["last_ok"] is None or at > g["last_ok"]):
                    g["last_ok"] = at
                g["app"] = g["app"] or row.get("AppDisplayName")
                g["upn"] = g["upn"] or row.get("UserPrincipalName")
        rows = [
            [
                app,
                user,
                g["ok"],
                g["failed"],
                _kql_time(g["first"]),
                _kql_time(g["last_ok"]) if g["last_ok"] else None,
                g["app"],
                g["upn"],
            ]
            for (app, user), g in sorted(groups.items())
        ]
        body: dict[str, Any] = {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": n, "type": t} for n, t in COLUMNS],
                    "rows": rows,
                }
            ]
        }
        if (start.date().isoformat(), shard) in self.partial:
            body["tables"][0]["rows"] = rows[: len(rows) // 2]
            body["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [
                    {
                        "code": "EngineError",
                        "message": "Something went wrong processing your query on the server.",
                        "innererror": {
                            "code": "-2133196708",
                            "message": "Query result set has exceeded the internal data size "
                            "limit 64000000 (E_QUERY_RESULT_SET_TOO_LARGE)",
                        },
                    }
                ],
            }
        return json_response(body)
