"""The command line: one-line errors with exit 2, help texts, and scans against the local
providers through `shadowit scan --config`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.demo import DEMO_NOW
from scanner.app.cli import main
from scanner.app.demo import load_tenant, serve, write_config


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[sources.entra]\ntenant_id = 'x'\nclient_id = 'y'\n"
            "client_secret_env = 'S'\ncolour = 1\n",
            "sources.entra.colour: unknown setting",
        ),
        ("[policy]\ndormant_days = 'soon'\n", "policy.dormant_days: expected a whole number"),
        (
            "[sources.entra]\ntenant_id = 'x'\nclient_id = 'y'\n"
            "client_secret_env = 'SHADOWIT_TEST_UNSET_SECRET'\n",
            "sources.entra.client_secret_env: environment variable "
            "SHADOWIT_TEST_UNSET_SECRET is not set",
        ),
    ],
)
def test_broken_config_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.delenv("SHADOWIT_TEST_UNSET_SECRET", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(text)
    code, output = run("scan", "--config", str(path))
    assert code == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert expected in lines[0]
    assert "Traceback" not in output


def test_missing_config_file(tmp_path: Path) -> None:
    code, output = run("scan", "--config", str(tmp_path / "nope.toml"))
    assert code == 2
    assert (
        output.strip() == f"Error: {tmp_path / 'nope.toml'}: config file not found; "
        "copy config.example.toml and edit it"
    )


def test_every_command_has_a_one_line_help_and_an_example() -> None:
    code, output = run("--help")
    assert code == 0 and "Exit codes" in output
    commands = [c for c in main.commands.values()]
    assert len(commands) >= 8
    for command in commands:
        assert command.help, command.name
        assert command.get_short_help_str(limit=200).strip(), command.name
        groups = getattr(command, "commands", None)
        for sub in (groups or {}).values():
            assert sub.help and "Example:" in sub.help, f"{command.name} {sub.name}"
        if not groups:
            assert "Example:" in command.help, command.name
        code, output = run(command.name or "", "--help")
        assert code == 0, command.name


def test_version() -> None:
    code, output = run("--version")
    assert code == 0 and output.startswith("shadowit, version")


def test_scan_cli_against_local_providers(tmp_path: Path) -> None:
    """All four connectors through `shadowit scan --config`, then an incremental second scan."""
    tenant = load_tenant()
    with serve(tenant, DEMO_NOW) as endpoints:
        config = write_config(tmp_path, endpoints)
        # Raw events kept (the demo's oldest are months old) to check none is stored twice.
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[store]\n", "[store]\nraw_signin_days = 400\n"), "utf-8")
        code, output = run("scan", "--config", str(config))
        assert code == 0, output
        assert "source entra: ok" in output and "source okta: ok" in output
        db = sqlite3.connect(tmp_path / "shadowit.db")
        departments = db.execute(
            "SELECT count(*) FROM users WHERE source='entra' AND department IS NOT NULL"
        ).fetchone()[0]
        assert departments == 48
        kinds = {
            r[0]
            for r in db.execute("SELECT DISTINCT consent_type FROM grants WHERE source='entra'")
        }
        assert kinds == {"user", "admin", "application"}
        assert (
            db.execute("SELECT sum(count) FROM signin_daily WHERE source='entra'").fetchone()[0]
            > 100
        )
        slack = db.execute(
            "SELECT group_concat(DISTINCT source) FROM raw_apps WHERE app_key='cat:slack'"
        ).fetchone()[0]
        assert set(slack.split(",")) == {"entra", "okta"}
        watermark = db.execute(
            "SELECT cursor FROM checkpoints WHERE source='entra' AND stream='signins'"
        ).fetchone()[0]
        graph = endpoints["fakes"]["graph"]
        graph.log.clear()
        code, output = run("scan", "--config", str(config))
        assert code == 0, output
        filters = [r.args.get("$filter", "") for r in graph.requests_to("/v1.0/auditLogs/signIns")]
        assert filters and all(f"createdDateTime ge {watermark}" in f for f in filters[:1]), filters
        rows = db.execute(
            "SELECT count(*), count(DISTINCT source || ':' || event_id) FROM signins"
        ).fetchone()
        assert rows[0] == rows[1] > 100
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.json").exists()
