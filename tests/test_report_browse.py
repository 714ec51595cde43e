"""``shadowit browse``: the generated Datasette metadata and each canned query, run with sqlite3
against a real store (Datasette itself is an optional extra and is not launched here)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reports import browse
from scanner.app.cli import main
from tests.browser.reportdata import DORMANT_APP, RISKY_APP, build_model, inventory


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return inventory(tmp_path_factory.mktemp("inventory"))


@pytest.fixture(scope="module")
def queries(cfg: Any) -> dict[str, dict[str, str]]:
    meta = browse.metadata(cfg.store_path, cfg)
    assert list(meta["databases"]) == [cfg.store_path.stem]
    return dict(meta["databases"][cfg.store_path.stem]["queries"])


def run(cfg: Any, sql: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{cfg.store_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql)]
    finally:
        db.close()


def test_metadata_has_the_three_canned_queries(queries: dict[str, dict[str, str]]) -> None:
    assert set(queries) == {"unsanctioned_marketing_apps", "risky_grants", "dormant_grants"}
    for query in queries.values():
        assert (
            query["title"]
            and query["description"]
            and query["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
        )


def test_unsanctioned_marketing_apps_match_the_report(
    cfg: Any, queries: dict[str, dict[str, str]]
) -> None:
    found = run(cfg, queries["unsanctioned_marketing_apps"]["sql"])
    model = build_model(cfg)
    expected = {
        a["name"]
        for a in model["apps"]
        if a["is_marketing"] and a["sanction_status"] == "unsanctioned"
    }
    assert {r["app"] for r in found} == expected
    assert len(found) == model["summary"]["unsanctioned_marketing"]
    assert all(r["open_findings"] >= 1 for r in found)


def test_risky_grants_name_the_high_permissions(
    cfg: Any, queries: dict[str, dict[str, str]]
) -> None:
    found = run(cfg, queries["risky_grants"]["sql"])
    first = found[0]
    assert first["app"] == RISKY_APP, "the organisation-wide critical consent comes first"
    assert first["granted_to"] == "everyone (organisation-wide consent)"
    assert (
        "Mail.Send (critical)" in first["risky_scopes"]
        and "Mail.Read (high)" in first["risky_scopes"]
    )
    assert first["sanction_status"] == "unsanctioned"
    assert {r["app"] for r in found} == {RISKY_APP, "HubSpot"}, (
        "openid/profile-only grants are not risky"
    )


def test_dormant_grants_use_the_policy_days(cfg: Any, queries: dict[str, dict[str, str]]) -> None:
    found = run(cfg, queries["dormant_grants"]["sql"])
    assert [(r["app"], r["last_sign_in"]) for r in found if r["app"] == DORMANT_APP] == [
        (DORMANT_APP, "never")
    ]
    assert "HubSpot" not in {r["app"] for r in found}, "signed in two hours before the scan"
    assert "-90 days" in queries["dormant_grants"]["sql"]


def test_no_risky_scope_still_gives_valid_sql(cfg: Any, tmp_path: Path) -> None:
    copy = tmp_path / "empty.db"
    source = sqlite3.connect(cfg.store_path)
    target = sqlite3.connect(copy)
    source.backup(target)
    target.execute("DELETE FROM grants")
    target.commit()
    sql = browse.canned_queries(target, cfg)["risky_grants"]["sql"]
    assert "WHERE 0" in sql
    assert target.execute(sql).fetchall() == []
    source.close()
    target.close()


def test_write_metadata_and_command_serve_read_only_on_loopback(cfg: Any, tmp_path: Path) -> None:
    path = browse.write_metadata(cfg.store_path, cfg, tmp_path / "meta.json")
    assert json.loads(path.read_text("utf-8"))["title"].startswith("shadowit inventory")
    argv = browse.command(cfg.store_path, path, 8123)
    assert argv[:4] == [sys.executable, "-m", "datasette", "serve"]
    assert argv[argv.index("--immutable") + 1] == str(cfg.store_path)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"


def test_browse_without_datasette_says_how_to_install(
    cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browse, "datasette_installed", lambda: False)
    result = CliRunner().invoke(main, ["browse", "--config", str(cfg.file)])
    assert result.exit_code == 2
    assert result.output == f"Error: {browse.install_hint()}\n"
    assert "pip install -e '.[browse]'" in result.output, "this is a source checkout"


def test_browse_without_an_inventory_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browse, "datasette_installed", lambda: True)
    config = tmp_path / "config.toml"
    config.write_text('[organisation]\nname = "X"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["browse", "--config", str(config), "--no-open"])
    assert result.exit_code == 2
    assert "no inventory yet; run `shadowit scan --config" in result.output


def test_browse_runs_datasette_with_the_metadata(cfg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(browse, "datasette_installed", lambda: True)

    def run(argv: list[str]) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setattr(browse, "run_until_stopped", run)
    result = CliRunner().invoke(
        main, ["browse", "--config", str(cfg.file), "--port", "8124", "--no-open"]
    )
    assert result.exit_code == 0, result.output
    (argv,) = seen
    meta = Path(argv[argv.index("--metadata") + 1])
    assert meta.name == f"{cfg.store_path.stem}.datasette.json" and meta.exists()
    assert "--open" not in argv and argv[argv.index("--port") + 1] == "8124"


def test_open_findings_count_as_the_report_counts_them(
    tmp_path: Path, queries: dict[str, dict[str, str]], cfg: Any
) -> None:
    """An acceptance until a later day is not open; one whose end day has come is again."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(cfg.store_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    sql = queries["unsanctioned_marketing_apps"]["sql"]

    def open_counts() -> dict[str, int]:
        db = sqlite3.connect(copy)
        try:
            return {r[0]: r[-1] for r in db.execute(sql)}
        finally:
            db.close()

    before = open_counts()
    app = next(iter(before))
    with sqlite3.connect(copy) as db:
        (app_key,) = db.execute("SELECT key FROM apps WHERE name = ?", [app]).fetchone()
        db.execute(
            "UPDATE findings SET status = 'accepted', decided_until = '2999-01-01' "
            "WHERE app_key = ? AND status = 'open'",
            [app_key],
        )
    assert open_counts()[app] == 0
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE findings SET decided_until = '2000-01-01' WHERE app_key = ?", [app_key])
    assert open_counts()[app] == before[app]
