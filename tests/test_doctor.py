"""``shadowit doctor`` against the local providers: every row, a missing permission named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.base import Probe
from scanner.app import config as configuration
from scanner.app.cli import main
from scanner.app.demo import OKTA_TOKEN_ENV
from scanner.app.doctor import check_store, diagnose, ready
from tests.test_operations_env import local_providers


def doctor(config_path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["doctor", "--config", str(config_path), *extra])
    return result.exit_code, result.output


def table_rows(output: str) -> list[list[str]]:
    """The table's rows as cell texts, with cells that rich wrapped over lines joined again."""
    rows: list[list[str]] = []
    block: list[list[str]] = []
    for line in output.splitlines() + ["└"]:
        if line.startswith("│"):
            block.append([cell.strip() for cell in line.strip("│").split("│")])
            continue
        if block:
            rows.append(
                [" ".join(filter(None, column)).strip() for column in zip(*block, strict=True)]
            )
            block = []
    return rows


def row(output: str, *words: str) -> str:
    """The row holding all ``words``, its cells joined by " | "."""
    lines = [" | ".join(r) for r in table_rows(output)]
    found = [line for line in lines if all(w in line for w in words)]
    assert found, f"no row with {words} in:\n{output}"
    return found[0]


def test_all_ready_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with local_providers(tmp_path, monkeypatch) as env:
        code, output = doctor(env.config_path)
    assert code == 0, output
    assert "missing" not in output
    assert "ready to scan" in output
    for source, check in (
        ("entra", "token"),
        ("entra", "AuditLog.Read.All"),
        ("google", "admin.directory.user.readonly"),
        ("okta", "okta.logs.read"),
        ("files", "expenses"),
        ("store", "inventory"),
        ("config", "policy"),
        ("notify", "urls"),
    ):
        assert "ok" in row(output, source, check)


def test_missing_graph_permission_is_named_with_where_to_grant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_providers(tmp_path, monkeypatch) as env:
        env.graph.denied = {"AuditLog.Read.All"}
        code, output = doctor(env.config_path)
    assert code == 2
    line = row(output, "entra", "AuditLog.Read.All", "missing")
    assert "403" in line and "Authorization_RequestDenied" in line
    assert "API permissions" in line and "Grant admin consent" in line
    # The other permissions still show as working.
    assert "ok" in row(output, "entra", "User.Read.All")
    assert "ok" in row(output, "entra", "Application.Read.All")
    assert "not ready" in output


def test_missing_okta_scope_and_json_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with local_providers(tmp_path, monkeypatch) as env:
        env.okta.api_tokens[os.environ[OKTA_TOKEN_ENV]] = frozenset(
            {"okta.users.read", "okta.apps.read"}
        )
        code, output = doctor(env.config_path, "--json", "--source", "okta")
    assert code == 2
    rows = json.loads(output)
    assert {r["source"] for r in rows} >= {"okta", "config", "store", "notify"}
    logs = next(r for r in rows if r["check"] == "okta.logs.read")
    assert logs["ok"] is False
    assert "okta.logs.read" in logs["detail"] and "read-only admin" in logs["fix"]
    assert all(r["ok"] for r in rows if r["check"] in ("okta.users.read", "okta.apps.read"))


def test_unset_secret_is_a_settings_row_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_providers(tmp_path, monkeypatch) as env:
        monkeypatch.delenv(OKTA_TOKEN_ENV)
        probes = list(diagnose(env.config(), only=["okta"]))
    bad = [p for p in probes if not p.ok]
    assert [(p.source, p.check) for p in bad] == [("okta", "settings")]
    assert OKTA_TOKEN_ENV in bad[0].detail and "sources.okta" in bad[0].detail
    assert bad[0].fix == "fix [sources.okta] (docs/okta.md)"


def test_unknown_source_filter_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_providers(tmp_path, monkeypatch) as env:
        code, output = doctor(env.config_path, "--source", "nosuch")
    assert code == 2
    assert "sources.nosuch: not configured or not enabled" in output


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sources.okta\n")
    code, output = doctor(path)
    assert code == 2
    assert "not valid TOML" in output


def test_policy_and_notify_problems_are_rows(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[policy.severity]\nnot_a_row = "high"\n[notify]\nurls_env = "SHADOWIT_TEST_UNSET_URLS"\n'
    )
    probes = list(diagnose(configuration.load(path)))
    by_check = {(p.source, p.check): p for p in probes}
    policy = by_check[("config", "policy")]
    assert not policy.ok and "policy.severity.not_a_row: unknown row" in policy.detail
    urls = by_check[("notify", "urls")]
    assert not urls.ok and "SHADOWIT_TEST_UNSET_URLS is not set" in urls.detail
    assert not by_check[("config", "sources")].ok
    assert not ready(probes)


def test_store_checks(tmp_path: Path) -> None:
    fresh = check_store(tmp_path / "new" / "shadowit.db")
    assert fresh.ok and "will be created" in fresh.detail
    assert not (tmp_path / "new").exists(), "doctor must not create anything"
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    probe = check_store(broken)
    assert not probe.ok and "cannot read the inventory" in probe.detail
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        probe = check_store(locked / "shadowit.db")
        assert not probe.ok and "not writable" in probe.detail


def test_ready_needs_rows() -> None:
    assert not ready([])
    assert ready([Probe("x", "y", True, "")])
