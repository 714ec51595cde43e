"""A BigQuery REST stand-in that really runs the SQL: ``jobs.query``, ``jobs.getQueryResults``,
``jobs.get`` and ``jobs.insert`` (dry runs) under ``/bigquery/v2`` on 127.0.0.1.

The query text (GoogleSQL) is transpiled by sqlglot to DuckDB and run by DuckDB over a table
in the Workspace export's ``activity`` schema (the columns ``connectors.google.bigquery``
documents; ``_PARTITIONTIME`` is a real column here, a pseudo-column in BigQuery), with the
request's ``queryParameters`` bound as DuckDB ``$name`` parameters. Answers follow the REST
shapes: ``schema.fields``, ``rows`` of ``{"f": [{"v": ...}]}`` with every value a string,
``pageToken`` while rows remain (https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/query,
https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/getQueryResults). A query whose
scanned bytes (``bytes_per_row`` per row of the partitions it reads) exceed
``maximumBytesBilled`` fails as BigQuery does, reason ``bytesBilledLimitExceeded``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import duckdb
import sqlglot
from werkzeug.wrappers import Request, Response

from connectors.testing.base import FakeProvider, json_response

ACTIVITY_DDL = """CREATE TABLE {table} (
  time_usec BIGINT, email VARCHAR, event_type VARCHAR, event_name VARCHAR,
  record_type VARCHAR, ip_address VARCHAR, _PARTITIONTIME TIMESTAMPTZ,
  login STRUCT(login_type VARCHAR, is_suspicious BOOLEAN, login_failure_type VARCHAR),
  saml STRUCT(application_name VARCHAR, initiated_by VARCHAR, status_code VARCHAR,
              failure_type VARCHAR),
  token STRUCT(client_id VARCHAR, app_name VARCHAR, scope VARCHAR[])
)"""


def bigquery_error(status: int, reason: str, message: str) -> Response:
    """The error body of the BigQuery REST API (``error.errors[].reason``)."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(
                status, "UNKNOWN"
            ),
        }
    }
    return json_response(body, status)


def to_duckdb(sql: str) -> str:
    """GoogleSQL -> DuckDB (``@name`` parameters become ``$name``)."""
    return sqlglot.transpile(sql, read="bigquery", write="duckdb")[0]


def _value(raw: dict[str, Any]) -> Any:
    kind = raw["parameterType"]["type"]
    value = raw["parameterValue"]["value"]
    if kind == "INT64":
        return int(value)
    if kind == "DATE":
        return date.fromisoformat(value)
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return str(value.timestamp())
    return str(value)


def _type(values: list[Any]) -> str:
    for value in values:
        if isinstance(value, bool):
            return "BOOLEAN"
        if isinstance(value, int):
            return "INTEGER"
        if isinstance(value, datetime):
            return "TIMESTAMP"
        if isinstance(value, date):
            return "DATE"
        if value is not None:
            return "STRING"
    return "STRING"


class FakeBigQuery(FakeProvider):
    """Project ``project`` with dataset ``dataset`` holding the export's ``activity`` table."""

    def __init__(
        self,
        project: str,
        dataset: str,
        accepts: Callable[[str], bool] = lambda token: bool(token),
        bytes_per_row: int = 64,
    ) -> None:
        super().__init__()
        self.project, self.dataset = project, dataset
        self.accepts = accepts
        self.bytes_per_row = bytes_per_row
        self.db = duckdb.connect(":memory:")
        self.db.execute(f"ATTACH ':memory:' AS \"{project}\"")
        self.db.execute(f'CREATE SCHEMA "{project}"."{dataset}"')
        self.table = f'"{project}"."{dataset}"."activity"'
        self.db.execute(ACTIVITY_DDL.format(table=self.table))
        self.has_table = True
        self.results: dict[str, tuple[list[dict[str, str]], list[list[Any]], int]] = {}
        self.queries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        base = "/bigquery/v2/projects/<project>"
        self.route("POST", f"{base}/queries", self._query)
        self.route("GET", f"{base}/queries/<job_id>", self._results)
        self.route("GET", f"{base}/jobs/<job_id>", self._job)
        self.route("POST", f"{base}/jobs", self._insert)

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Add activity rows (dicts of the table's columns; ``saml`` etc. as dicts)."""
        columns = ["time_usec", "email", "event_name", "record_type", "_PARTITIONTIME", "saml"]
        self.db.executemany(
            f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES (?, ?, ?, ?, ?, ?)",
            [[row.get(c) for c in columns] for row in rows],
        )

    # -- routes ----------------------------------------------------------------------------
    def _denied(self, request: Request, project: str) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not self.accepts(header[7:]):
            return bigquery_error(
                401, "authError", "Request had invalid authentication credentials."
            )
        if project != self.project:
            return bigquery_error(404, "notFound", f"Not found: Project {project}")
        return None

    def _run(self, body: dict[str, Any]) -> tuple[Response | None, str | None, int]:
        """Run (or dry-run) ``body``'s query; an error Response, or the job id and bytes."""
        if not self.has_table:
            message = f"Not found: Table {self.project}:{self.dataset}.activity was not found"
            return bigquery_error(404, "notFound", message), None, 0
        params = {p["name"]: _value(p) for p in body.get("queryParameters", [])}
        sql = to_duckdb(str(body["query"]))
        scanned = self._scanned(params) * self.bytes_per_row
        cap = body.get("maximumBytesBilled")
        if cap is not None and scanned > int(cap) and not body.get("dryRun"):
            message = f"Query exceeded limit for bytes billed: {cap}. {scanned} or higher required."
            return bigquery_error(400, "bytesBilledLimitExceeded", message), None, scanned
        job_id = f"job_{next(self._ids)}"
        if body.get("dryRun"):
            return None, job_id, scanned
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = [list(r) for r in cursor.fetchall()]
        fields = [
            {"name": n, "type": _type([r[i] for r in rows]), "mode": "NULLABLE"}
            for i, n in enumerate(names)
        ]
        self.results[job_id] = (fields, rows, scanned)
        return None, job_id, scanned

    def _scanned(self, params: dict[str, Any]) -> int:
        start = params.get("start_day")
        if start is None:
            row = self.db.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        else:
            sql = (
                f"SELECT count(*) FROM {self.table} WHERE _PARTITIONTIME >= CAST(? AS TIMESTAMPTZ)"
            )
            row = self.db.execute(sql, [start]).fetchone()
        return int(row[0]) if row else 0

    def _page(self, job_id: str, start: int, size: int) -> dict[str, Any]:
        fields, rows, scanned = self.results[job_id]
        chunk = rows[start : start + size]
        page: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": {"projectId": self.project, "jobId": job_id, "location": "US"},
            "schema": {"fields": fields},
            "totalRows": str(len(rows)),
            "rows": [{"f": [{"v": _cell(v)} for v in row]} for row in chunk],
            "totalBytesProcessed": str(scanned),
            "jobComplete": True,
            "cacheHit": False,
        }
        if start + size < len(rows):
            page["pageToken"] = str(start + size)
        return page

    def _query(self, request: Request, project: str) -> Response:
        denied = self._denied(request, project)
        if denied is not None:
            return denied
        body = json.loads(request.get_data() or b"{}")
        self.queries.append(body)
        error, job_id, scanned = self._run(body)
        if error is not None or job_id is None:
            return error or bigquery_error(500, "internalError", "no job")
        if body.get("dryRun"):
            return json_response(
                {
                    "kind": "bigquery#queryResponse",
                    "jobComplete": True,
                    "totalBytesProcessed": str(scanned),
                    "schema": {"fields": []},
                }
            )
        page = self._page(job_id, 0, int(body.get("maxResults") or 10_000))
        page["kind"] = "bigquery#queryResponse"
        return json_response(page)

    def _results(self, request: Request, project: str, job_id: str) -> Response:
        denied = self._denied(request, project)
        if denied is not None:
            return denied
        if job_id not in self.results:
            return bigquery_error(404, "notFound", f"Not found: Job {project}:US.{job_id}")
        start = int(request.args.get("pageToken") or 0)
        size = int(request.args.get("maxResults") or 10_000)
        return json_response(self._page(job_id, start, size))

    def _job_resource(self, job_id: str, query: str, scanned: int, dry: bool) -> dict[str, Any]:
        return {
            "kind": "bigquery#job",
            "id": f"{self.project}:US.{job_id}",
            "jobReference": {"projectId": self.project, "jobId": job_id, "location": "US"},
            "configuration": {"query": {"query": query, "useLegacySql": False}, "dryRun": dry},
            "status": {"state": "DONE"},
            "statistics": {
                "totalBytesProcessed": str(scanned),
                "query": {"totalBytesProcessed": str(scanned), "statementType": "SELECT"},
            },
        }

    def _job(self, request: Request, project: str, job_id: str) -> Response:
        denied = self._denied(request, project)
        if denied is not None:
            return denied
        if job_id not in self.results:
            return bigquery_error(404, "notFound", f"Not found: Job {project}:US.{job_id}")
        return json_response(self._job_resource(job_id, "", self.results[job_id][2], False))

    def _insert(self, request: Request, project: str) -> Response:
        """jobs.insert: only the dry runs ``doctor`` sends."""
        denied = self._denied(request, project)
        if denied is not None:
            return denied
        config = json.loads(request.get_data() or b"{}").get("configuration", {})
        query = config.get("query", {})
        body = {
            "query": query.get("query", ""),
            "queryParameters": query.get("queryParameters", []),
            "dryRun": config.get("dryRun", False),
        }
        self.queries.append(body)
        error, job_id, scanned = self._run(body)
        if error is not None or job_id is None:
            return error or bigquery_error(500, "internalError", "no job")
        return json_response(self._job_resource(job_id, body["query"], scanned, True))
