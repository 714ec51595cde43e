"""Each app's user lists in the report model are capped by ``[report] users_listed``; the counts
stay exact and the workbook's users-by-app sheet still counts every user.

A scanned tenant (the in-memory ``feed`` source): 1,000 people hold a grant to Canva, 300 of
them with a disabled account, over four departments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from reports import model as report_model
from reports.html import USERS_SHOWN, page_data
from reports.json_report import validate
from reports.tables import XlsxReport
from scanner.app import config as configuration
from scanner.app.cli import main
from scanner.core.config import ReportSettings
from scanner.core.errors import ConfigError
from scanner.core.models import Checkpoint, Grant, RawApp, User
from scanner.store.database import Store
from tests import memory_source

PEOPLE, DISABLED, LISTED = 1_000, 300, 150
DEPARTMENTS = ("Marketing", "Sales", "Finance", "Engineering")


def address(i: int) -> str:
    return f"person{i:04d}@example.com"


def tenant(folder: Path, report: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "config.toml").write_text(
        '[organisation]\nname = "Test"\n[store]\npath = "shadowit.db"\n[sources.feed]\n' + report,
        encoding="utf-8",
    )
    users = [
        User(
            "feed",
            f"u{i}",
            address(i),
            department=DEPARTMENTS[i % len(DEPARTMENTS)],
            enabled=i >= DISABLED,
        )
        for i in range(PEOPLE)
    ]
    memory_source.FEED[:] = [
        *users,
        Checkpoint("feed", "users", complete=True),
        RawApp("feed", "cv", "Canva", publisher="Canva", publisher_verified=True),
        Checkpoint("feed", "apps", complete=True),
        *(Grant("feed", "cv", f"u{i}", ("openid",)) for i in range(PEOPLE)),
        Checkpoint("feed", "grants", complete=True),
    ]
    result = CliRunner().invoke(
        main, ["scan", "--config", str(folder / "config.toml"), "--no-report"]
    )
    assert result.exit_code == 0, result.output
    return folder / "config.toml"


def model_of(config_path: Path) -> dict[str, Any]:
    cfg = configuration.load(config_path)
    store = Store.open(cfg.store_path)
    try:
        return report_model.build(store, cfg)
    finally:
        store.close()


def canva_of(model: dict[str, Any]) -> dict[str, Any]:
    (app,) = [a for a in model["apps"] if a["name"] == "Canva"]
    return app


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("capped")
    return model_of(tenant(folder, f"[report]\nusers_listed = {LISTED}\n"))


def test_lists_name_the_first_n_and_count_the_rest(capped: dict[str, Any]) -> None:
    validate(capped)
    canva = canva_of(capped)
    assert canva["users"] == canva["people"] == PEOPLE
    assert canva["user_list"] == [address(i) for i in range(LISTED)]
    assert canva["users_more"] == PEOPLE - LISTED
    assert canva["people_disabled"] == DISABLED
    assert canva["people_disabled_list"] == [address(i) for i in range(LISTED)]
    assert canva["people_disabled_more"] == DISABLED - LISTED
    assert sum(d["users"] for d in canva["departments"]) == PEOPLE


def test_the_workbook_counts_every_user(capped: dict[str, Any], tmp_path: Path) -> None:
    (path,) = XlsxReport().render(capped, tmp_path)
    sheet = openpyxl.load_workbook(path)["users-by-app"]
    rows = [
        dict(zip(("app", "department", "users"), r, strict=True))
        for r in sheet.iter_rows(min_row=2, values_only=True)
    ]
    canva = {r["department"]: r["users"] for r in rows if r["app"] == "Canva"}
    assert canva == {d: PEOPLE // len(DEPARTMENTS) for d in DEPARTMENTS}
    assert sum(canva.values()) == PEOPLE


def test_the_page_shows_the_first_names_and_the_exact_count(capped: dict[str, Any]) -> None:
    (canva,) = [a for a in page_data(capped)["apps"] if a["name"] == "Canva"]
    assert canva["users_shown"] == [address(i) for i in range(USERS_SHOWN)]
    assert canva["users"] == PEOPLE and canva["users_more"] == PEOPLE - LISTED


def test_the_default_is_200_and_a_list_under_it_is_whole(tmp_path: Path) -> None:
    assert ReportSettings().users_listed == 200
    canva = canva_of(model_of(tenant(tmp_path / "default", "")))
    assert len(canva["user_list"]) == 200 and canva["users_more"] == PEOPLE - 200
    assert canva["people_disabled_list"] == [address(i) for i in range(200)]
    assert canva["people_disabled_more"] == DISABLED - 200
    small = canva_of(model_of(tenant(tmp_path / "whole", f"[report]\nusers_listed = {PEOPLE}\n")))
    assert len(small["user_list"]) == PEOPLE and small["users_more"] == 0
    assert len(small["people_disabled_list"]) == DISABLED and small["people_disabled_more"] == 0


def test_the_cap_makes_the_model_smaller(capped: dict[str, Any], tmp_path: Path) -> None:
    whole = model_of(tenant(tmp_path / "whole", f"[report]\nusers_listed = {PEOPLE}\n"))
    assert len(json.dumps(capped)) < len(json.dumps(whole)) - (PEOPLE - LISTED) * 20


@pytest.mark.parametrize("value", [0, 100_001, -1])
def test_users_listed_out_of_range_is_one_line(tmp_path: Path, value: int) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[report]\nusers_listed = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        configuration.load(path)
    assert str(refused.value).startswith("report.users_listed: ")
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)
