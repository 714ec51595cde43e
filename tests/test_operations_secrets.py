"""No secret in any log, the store or any report; the store and reports are owner-only.

The demo tenant is scanned from the local providers through the CLI with known secret values
(Entra client secret, Okta API token, Google service-account key, a webhook token in the
notification URL), at debug level in text and in JSON, plus ``doctor`` and ``report``. Then
stderr, stdout and every file in the folder (the SQLite store with its WAL, HTML, JSON, CSV,
and each member of the XLSX zip) are searched for those values and for the bearer tokens the
providers issued.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from scanner.app.cli import main
from tests.test_operations_env import files_containing, local_providers

HOOK_TOKEN = "XoxbHookToken4f9a2c7e1b"
URLS_ENV = "SHADOWIT_TEST_SECRET_NOTIFY_URLS"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_no_secret_in_logs_store_or_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    hook = f"/hooks/{HOOK_TOKEN}"
    httpserver.expect_request(hook, method="POST").respond_with_data("ok")
    monkeypatch.setenv(URLS_ENV, f"json://127.0.0.1:{httpserver.port}{hook}")
    notify = f'\n[notify]\nurls_env = "{URLS_ENV}"\nmin_severity = "info"\n'
    with local_providers(tmp_path, monkeypatch, extra_config=notify) as env:
        config = str(env.config_path)
        throttled = {"Retry-After": "0"}  # retries log their URL; nothing waits
        env.graph.fail("/v1.0/servicePrincipals", 429, headers=throttled)
        env.okta.fail("/api/v1/logs", 503, headers=throttled)
        first = run("--log-level", "debug", "scan", "--config", config)
        env.graph.fail("/v1.0/users", 429, headers=throttled)
        runs = [
            first,
            run("--log-level", "debug", "--log-format", "json", "scan", "--config", config),
            run("--log-level", "debug", "doctor", "--config", config),
            run(
                "--log-level",
                "debug",
                "report",
                "--config",
                config,
                "--format",
                "html,json,csv,xlsx",
            ),
        ]
        secrets = [*env.secrets, *env.issued_tokens(), HOOK_TOKEN]
    assert [r.exit_code for r in runs] == [0, 0, 0, 0], [r.output for r in runs]
    assert len(env.issued_tokens()) >= 2, "the scans really authenticated"
    assert len(httpserver.log) == 1, "the first scan notified, the second had nothing new"

    # The logs were really written, at debug level, in both formats.
    text_log, json_log = runs[0].stderr, runs[1].stderr
    assert "INFO scanner.net.http: entra: HTTP 429 from https://127.0.0.1:" in text_log
    assert "INFO scanner.net.http: okta: HTTP 503 from http://127.0.0.1:" in text_log
    assert "DEBUG scanner.app.notify: " in text_log
    entries = [json.loads(line) for line in json_log.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any("HTTP 429" in e["message"] and e["level"] == "info" for e in entries)

    for number, result in enumerate(runs):
        leaked = [s for s in secrets if s in result.stdout or s in result.stderr]
        assert not leaked, f"command {number} printed a secret"
    assert files_containing(tmp_path, secrets) == {}

    written = {p.name for p in tmp_path.iterdir()}
    assert {
        "shadowit.db",
        "report.html",
        "report.json",
        "findings.csv",
        "inventory.xlsx",
    } <= written
    for name in (
        "shadowit.db",
        "report.html",
        "report.json",
        "findings.csv",
        "apps.csv",
        "inventory.xlsx",
    ):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
