"""``shadowit scan --config`` with an Okta block (on a local fake) and two file imports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.app.cli import main
from scanner.store.database import Store

PAYLOADS = Path(__file__).parent / "payloads" / "okta"
IMPORTS = Path(__file__).parent / "data" / "imports"


@pytest.fixture
def okta() -> Iterator[tuple[FakeOkta, LoopbackServer]]:
    fake = FakeOkta.from_dir(PAYLOADS, api_tokens={"scan-token": None})
    # Move the fixture events into the last days so a 30-day lookback sees them.
    shift = datetime.now(UTC) - datetime(2026, 11, 20, tzinfo=UTC)
    for event in fake.logs:
        when = datetime.fromisoformat(event["published"].replace("Z", "+00:00")) + shift
        event["published"] = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with LoopbackServer(fake) as server:
        yield fake, server


def write_config(folder: Path, org_url: str, formats: str = '["json", "csv"]') -> Path:
    shutil.copy(IMPORTS / "spesen-2026-11.csv", folder / "spesen.csv")
    shutil.copy(IMPORTS / "casb-usage-2026-11.csv", folder / "casb.csv")
    config = folder / "config.toml"
    config.write_text(
        f"""
[store]
path = "inventory.db"

[report]
out = "reports"
formats = {formats}

[sources.okta]
org_url = "{org_url}"
token_env = "SHADOWIT_TEST_OKTA_TOKEN"

[sources.files]
[[sources.files.imports]]
path = "spesen.csv"
kind = "expenses"
decimal = ","
[sources.files.imports.columns]
vendor = "Händler"
amount = "Betrag"
currency = "Währung"
date = "Buchungsdatum"
email = "Mitarbeiter"

[[sources.files.imports]]
path = "casb.csv"
kind = "usage"
source_name = "casb"
[sources.files.imports.columns]
app = "Application"
domain = "Domain"
user = "User"
last_used = "Last Seen"
""",
        encoding="utf-8",
    )
    return config


def test_scan_fills_the_store_from_okta_and_files(
    okta: tuple[FakeOkta, LoopbackServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = okta
    monkeypatch.setenv("SHADOWIT_TEST_OKTA_TOKEN", "scan-token")
    config = write_config(tmp_path, server.url)
    result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert result.exit_code == 0, result.output

    store = Store.open(tmp_path / "inventory.db")
    try:
        rows = list(store.db.query("SELECT source, client_id, name FROM raw_apps"))
    finally:
        store.db.close()
    sources = {r["source"] for r in rows}
    assert {"okta", "expenses", "casb"} <= sources
    names = {(r["source"], r["name"]) for r in rows}
    assert ("okta", "Salesforce.com") in names
    assert ("expenses", "Miro") in names
    assert ("casb", '=HYPERLINK("http://evil.example/x","Click")') in names
    # Hostile cells from the CASB export reach the spreadsheets as inert text.
    apps_csv = (tmp_path / "reports" / "apps.csv").read_text(encoding="utf-8")
    assert "\"'=HYPERLINK(" in apps_csv and ",=HYPERLINK(" not in apps_csv
    assert ",'+cmd|" in apps_csv and ",'@SUM(A1:A9)" in apps_csv


def test_hostile_cells_are_escaped_in_the_html_report(
    okta: tuple[FakeOkta, LoopbackServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = okta
    monkeypatch.setenv("SHADOWIT_TEST_OKTA_TOKEN", "scan-token")
    config = write_config(tmp_path, server.url, formats='["html"]')
    result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "reports" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    # The name is there, as inert text: escaped in markup or in the embedded JSON.
    assert "&lt;script&gt;alert(" in html or "\\u003cscript\\u003ealert(" in html


def test_scan_with_a_revoked_token_exits_2(
    okta: tuple[FakeOkta, LoopbackServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = okta
    monkeypatch.setenv("SHADOWIT_TEST_OKTA_TOKEN", "revoked")
    config = write_config(tmp_path, server.url)
    result = CliRunner().invoke(main, ["scan", "--config", str(config), "--no-report"])
    assert result.exit_code == 2
    assert "SHADOWIT_TEST_OKTA_TOKEN was rejected by" in result.output


def test_scan_with_a_missing_import_exits_2(
    okta: tuple[FakeOkta, LoopbackServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = okta
    monkeypatch.setenv("SHADOWIT_TEST_OKTA_TOKEN", "scan-token")
    config = write_config(tmp_path, server.url)
    (tmp_path / "casb.csv").unlink()
    result = CliRunner().invoke(main, ["scan", "--config", str(config), "--no-report"])
    assert result.exit_code == 2
    assert "sources.files.imports[1].path: file" in result.output
    assert "casb.csv does not exist" in result.output
