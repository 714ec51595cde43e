"""Spreadsheets that open right: real dates, a header on every sheet and CSV even when empty,
columns sized to their content, the ownership table, and CSVs Excel on Windows reads in UTF-8."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from reports.cells import as_date
from reports.render import FORMATS, REPORT_FILES, render, report_formats
from reports.tables import (
    COLUMNS,
    CSV_FILES,
    DATE_COLUMNS,
    MAX_WIDTH,
    SHEETS,
    CsvReport,
    XlsxReport,
    ownership_rows,
)
from scanner.app import config as configuration
from scanner.core.errors import ConfigError
from tests.browser.reportdata import build_model, inventory

NAME = "Zoë Müller-Łukasiewicz"
"""An owner's name Excel garbles when it reads a CSV without a byte order mark."""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    built = build_model(inventory(tmp_path_factory.mktemp("inventory")))
    app = built["apps"][0]
    app.update(annual_cost=1200.0, cost_currency="EUR", renewal_date="2027-03-31")
    app["ownership"].update(
        owner="zoe@example.com",
        owner_source="confirmed",
        owner_source_text="confirmed by the owner",
        team=NAME,
        purpose="Événements et webinaires",
        data_held="names",
        renewal_date="2027-03-31",
        answer="mine",
        answer_text="yes, the team owns it",
        answered_by="zoe@example.com",
        answered_at="2026-11-20T09:15:00Z",
    )
    return built


@pytest.fixture(scope="module")
def book(model: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    (path,) = XlsxReport().render(model, tmp_path_factory.mktemp("xlsx"))
    return openpyxl.load_workbook(path)


def test_every_table_has_its_columns() -> None:
    for _, builder in (*CSV_FILES, *SHEETS):
        assert builder in COLUMNS


def test_row_keys_are_the_declared_columns(model: dict[str, Any]) -> None:
    for _, builder in SHEETS:
        rows = builder(model)
        assert rows, builder.__name__
        assert all(tuple(r) == COLUMNS[builder] for r in rows), builder.__name__


def test_every_sheet_has_its_header_even_when_empty(tmp_path: Path) -> None:
    (path,) = XlsxReport().render({"apps": [], "findings": []}, tmp_path)
    book = openpyxl.load_workbook(path)
    for name, builder in SHEETS:
        sheet = book[name]
        assert [c.value for c in sheet[1]] == list(COLUMNS[builder]), name
        assert sheet.max_row == 1 and sheet.freeze_panes == "A2"


def test_every_csv_has_its_header_even_when_empty(tmp_path: Path) -> None:
    CsvReport().render({"apps": [], "findings": []}, tmp_path)
    for filename, builder in CSV_FILES:
        text = (tmp_path / filename).read_text("utf-8-sig")
        assert list(csv.reader(io.StringIO(text))) == [list(COLUMNS[builder])], filename


def _column(sheet: Any, name: str) -> list[Any]:
    header = [c.value for c in sheet[1]]
    index = header.index(name)
    return [row[index] for row in sheet.iter_rows(min_row=2)]


def test_date_columns_hold_real_dates(book: Any) -> None:
    seen = set()
    for name, builder in SHEETS:
        for column in DATE_COLUMNS.intersection(COLUMNS[builder]):
            cells = [c for c in _column(book[name], column) if c.value is not None]
            for cell in cells:
                assert isinstance(cell.value, datetime | date), (name, column, cell.value)
                assert cell.is_date and "yy" in cell.number_format
                seen.add((name, column))
    assert {("apps", "first_seen"), ("findings", "opened"), ("spend", "renewal_date")} <= seen
    ownership = book["ownership"]
    [renewal] = [c.value for c in _column(ownership, "renewal_date") if c.value is not None]
    assert renewal == datetime(2027, 3, 31)  # a date cell reads back at midnight
    [answered] = [c.value for c in _column(ownership, "answered_at") if c.value is not None]
    assert answered == datetime(2026, 11, 20, 9, 15)  # UTC: Excel has no time zones


def test_a_date_an_owner_typed_as_text_stays_text() -> None:
    assert as_date("next spring") == "next spring" and as_date(None) is None
    assert as_date("2026-12-31") == date(2026, 12, 31)
    assert as_date("2026-12-31T23:30:00+01:00") == datetime(2026, 12, 31, 22, 30)
    assert as_date("2026-11-20T09:15:00.123456Z") == datetime(2026, 11, 20, 9, 15)


def test_columns_are_sized_to_their_content(book: Any) -> None:
    sheet = book["apps"]
    header = [c.value for c in sheet[1]]
    widths = {
        name: sheet.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width
        for i, name in enumerate(header)
    }
    assert widths["app"] >= 28 and widths["risk_reasons"] >= 60
    assert widths["first_seen"] >= 18  # a date and time fits
    for name, width in widths.items():
        assert len(name) + 4 <= width <= MAX_WIDTH, name
    longest_vendor = max(len(str(c.value or "")) for c in _column(sheet, "vendor"))
    assert widths["vendor"] >= min(MAX_WIDTH, longest_vendor)


def test_ownership_rows_are_in_words(model: dict[str, Any]) -> None:
    rows = {r["app"]: r for r in ownership_rows(model)}
    assert len(rows) == len(model["apps"])
    row = rows[model["apps"][0]["name"]]
    assert row == {
        "app": model["apps"][0]["name"],
        "owner": "zoe@example.com",
        "owner_source": "confirmed by the owner",
        "team": NAME,
        "purpose": "Événements et webinaires",
        "data_held": "names",
        "renewal_date": "2027-03-31",
        "answer": "yes, the team owns it",
        "answered_by": "zoe@example.com",
        "answered_at": "2026-11-20T09:15:00Z",
    }


def test_csv_starts_with_a_bom_and_keeps_non_ascii_names(
    model: dict[str, Any], tmp_path: Path
) -> None:
    written = render(model, tmp_path, ["csv"])
    assert {p.name for p in written} == {name for name, _ in CSV_FILES}
    for path in written:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf"), path.name
    text = (tmp_path / "ownership.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(COLUMNS[ownership_rows])
    assert [r["team"] for r in rows if r["team"] == NAME] == [NAME]


def test_csv_bom_can_be_left_out(model: dict[str, Any], tmp_path: Path) -> None:
    written = render(model, tmp_path, ["csv"], report_formats(csv_bom=False))
    for path in written:
        assert path.read_bytes()[:3] in (b"id,", b"app"), path.name
    assert NAME in (tmp_path / "ownership.csv").read_text("utf-8")


def test_csv_bom_setting_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[organisation]\nname = "x"\n[report]\ncsv_bom = "no"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"report\.csv_bom: expected true or false"):
        configuration.load(path)
    path.write_text('[organisation]\nname = "x"\n[report]\ncsv_bom = false\n', encoding="utf-8")
    assert configuration.load(path).report.csv_bom is False


def test_report_files_name_every_file_the_formats_write(
    model: dict[str, Any], tmp_path: Path
) -> None:
    written = render(model, tmp_path, list(FORMATS))
    assert sorted(p.name for p in written) == sorted(REPORT_FILES)
