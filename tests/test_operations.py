"""Nightly operations through the CLI: the scan lock, --wait, and every exit code."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

import connectors
from connectors.base import ConnectorContext, ConnectorSpec, Probe
from scanner.app import config as configuration
from scanner.app.cli import main
from scanner.app.pipeline import run_scan
from scanner.core.errors import AuthError, RetryableError
from scanner.core.models import Checkpoint, User
from scanner.store.database import Store
from tests.test_operations_env import feed_config, feed_of

# -- a source that holds a scan open until the test lets it go -----------------------------------
ENTERED = threading.Event()
RELEASE = threading.Event()


@dataclass(frozen=True)
class GateSettings:
    enabled: bool = True


class GateConnector:
    name: ClassVar[str] = "gate"

    def __init__(self, settings: GateSettings, context: ConnectorContext) -> None:
        self.context = context

    def collect(self, since: Mapping[str, str]) -> Iterator[Any]:
        ENTERED.set()
        if not RELEASE.wait(timeout=20):
            raise RuntimeError("the test never released the gate")
        yield User("gate", "u1", "ana@example.com")
        yield Checkpoint("gate", "users", complete=True)

    def check(self) -> Iterator[Probe]:
        yield Probe("gate", "token", True, "in memory")


connectors.register(ConnectorSpec("gate", GateSettings, GateConnector, "blocks until released"))


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_second_scan_gets_the_lock_message_and_exit_2_and_wait_waits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[organisation]\nname = "Test Co"\n[sources.gate]\n')
    ENTERED.clear()
    RELEASE.clear()
    first: dict[str, Any] = {}
    holder = threading.Thread(
        target=lambda: first.update(result=run_scan(configuration.load(path)))
    )
    holder.start()
    try:
        assert ENTERED.wait(timeout=10)
        refused = cli("scan", "--config", str(path), "--no-report")
        assert refused.exit_code == 2
        assert "Error: another shadowit scan is running on" in refused.output
        assert "shadowit.db.lock" in refused.output and "run with --wait" in refused.output

        waited: dict[str, Result] = {}
        waiter = threading.Thread(
            target=lambda: waited.update(
                result=cli("scan", "--config", str(path), "--no-report", "--wait")
            )
        )
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive(), "--wait must wait for the running scan"
    finally:
        RELEASE.set()
        holder.join(timeout=20)
    waiter.join(timeout=20)
    assert waited["result"].exit_code == 0, waited["result"].output
    assert first["result"].scan_id == 1
    store = Store.open(tmp_path / "shadowit.db")
    runs = store.scans(status=None)
    store.close()
    assert [(r["id"], r["status"]) for r in runs] == [(1, "finished"), (2, "finished")]
    assert runs[1]["started"] >= runs[0]["finished"], "the waiting scan ran after the first"


# -- exit codes -----------------------------------------------------------------------------------
@pytest.fixture()
def feed_cfg(tmp_path: Path) -> Path:
    return feed_config(tmp_path)


def scan(config: Path, *extra: str) -> Result:
    return cli("scan", "--config", str(config), "--no-report", *extra)


def test_exit_0_when_every_source_is_ok(feed_cfg: Path) -> None:
    feed_of("Canva")
    result = scan(feed_cfg)
    assert result.exit_code == 0, result.output
    assert "source feed: ok" in result.output


def test_exit_4_when_fail_on_is_met_and_0_when_not(feed_cfg: Path) -> None:
    feed_of("Canva")  # unsanctioned, risky scopes: high findings, none critical
    met = scan(feed_cfg, "--fail-on", "high")
    assert met.exit_code == 4, met.output
    assert "open findings:" in met.output
    assert scan(feed_cfg, "--fail-on", "critical").exit_code == 0


def test_exit_3_when_a_source_is_partial_even_with_fail_on(feed_cfg: Path) -> None:
    feed_of("Canva", skipped="AuditLog.Read.All is missing")
    result = scan(feed_cfg, "--fail-on", "high")
    assert result.exit_code == 3, result.output
    assert "source feed: partial" in result.output
    assert "not collected: signins: AuditLog.Read.All is missing" in result.output


def test_exit_3_when_a_source_failed(feed_cfg: Path) -> None:
    feed_of("Canva", error=RetryableError("feed", "gave up after 6 attempts: HTTP 503"))
    result = scan(feed_cfg)
    assert result.exit_code == 3, result.output
    assert "source feed: failed" in result.output and "gave up after 6 attempts" in result.output


def test_exit_2_when_a_credential_is_rejected(feed_cfg: Path) -> None:
    feed_of("Canva", error=AuthError("feed", "the API token was rejected (HTTP 401)"))
    result = scan(feed_cfg, "--fail-on", "high")
    assert result.exit_code == 2, result.output
    assert "source feed: failed" in result.output and "API token was rejected" in result.output


def test_exit_2_for_configuration_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = scan(tmp_path / "nope.toml")
    assert missing.exit_code == 2
    assert "config file not found; copy config.example.toml" in missing.output

    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[sources.nosuch]\n")
    result = scan(unknown)
    assert result.exit_code == 2 and "sources.nosuch: unknown source" in result.output

    monkeypatch.delenv("SHADOWIT_TEST_UNSET_URLS", raising=False)
    notify = feed_config(tmp_path, '[notify]\nurls_env = "SHADOWIT_TEST_UNSET_URLS"\n')
    result = scan(notify)
    assert result.exit_code == 2
    assert (
        "notify.urls_env: environment variable SHADOWIT_TEST_UNSET_URLS is not set" in result.output
    )


def test_unknown_fail_on_is_a_usage_error(feed_cfg: Path) -> None:
    result = scan(feed_cfg, "--fail-on", "urgent")
    assert result.exit_code == 2
    assert "Invalid value for '--fail-on'" in result.output


def test_help_documents_the_exit_codes() -> None:
    for args in ([], ["scan"]):
        text = " ".join(cli(*args, "--help").output.split())
        assert "Exit codes: 0 success; 2 configuration or credential error" in text
        assert "4 --fail-on" in text
    doctor_help = " ".join(cli("doctor", "--help").output.split())
    assert "Exit 0 only when everything is ready, 2 otherwise" in doctor_help
