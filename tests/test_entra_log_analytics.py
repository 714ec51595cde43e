"""Entra sign-ins from Log Analytics: the real azure-monitor-query client over HTTPS to a
loopback query API (``connectors.testing.log_analytics``) beside FakeGraph."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "azure.monitor.query", reason="the logs extra is not installed (pip install -e '.[logs]')"
)

import requests  # noqa: E402

from connectors import entra  # noqa: E402
from connectors.base import ConnectorContext  # noqa: E402
from connectors.entra.log_analytics import app_only_query, signin_query  # noqa: E402
from connectors.testing.graph import FakeGraph  # noqa: E402
from connectors.testing.log_analytics import FakeLogAnalytics  # noqa: E402
from connectors.testing.server import LoopbackServer  # noqa: E402
from scanner.core.errors import ConfigError  # noqa: E402
from scanner.core.models import Checkpoint, SignIn, SignInDay, Skipped, SourceRecord  # noqa: E402
from scanner.core.settings import build  # noqa: E402
from scanner.store.database import Store  # noqa: E402
from tests.store_contents import scanned  # noqa: E402

PAYLOADS = Path(__file__).parent / "payloads" / "entra"
GOLDEN = Path(__file__).parent / "payloads" / "log_analytics"
CLIENT_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
SECRET = "correct-horse-battery-staple~42"
WORKSPACE = "7e1f0c2a-5b3d-4e6f-8a9b-0c1d2e3f4a5b"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


class Both:
    """One TLS origin: the query API under /v1/workspaces, Graph and its authority elsewhere."""

    def __init__(self, graph: FakeGraph, logs: FakeLogAnalytics) -> None:
        self.graph, self.logs = graph, logs

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = self.logs if environ["PATH_INFO"].startswith("/v1/workspaces") else self.graph
        return target(environ, start_response)


@pytest.fixture
def graph() -> FakeGraph:
    fake = FakeGraph.from_dir(PAYLOADS, page_size=2)
    fake.add_client(CLIENT_ID, secret=SECRET)
    return fake


@pytest.fixture
def logs(graph: FakeGraph) -> FakeLogAnalytics:
    tables = FakeLogAnalytics.rows_from_graph(graph.sign_ins)
    tables.setdefault("AADNonInteractiveUserSignInLogs", [])
    return FakeLogAnalytics(WORKSPACE, tables, NOW, accepts=graph.tokens_issued.__contains__)


@pytest.fixture
def server(graph: FakeGraph, logs: FakeLogAnalytics) -> Iterator[LoopbackServer]:
    with LoopbackServer(Both(graph, logs), tls=True) as srv:
        yield srv


class Harness:
    def __init__(self, server: LoopbackServer, graph: FakeGraph, logs: FakeLogAnalytics) -> None:
        self.server, self.graph, self.logs = server, graph, logs
        self.sleeps: list[float] = []
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = server.ca_path

    def connector(self, **overrides: Any) -> entra.EntraConnector:
        table: dict[str, Any] = {
            "tenant_id": self.graph.tenant,
            "client_id": CLIENT_ID,
            "client_secret_env": "ENTRA_TEST_SECRET",
            "authority_host": self.server.url,
            "graph_url": self.server.url,
            "log_analytics_url": self.server.url,
            "workspace_id": WORKSPACE,
            "signins": "log_analytics",
            "log_analytics_shards": 2,
            "signin_lookback_days": 7,
            "sign_in_activity": False,
            "reports_calls": 100,
            **overrides,
        }
        settings = build(entra.EntraSettings, table, "sources.entra", None)
        ctx = ConnectorContext(session=self.session, sleep=self.sleeps.append, now=NOW)
        return entra.SPEC.factory(settings, ctx)  # type: ignore[return-value]

    def collect(self, since: dict[str, str] | None = None, **overrides: Any) -> list[SourceRecord]:
        return list(self.connector(**overrides).collect(since or {}))


@pytest.fixture
def harness(
    server: LoopbackServer, graph: FakeGraph, logs: FakeLogAnalytics, monkeypatch: Any
) -> Harness:
    monkeypatch.setenv("ENTRA_TEST_SECRET", SECRET)
    return Harness(server, graph, logs)


def skipped(records: list[SourceRecord]) -> list[Skipped]:
    return [r for r in records if isinstance(r, Skipped)]


def test_kql_text_matches_the_golden_file() -> None:
    text = signin_query(
        ("SigninLogs", "AADNonInteractiveUserSignInLogs"), dt.date(2026, 2, 28), 1, 4
    )
    assert text + "\n" == (GOLDEN / "signins-day-shard.kql").read_text(encoding="utf-8")
    app_only = app_only_query(dt.date(2026, 2, 28))
    assert app_only + "\n" == (GOLDEN / "app-only-day.kql").read_text(encoding="utf-8")


def test_days_are_counted_in_the_workspace_and_no_graph_signin_listing_is_read(
    harness: Harness,
) -> None:
    records = harness.collect()
    days = [r for r in records if isinstance(r, SignInDay)]
    assert days and not [r for r in records if isinstance(r, SignIn)]
    assert not skipped(records)
    assert not harness.graph.requests_to("/v1.0/auditLogs/signIns")
    # 7 days x 2 shards plus one freshness probe per table (interactive only by default).
    assert len(harness.logs.queries) == 7 * 2 + 1
    alice = [d for d in days if d.user_email == "alice@contoso.example"]
    assert {d.day for d in alice} >= {dt.date(2026, 2, 28)}
    cursor = [r.cursor for r in records if isinstance(r, Checkpoint) and r.stream == "signins_la"]
    assert cursor[-1] == "2026-03-01"


def test_next_scan_rereads_only_the_trailing_days(harness: Harness) -> None:
    harness.collect({"signins_la": "2026-03-01"}, log_analytics_trailing_days=3)
    sums = [q for q in harness.logs.queries if q.startswith("union")]
    assert {q.split("datetime(")[1][:10] for q in sums} == {
        "2026-02-27",
        "2026-02-28",
        "2026-03-01",
    }


def test_same_inventory_as_the_graph_listing(harness: Harness, tmp_path: Path) -> None:
    """The store's usage and evidence from the workspace equal those from Graph's listing."""

    def scan(path: Path, **overrides: Any) -> dict[str, Any]:
        return scanned(path, "entra", harness.connector(**overrides).collect({}))

    common = {"non_interactive_signins": True, "signin_lookback_days": 30}
    via_graph = scan(tmp_path / "graph.db", signins="graph", **common)
    via_logs = scan(tmp_path / "logs.db", **common)
    assert via_graph["daily"], "the fixture tenant has sign-ins"
    assert via_logs == via_graph
    # Reading the same days again replaces them: nothing is counted twice.
    again = scan(tmp_path / "logs.db", **common)
    assert again == via_graph


def test_missing_role_is_one_line_and_the_source_partial(harness: Harness) -> None:
    harness.logs.fail(
        "/v1/workspaces",
        403,
        times=100,
        body={"error": {"code": "InsufficientAccessError", "message": "insufficient access"}},
    )
    (only,) = skipped(harness.collect())
    assert "assign it the Log Analytics Reader role on the workspace" in only.reason
    assert only.permission == f"Log Analytics Reader (workspace {WORKSPACE})"
    assert "\n" not in only.reason


def test_missing_table_names_the_diagnostic_setting_category(harness: Harness) -> None:
    del harness.logs.tables["AADNonInteractiveUserSignInLogs"]
    records = harness.collect(non_interactive_signins=True)
    (only,) = skipped(records)
    assert "has no table AADNonInteractiveUserSignInLogs" in only.reason
    assert "NonInteractiveUserSignInLogs to this workspace" in only.reason
    # The interactive table is still read, but no day counts as complete.
    assert [r for r in records if isinstance(r, SignInDay)]
    assert not [r for r in records if isinstance(r, Checkpoint) and r.stream == "signins_la"]


def test_no_recent_data_is_one_line(harness: Harness) -> None:
    harness.logs.tables["SigninLogs"] = []
    (only,) = skipped(harness.collect())
    assert "SigninLogs in workspace" in only.reason and "no rows in the last 7 days" in only.reason
    assert "Diagnostic settings" in only.reason


def test_partial_answer_is_a_ledger_entry_for_that_day_and_shard(harness: Harness) -> None:
    harness.logs.partial.add(("2026-02-28", 0))
    harness.logs.partial.add(("2026-02-28", 1))
    records = harness.collect()
    problems = skipped(records)
    assert [p.reason.split(" not read")[0] for p in problems] == [
        "2026-02-28 shard 1/2",
        "2026-02-28 shard 2/2",
    ]
    assert "PartialError" in problems[0].reason and "log_analytics_shards" in problems[0].reason
    assert not [r for r in records if isinstance(r, SignInDay) and r.day == dt.date(2026, 2, 28)]
    cursors = [r.cursor for r in records if isinstance(r, Checkpoint) and r.cursor]
    assert cursors[-1] == "2026-02-27"  # the next scan starts again at the partial day


def test_429_storm_gives_up_the_shard_after_the_retries(harness: Harness) -> None:
    # The freshness probe passes; then every query is throttled.
    harness.collect()  # warm: one successful scan
    harness.logs.queries.clear()
    harness.logs.fail("/v1/workspaces", 429, times=10_000, headers={"Retry-After": "2"})
    records = harness.collect(log_analytics_retries=2)
    problems = skipped(records)
    assert problems and all("throttled (HTTP 429) after 2 retries" in p.reason for p in problems)
    assert 2.0 in harness.sleeps  # Retry-After honoured through the connector's sleep


def test_unknown_workspace_and_bad_settings_are_config_lines(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="workspace_id: required"):
        harness.connector(workspace_id="")
    with pytest.raises(ConfigError, match="log_analytics_concurrency: 9 is out of range"):
        harness.connector(log_analytics_concurrency=9)
    (only,) = skipped(harness.collect(workspace_id="00000000-0000-0000-0000-000000000000"))
    assert "was not found (HTTP 404): check sources.entra.workspace_id" in only.reason


def test_doctor_probes_each_table(harness: Harness) -> None:
    probes = [p for p in harness.connector(non_interactive_signins=True).check()]
    logs = [p for p in probes if p.check.startswith("Log Analytics")]
    assert [p.ok for p in logs] == [True, True]
    del harness.logs.tables["SigninLogs"]
    failed = [p for p in harness.connector().check() if p.check.startswith("Log Analytics")]
    assert not failed[0].ok and "has no table SigninLogs" in failed[0].detail


def test_scan_command_exits_3_with_the_line(harness: Harness, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.app.cli import main

    harness.logs.fail("/v1/workspaces", 403, times=1000)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[store]
path = "inventory.db"
[report]
out = "reports"
formats = ["json"]
[sources.entra]
tenant_id = "{harness.graph.tenant}"
client_id = "{CLIENT_ID}"
client_secret_env = "ENTRA_TEST_SECRET"
authority_host = "{harness.server.url}"
graph_url = "{harness.server.url}"
ca_bundle = "{harness.server.ca_path}"
reports_calls = 100
signins = "log_analytics"
workspace_id = "{WORKSPACE}"
log_analytics_url = "{harness.server.url}"
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if "Log Analytics Reader" in line]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output


def test_without_the_extra_the_setting_is_one_config_line(
    harness: Harness, monkeypatch: Any
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "connectors.entra.log_analytics", None)
    with pytest.raises(ConfigError, match=r'signins = "log_analytics" needs the logs extra'):
        harness.connector()


def test_app_only_signins_are_app_evidence_without_a_person(
    harness: Harness, tmp_path: Path
) -> None:
    harness.logs.tables["AADServicePrincipalSignInLogs"] = [
        {
            "TimeGenerated": "2026-02-28T03:00:00.0000000Z",
            "AppId": "d0d0d000-1111-4222-8333-444455556666",
            "ServicePrincipalName": "Nightly Sync",
            "ResultType": "0",
        },
        {
            "TimeGenerated": "2026-02-28T04:00:00.0000000Z",
            "AppId": "d0d0d000-1111-4222-8333-444455556666",
            "ServicePrincipalName": "Nightly Sync",
            "ResultType": "7000215",
        },
    ]
    records = harness.collect(service_principal_signins=True)
    (app_only,) = [r for r in records if isinstance(r, SignInDay) and r.kind == "activity"]
    assert (app_only.successes, app_only.failures, app_only.user_email) == (1, 1, None)
    assert app_only.app_name == "Nightly Sync"
    store = Store.open(tmp_path / "s.db")
    try:
        run = store.begin_scan()
        store.begin_source(run, "entra")
        store.ingest(run, "entra", records)
        daily = store.db.execute(
            "SELECT count(*) FROM signin_daily WHERE client_id = ?", [app_only.client_id]
        ).fetchone()[0]
        evidence = store.db.execute(
            "SELECT kind, events, failures FROM app_evidence WHERE client_id = ?",
            [app_only.client_id],
        ).fetchall()
    finally:
        store.close()
    assert daily == 0 and evidence == [("activity", 2, 1)]


def test_missing_service_principal_table_names_its_category(harness: Harness) -> None:
    (only,) = skipped(harness.collect(service_principal_signins=True))
    assert "has no table AADServicePrincipalSignInLogs" in only.reason
    assert "ServicePrincipalSignInLogs to this workspace" in only.reason
