"""CSV and XLSX: formula injection stays inert; --redact-users leaves no email in any format."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from reports.render import render
from reports.tables import XlsxReport, clean, formula_like, inert
from tests.browser.reportdata import EMAILS, FORMULA_APP, build_model, inventory

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return inventory(tmp_path_factory.mktemp("inventory"))


@pytest.fixture(scope="module")
def out(cfg: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("out")
    render(build_model(cfg), folder, ["csv", "xlsx"])
    return folder


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_formula_app_name_is_inert_in_both_csv_files(out: Path) -> None:
    apps = [r["app"] for r in rows(out / "apps.csv")]
    assert "'" + FORMULA_APP in apps
    assert FORMULA_APP not in apps
    findings = [r["app"] for r in rows(out / "findings.csv")]
    assert "'" + FORMULA_APP in findings and FORMULA_APP not in findings


def test_no_csv_cell_starts_like_a_formula(out: Path) -> None:
    for name in ("apps.csv", "findings.csv"):
        for row in rows(out / name):
            assert not any(formula_like(v) for v in row.values()), (name, row)


def test_formula_app_name_is_a_string_cell_in_every_sheet(out: Path) -> None:
    book = openpyxl.load_workbook(out / "inventory.xlsx")
    assert book.sheetnames == ["apps", "findings", "grants", "users-by-app", "spend", "ownership"]
    formulas = [
        c.coordinate
        for sheet in book
        for row in sheet.iter_rows()
        for c in row
        if c.data_type == "f"
    ]
    assert formulas == []
    hits = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value == FORMULA_APP]
    assert len(hits) >= 3, "apps, findings and grants/users sheets name the app"
    for cell in hits:
        assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate


def test_workbook_has_frozen_filtered_headers(out: Path) -> None:
    sheet = openpyxl.load_workbook(out / "inventory.xlsx")["apps"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert [c.value for c in sheet[1]][:3] == ["app", "vendor", "category"]


def test_xlsx_of_an_empty_inventory_is_still_a_workbook(tmp_path: Path) -> None:
    empty: dict[str, list[Any]] = {"apps": [], "findings": []}
    (path,) = XlsxReport().render(empty, tmp_path)
    sheets = openpyxl.load_workbook(path).sheetnames
    assert sheets == ["apps", "findings", "grants", "users-by-app", "spend", "ownership"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tTAB", "'\tTAB"),
        ("a\x00b\x1fc", "abc"),
        (["=x", "y"], "'=x; y"),
        (3, 3),
        ("Plain", "Plain"),
    ],
)
def test_inert(value: Any, expected: Any) -> None:
    assert inert(value) == expected


def test_clean_keeps_the_text_for_typed_cells() -> None:
    assert clean("=HYPERLINK(1)") == "=HYPERLINK(1)"
    assert len(clean("x" * 40_000)) == 32_000


def test_redact_users_leaves_no_email_in_any_format(cfg: Any, tmp_path: Path) -> None:
    plain = build_model(cfg)
    assert any(e in json.dumps(plain) for e in EMAILS), "the fixture does name people"
    written = render(build_model(cfg, redact=True), tmp_path, ["html", "json", "csv", "xlsx"])
    assert {p.name for p in written} == {
        "report.html",
        "report.json",
        "findings.csv",
        "apps.csv",
        "ownership.csv",
        "inventory.xlsx",
    }
    for path in written:
        if path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path)
            text = "\n".join(
                str(c.value) for s in book for r in s.iter_rows() for c in r if c.value
            )
        else:
            text = path.read_text("utf-8")
        assert not EMAIL.search(text), f"{path.name}: {EMAIL.search(text)}"
    redacted = json.loads((tmp_path / "report.json").read_text("utf-8"))
    hubspot = next(a for a in redacted["apps"] if a["name"] == "HubSpot")
    assert hubspot["owner"].startswith("user-") and hubspot["user_list"][0].startswith("user-")


def test_pseudonyms_are_stable_across_runs(cfg: Any) -> None:
    first, second = build_model(cfg, redact=True), build_model(cfg, redact=True)
    assert [a["user_list"] for a in first["apps"]] == [a["user_list"] for a in second["apps"]]


def test_missing_sign_ins_are_marked_unknown_in_the_tables(cfg: Any, tmp_path: Path) -> None:
    """A 0 that only means "not collected" must not look like a real 0 in a spreadsheet."""
    model = build_model(cfg)
    target = model["apps"][0]
    target.update(users=0, users_unknown=True, sign_ins_unknown=True, last_sign_in=None)
    render(model, tmp_path, ["csv", "xlsx"])
    [row] = [r for r in rows(tmp_path / "apps.csv") if r["app"] == target["name"]]
    assert (row["users"], row["users_unknown"], row["sign_ins_unknown"]) == ("0", "True", "True")
    others = [r for r in rows(tmp_path / "apps.csv") if r["app"] != target["name"]]
    assert others and all(r["users_unknown"] == "False" for r in others)
    sheet = openpyxl.load_workbook(tmp_path / "inventory.xlsx")["apps"]
    header = [c.value for c in sheet[1]]
    assert {"users_unknown", "sign_ins_unknown", "failed_sign_ins", "access"} <= set(header)
