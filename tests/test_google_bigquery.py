"""Google sign-ins from the Workspace BigQuery export: the real google-cloud-bigquery client
against a loopback jobs.query / getQueryResults stand-in that runs the generated SQL through
sqlglot and DuckDB over a table in the export's ``activity`` schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "google.cloud.bigquery", reason="the logs extra is not installed (pip install -e '.[logs]')"
)
pytest.importorskip("duckdb", reason="the logs extra is not installed (pip install -e '.[logs]')")

from connectors.base import ConnectorContext  # noqa: E402
from connectors.google.bigquery import SCOPE, signin_sql, window_parameters  # noqa: E402
from connectors.google.collect import GoogleConnector  # noqa: E402
from connectors.google.settings import GoogleSettings  # noqa: E402
from connectors.testing.bigquery import FakeBigQuery, to_duckdb  # noqa: E402
from connectors.testing.google import FakeGoogle  # noqa: E402
from connectors.testing.server import LoopbackServer  # noqa: E402
from scanner.core.errors import ConfigError  # noqa: E402
from scanner.core.models import Checkpoint, SignIn, SignInDay, Skipped, SourceRecord  # noqa: E402
from tests.store_contents import scanned  # noqa: E402

PAYLOADS = Path(__file__).parent / "payloads" / "google"
GOLDEN = Path(__file__).parent / "payloads" / "bigquery"
ADMIN = "ada.admin@example.com"
PROJECT, DATASET = "acme-logs", "workspace_export"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def activities() -> dict[str, list[dict[str, Any]]]:
    """Login and SAML events of the last days: the payload ones plus a few generated."""
    login, saml = load("activities-login.json"), load("activities-saml.json")
    for n, hours in enumerate((5, 30, 54, 80)):
        item = json.loads(json.dumps(saml[0]))
        item["id"]["time"] = (NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        item["id"]["uniqueQualifier"] = f"77{n}"
        item["events"][0]["name"] = "login_failure" if n == 2 else "login_success"
        if n == 3:
            item["events"][0]["parameters"][0]["value"] = "Miro"
        saml.append(item)
    return {"login": login, "saml": saml, "token": []}


def export_rows(items: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The same events as rows of the export's activity table (ingested an hour later)."""
    rows = []
    for record_type in ("login", "saml"):
        for item in items[record_type]:
            at = datetime.fromisoformat(item["id"]["time"].replace("Z", "+00:00"))
            for event in item["events"]:
                params = {p["name"]: p.get("value") for p in event.get("parameters", [])}
                rows.append(
                    {
                        "time_usec": int(at.timestamp() * 1_000_000),
                        "email": item["actor"].get("email"),
                        "event_name": event["name"],
                        "record_type": record_type,
                        "_PARTITIONTIME": (at + timedelta(hours=1)).replace(
                            hour=0, minute=0, second=0, microsecond=0
                        ),
                        "saml": {
                            "application_name": params.get("application_name"),
                            "initiated_by": None,
                            "status_code": None,
                            "failure_type": None,
                        }
                        if record_type == "saml"
                        else None,
                    }
                )
    return rows


class Both:
    def __init__(self, google: FakeGoogle, bq: FakeBigQuery) -> None:
        self.google, self.bq = google, bq

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = self.bq if environ["PATH_INFO"].startswith("/bigquery/") else self.google
        return target(environ, start_response)


@pytest.fixture
def google() -> FakeGoogle:
    return FakeGoogle(load("users.json"), load("tokens.json"), activities())


@pytest.fixture
def bq(google: FakeGoogle) -> FakeBigQuery:
    def accepts(token: str) -> bool:
        issued = google.issued.get(token)
        return issued is not None and SCOPE in issued.scopes

    fake = FakeBigQuery(PROJECT, DATASET, accepts=accepts)
    fake.insert(export_rows(google.activities))
    return fake


@pytest.fixture
def server(google: FakeGoogle, bq: FakeBigQuery) -> Iterator[LoopbackServer]:
    with LoopbackServer(Both(google, bq)) as srv:
        yield srv


class Harness:
    def __init__(self, google: FakeGoogle, bq: FakeBigQuery, server: LoopbackServer, tmp: Path):
        self.google, self.bq, self.server = google, bq, server
        self.key_path = tmp / "key.json"
        self.key_path.write_text(json.dumps(google.add_service_account()), encoding="utf-8")
        self.sleeps: list[float] = []

    def connector(self, **overrides: Any) -> GoogleConnector:
        values: dict[str, Any] = {
            "admin_email": ADMIN,
            "key_file": str(self.key_path),
            "api_root": self.server.url + "/",
            "token_uri": self.server.url + "/token",
            "events": "bigquery",
            "project": PROJECT,
            "dataset": DATASET,
            "bigquery_url": self.server.url,
            "lookback_days": 7,
            "bigquery_retry_seconds": 0.4,
            **overrides,
        }
        context = ConnectorContext(now=NOW, sleep=self.sleeps.append)
        return GoogleConnector(GoogleSettings(**values), context)

    def collect(self, since: dict[str, str] | None = None, **overrides: Any) -> list[SourceRecord]:
        return list(self.connector(**overrides).collect(since or {}))


@pytest.fixture
def harness(
    google: FakeGoogle, bq: FakeBigQuery, server: LoopbackServer, tmp_path: Path
) -> Harness:
    return Harness(google, bq, server, tmp_path)


def skipped(records: list[SourceRecord]) -> list[Skipped]:
    return [r for r in records if isinstance(r, Skipped)]


def test_sql_text_matches_the_golden_file() -> None:
    text = signin_sql(f"{PROJECT}.{DATASET}.activity")
    assert text + "\n" == (GOLDEN / "signins.sql").read_text(encoding="utf-8")


def test_sql_aggregates_in_duckdb_over_the_export_schema(bq: FakeBigQuery) -> None:
    """The aggregation logic itself, run for real: counts per app, person and day."""
    sql = to_duckdb(signin_sql(f"{PROJECT}.{DATASET}.activity"))
    params = {p.name: p.value for p in window_parameters(date(2026, 11, 19), date(2026, 11, 26))}
    rows = bq.db.execute(sql, params).fetchall()
    canva = [r for r in rows if r[1] == "Canva"]
    by_day = {(r[3], r[4], r[5]) for r in canva}
    assert (date(2026, 11, 24), 2, 0) in by_day  # the payload's 08:05 plus the 07:00 event
    assert (date(2026, 11, 23), 0, 1) in by_day  # the failure: counted apart, no last success
    assert [r for r in canva if r[3] == date(2026, 11, 23)][0][7] is None
    assert {r[1] for r in rows if r[0] == "saml"} == {"Canva", "Miro"}
    assert {r[1] for r in rows if r[0] == "login"} == {"google-workspace"}
    # Pruning: a window after every event reads no partition and returns nothing.
    later = {p.name: p.value for p in window_parameters(date(2026, 12, 1), date(2026, 12, 2))}
    assert bq.db.execute(sql, later).fetchall() == []


def test_days_come_from_bigquery_and_no_reports_signin_listing_is_read(harness: Harness) -> None:
    records = harness.collect()
    days = [r for r in records if isinstance(r, SignInDay)]
    assert days and not [r for r in records if isinstance(r, SignIn)]
    assert not skipped(records)
    assert not harness.google.requests_to("/admin/reports/v1/activity/users/all/applications/saml")
    (query,) = harness.bq.queries
    assert int(query["maximumBytesBilled"]) == 10 * 1024**3
    assert {p["name"] for p in query["queryParameters"]} == {"start_day", "start_usec", "end_usec"}
    cursor = [
        r.cursor for r in records if isinstance(r, Checkpoint) and r.stream == "bigquery_events"
    ]
    assert cursor[-1] == "2026-11-25"


def test_results_are_paged_with_page_tokens(harness: Harness, monkeypatch: Any) -> None:
    monkeypatch.setattr("connectors.google.bigquery.PAGE_ROWS", 2)
    records = harness.collect()
    assert len([r for r in records if isinstance(r, SignInDay)]) > 2
    assert harness.bq.log and any("pageToken" in r.args for r in harness.bq.log)


def test_same_inventory_as_the_reports_api(harness: Harness, tmp_path: Path) -> None:
    def scan(path: Path, **overrides: Any) -> dict[str, Any]:
        return scanned(path, "google", harness.connector(**overrides).collect({}))

    via_reports = scan(tmp_path / "reports.db", events="reports")
    via_bigquery = scan(tmp_path / "bigquery.db")
    assert ("Miro", "saml") in via_reports["apps"]
    assert via_bigquery == via_reports
    assert scan(tmp_path / "bigquery.db") == via_reports  # a re-read window counts nothing twice


def test_byte_cap_exceeded_is_one_line_and_the_source_partial(harness: Harness) -> None:
    (only,) = skipped(harness.collect(maximum_bytes_billed=100))
    assert "would scan more than sources.google.maximum_bytes_billed (100 bytes)" in only.reason
    assert not [r for r in harness.collect(maximum_bytes_billed=100) if isinstance(r, SignInDay)]


def test_missing_role_names_the_roles(harness: Harness) -> None:
    harness.bq.fail(
        "/bigquery/v2",
        403,
        times=100,
        body={
            "error": {
                "code": 403,
                "message": "Access Denied: Project acme-logs: User does not have "
                "bigquery.jobs.create permission in project acme-logs.",
                "errors": [
                    {"message": "Access Denied", "domain": "global", "reason": "accessDenied"}
                ],
                "status": "PERMISSION_DENIED",
            }
        },
    )
    (only,) = skipped(harness.collect())
    assert "grant it BigQuery Job User on the project and BigQuery Data Viewer" in only.reason
    assert only.permission is not None and "\n" not in only.reason


def test_missing_table_points_at_the_export_setting(harness: Harness) -> None:
    harness.bq.has_table = False
    (only,) = skipped(harness.collect())
    assert f"{PROJECT}.{DATASET}.activity was not found" in only.reason
    assert "BigQuery export" in only.reason


def test_no_recent_data_is_one_line(harness: Harness) -> None:
    harness.bq.db.execute(f"DELETE FROM {harness.bq.table} WHERE time_usec > 1795000000000000")
    records = harness.collect()
    problems = skipped(records)
    assert len(problems) == 1 and "has no login or SAML events" in problems[0].reason


def test_429_storm_gives_up_within_the_retry_budget(harness: Harness) -> None:
    harness.bq.fail(
        "/bigquery/v2",
        429,
        times=10_000,
        body={
            "error": {
                "code": 429,
                "message": "Exceeded rate limits: too many api requests per user per method",
                "errors": [
                    {"message": "rate", "domain": "usageLimits", "reason": "rateLimitExceeded"}
                ],
                "status": "RESOURCE_EXHAUSTED",
            }
        },
    )
    (only,) = skipped(harness.collect())
    assert "throttled by BigQuery for 0.4 s (sources.google.bigquery_retry_seconds)" in only.reason
    assert len(harness.bq.log) > 1  # retried before giving up


def test_settings_name_what_is_missing(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="sources.google.dataset: required"):
        harness.connector(dataset="")
    with pytest.raises(ConfigError, match='sources.google.events: "reports" or "bigquery"'):
        harness.connector(events="bq")


def test_dry_run_estimate(harness: Harness) -> None:
    reader = harness.connector().bigquery
    assert reader is not None
    rows = harness.bq.db.execute(f"SELECT count(*) FROM {harness.bq.table}").fetchone()[0]
    assert reader.estimate() == harness.bq.bytes_per_row * rows
    assert harness.bq.queries[-1]["dryRun"] is True


def test_doctor_prints_the_estimate_and_the_cap(harness: Harness) -> None:
    (ok,) = [p for p in harness.connector().check() if p.check.startswith("BigQuery export")]
    assert ok.ok and "would scan" in ok.detail
    (over,) = [
        p
        for p in harness.connector(maximum_bytes_billed=10).check()
        if p.check.startswith("BigQuery export")
    ]
    assert not over.ok and "over the cap of 10" in over.detail


def test_scan_command_exits_3_with_the_line(harness: Harness, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.app.cli import main

    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[store]
path = "inventory.db"
[report]
out = "reports"
formats = ["json"]
[sources.google]
admin_email = "{ADMIN}"
key_file = "{harness.key_path}"
api_root = "{harness.server.url}/"
token_uri = "{harness.server.url}/token"
events = "bigquery"
project = "{PROJECT}"
dataset = "{DATASET}"
bigquery_url = "{harness.server.url}"
maximum_bytes_billed = 100
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if "maximum_bytes_billed" in line]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output


def test_without_the_extra_the_setting_is_one_config_line(
    harness: Harness, monkeypatch: Any
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "connectors.google.bigquery", None)
    with pytest.raises(ConfigError, match=r'events = "bigquery" needs the logs extra'):
        harness.connector()


def test_byte_cap_reported_as_a_server_error_is_read_the_same(harness: Harness) -> None:
    message = "Query exceeded limit for bytes billed: 100. 512 or higher required."
    harness.bq.fail(
        "/bigquery/v2",
        500,
        times=10,
        body={
            "error": {
                "code": 500,
                "message": message,
                "errors": [
                    {"message": message, "domain": "global", "reason": "bytesBilledLimitExceeded"}
                ],
            }
        },
    )
    (only,) = skipped(harness.collect())
    assert "would scan more than sources.google.maximum_bytes_billed" in only.reason
    assert len(harness.bq.log) == 1  # not retried: it would fail the same way
