"""The pipeline end to end with a registered in-memory connector: scan, analyse, report."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

import connectors
from connectors.base import ConnectorContext, ConnectorSpec, Probe
from reports import model as report_model
from reports.json_report import validate
from scanner.app import config as configuration
from scanner.app.pipeline import run_scan
from scanner.core.errors import RetryableError
from scanner.core.models import Checkpoint, Grant, RawApp, SignIn, Skipped, User
from scanner.store.database import Store

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class MemorySettings:
    enabled: bool = True
    scenario: str = "base"


STATE: dict[str, Any] = {}


class MemoryConnector:
    name: ClassVar[str] = "memory"

    def __init__(self, settings: MemorySettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context

    def collect(self, since: Mapping[str, str]) -> Iterator[object]:
        STATE.setdefault("since", []).append(dict(since))
        scenario = STATE.get("scenario", "base")
        yield User("memory", "u1", "ana@example.com", "Ana", "Marketing")
        yield User("memory", "u2", "bo@example.com", "Bo", "Marketing")
        yield User("memory", "u3", "cy@example.com", "Cy", "Engineering")
        yield Checkpoint("memory", "users", complete=True)
        yield RawApp("memory", "hs", "HubSpot", publisher="HubSpot, Inc.", publisher_verified=True)
        yield RawApp("memory", "zz", "Zephyr Notes Tool")
        if scenario == "more":
            yield RawApp("memory", "mc", "Mailchimp")
        yield Checkpoint("memory", "apps", complete=True)
        yield Grant("memory", "hs", "u1", ("openid", "Mail.Read", "Mail.Send"))
        yield Grant("memory", "zz", "u1", ("openid",))
        yield Grant("memory", "zz", "u2", ("openid",))
        if scenario == "more":
            yield Grant("memory", "mc", "u2", ("openid",))
            yield Grant("memory", "hs", "u3", ("openid", "Mail.Read"))
        yield Checkpoint("memory", "grants", complete=True)
        if scenario == "fail":
            yield Skipped("memory", "signins", "AuditLog.Read.All is missing", "AuditLog.Read.All")
            raise RetryableError("memory", "gave up after 6 attempts: HTTP 503")
        yield SignIn("memory", "e1", "hs", NOW - timedelta(hours=2), user_id="u1")
        yield Checkpoint("memory", "signins", cursor=(NOW - timedelta(hours=2)).isoformat())

    def check(self) -> Iterator[Probe]:
        yield Probe("memory", "token", True, "ok")


connectors.register(
    ConnectorSpec("memory", MemorySettings, MemoryConnector, "in-memory test source")
)


@pytest.fixture()
def cfg(tmp_path: Path) -> configuration.Config:
    STATE.clear()
    path = tmp_path / "config.toml"
    path.write_text(
        """
[organisation]
name = "Test Co"
[sources.memory]
[[sanctioned.apps]]
app = "HubSpot"
status = "sanctioned"
owner = "ops@example.com"
approved_scopes = ["openid", "Mail.Read"]
"""
    )
    return configuration.load(path)


def test_scan_builds_inventory_findings_and_a_valid_report(cfg: configuration.Config) -> None:
    result = run_scan(cfg, now=NOW)
    assert result.exit_code == 0
    names = {a.name for a in result.apps}
    assert "HubSpot" in names and "Zephyr Notes Tool" in names
    zephyr = next(a for a in result.apps if a.name == "Zephyr Notes Tool")
    assert zephyr.is_marketing and "Marketing" in zephyr.marketing_reason
    kinds = {(f.app_name, f.kind) for f in result.findings}
    assert ("HubSpot", "over_scoped") in kinds
    assert ("Zephyr Notes Tool", "unsanctioned") in kinds
    assert not any(f.kind == "new_app" for f in result.findings), "the first scan is a baseline"
    store = Store.open(cfg.store_path)
    model = report_model.build(store, cfg, now=NOW)
    validate(model)
    hub = next(a for a in model["apps"] if a["name"] == "HubSpot")
    assert hub["sanction_status"] == "sanctioned" and hub["owner"] == "ops@example.com"


def test_second_scan_reports_changes_and_new_apps(cfg: configuration.Config) -> None:
    run_scan(cfg, now=NOW)
    STATE["scenario"] = "more"
    result = run_scan(cfg, now=NOW + timedelta(days=1))
    assert STATE["since"][1] == {"signins": (NOW - timedelta(hours=2)).isoformat()}
    new = {f.app_name for f in result.findings if f.kind == "new_app"}
    assert new == {"Mailchimp"}
    store = Store.open(cfg.store_path)
    model = report_model.build(store, cfg)
    assert model["changes"]["new_apps"] == ["Mailchimp"]
    assert {"app": "HubSpot", "users": ["cy@example.com"]} in model["changes"]["new_users"]


def test_failed_source_keeps_apps_and_findings(cfg: configuration.Config) -> None:
    run_scan(cfg, now=NOW)
    STATE["scenario"] = "fail"
    result = run_scan(cfg, now=NOW + timedelta(days=1))
    assert result.exit_code == 3
    assert result.sources[0].status == "failed"
    assert "gave up" in (result.sources[0].error or "")
    store = Store.open(cfg.store_path)
    assert (
        store.db.execute("SELECT count(*) FROM raw_apps WHERE gone_scan IS NULL").fetchone()[0] == 2
    )
    open_kinds = {
        r["kind"] for r in store.db.query("SELECT kind FROM findings WHERE status='open'")
    }
    assert "over_scoped" in open_kinds
