"""File imports on real-looking exports: BOM, semicolons, quoted commas, bad and hostile rows."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.base import ConnectorContext
from connectors.files import (
    FilesConnector,
    FilesSettings,
    ImportSettings,
    RowError,
    parse_amount,
    parse_when,
    read_cursor,
)
from scanner.app.config import from_dict
from scanner.core.errors import ConfigError
from scanner.core.models import Checkpoint, RawApp, SignIn, SourceWarning, Spend

DATA = Path(__file__).parent / "data" / "imports"
CARD = {
    "vendor": "Merchant",
    "amount": "Amount",
    "currency": "Currency",
    "date": "Date",
    "email": "Employee Email",
}
SPESEN = {
    "vendor": "Händler",
    "amount": "Betrag",
    "currency": "Währung",
    "date": "Buchungsdatum",
    "email": "Mitarbeiter",
}
CASB = {"app": "Application", "domain": "Domain", "user": "User", "last_used": "Last Seen"}


def importer(*imports: ImportSettings, full: bool = False, **settings: Any) -> FilesConnector:
    context = ConnectorContext(config_path=DATA / "config.toml", full=full)
    return FilesConnector(FilesSettings(imports=imports, **settings), context)


def run(*imports: ImportSettings, since: dict[str, str] | None = None) -> list[Any]:
    return list(importer(*imports).collect(since or {}))


def of(records: list[Any], kind: type) -> list[Any]:
    return [r for r in records if isinstance(r, kind)]


def warnings(records: list[Any]) -> list[str]:
    return [w.message for w in of(records, SourceWarning)]


# -- expenses -------------------------------------------------------------------------------


def test_card_export_with_bom_and_quoted_commas() -> None:
    records = run(ImportSettings("expenses-card-2026-10.csv", "expenses", columns=CARD))
    spend = of(records, Spend)
    assert [(s.client_id, s.amount, s.currency, s.on) for s in spend] == [
        ("Canva, Inc.", 119.99, "USD", date(2026, 10, 2)),
        ("HubSpot", 1250.0, "USD", date(2026, 10, 3)),
        ("Figma", 45.0, "EUR", date(2026, 10, 5)),
        ("Notion Labs", 16.0, "USD", date(2026, 10, 8)),
        ('Semrush "Guru" plan', -10.0, "USD", date(2026, 10, 12)),
        ("Canva", 119.99, "USD", date(2026, 10, 14)),
    ]
    assert spend[0].user_email == "alice.moreau@acme.example"
    assert {s.source for s in spend} == {"expenses"}
    apps = of(records, RawApp)
    assert [a.name for a in apps] == [s.client_id for s in spend]
    assert {(a.source, a.kind) for a in apps} == {("expenses", "expense")}
    # The BOM did not end up in the first column's name: 'Date' was found.
    assert warnings(records) == [
        "expenses-card-2026-10.csv:5: amount 'N/A' is not a number",
        "expenses-card-2026-10.csv:7: date 'yesterday' is not a date we can read; "
        'set date_format (e.g. "%d/%m/%Y")',
        "expenses-card-2026-10.csv:8: no vendor (column 'Merchant' is empty)",
    ]


def test_semicolon_export_with_decimal_commas_is_detected() -> None:
    records = run(ImportSettings("spesen-2026-11.csv", "expenses", columns=SPESEN, decimal=","))
    spend = of(records, Spend)
    assert [(s.client_id, s.amount, s.on) for s in spend] == [
        ("Miro", 1234.56, date(2026, 11, 3)),
        ("Lemlist SAS", 59.0, date(2026, 11, 4)),
        ("Typeform S.L.", 29.0, date(2026, 11, 5)),
        ("Calendly", 12.0, date(2026, 11, 6)),
    ]
    assert warnings(records) == [
        "spesen-2026-11.csv:6: date '31.11.2026' is not a date we can read; "
        'set date_format (e.g. "%d/%m/%Y")',
        "spesen-2026-11.csv:7: amount 'abc' is not a number",
        "spesen-2026-11.csv:8: has 4 fields, the header has 6 (a missing or unquoted delimiter?)",
    ]


def test_explicit_delimiter_and_date_format(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("when|who|what|cost\n03/11/2026|a@x.example|Asana|10.5\n", encoding="utf-8")
    columns = {"date": "when", "email": "who", "vendor": "what", "amount": "cost"}
    imp = ImportSettings(
        str(path),
        "expenses",
        columns=columns,
        delimiter="|",
        date_format="%d/%m/%Y",
        currency="usd",
    )
    spend = of(run(imp), Spend)
    assert [(s.client_id, s.amount, s.currency, s.on) for s in spend] == [
        ("Asana", 10.5, "USD", date(2026, 11, 3))
    ]


def test_same_line_twice_gets_two_stable_ids(tmp_path: Path) -> None:
    path = tmp_path / "dupes.csv"
    row = "2026-10-01,Zoom,15.99,USD\n"
    path.write_text("date,vendor,amount,currency\n" + row * 2, encoding="utf-8")
    first = [s.line_id for s in of(run(ImportSettings(str(path), "expenses")), Spend)]
    again = [s.line_id for s in of(run(ImportSettings(str(path), "expenses")), Spend)]
    assert len(set(first)) == 2 and first == again


# -- usage ----------------------------------------------------------------------------------


def test_usage_export_keeps_hostile_cells_as_plain_text() -> None:
    records = run(
        ImportSettings("casb-usage-2026-11.csv", "usage", source_name="casb", columns=CASB)
    )
    names = [a.name for a in of(records, RawApp)]
    assert names[:6] == [
        "Notion",
        '=HYPERLINK("http://evil.example/x","Click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "<script>alert('x')</script>",
    ]
    assert names[6] == "A" * 1000  # cut, with a warning
    assert "GrammarlyPremium" in names  # NUL dropped
    signins = of(records, SignIn)
    assert {s.source for s in signins} == {"casb"}
    hubspot = next(s for s in signins if s.client_id == "app.hubspot.com")
    assert hubspot.at == datetime(2026, 11, 17, tzinfo=UTC)
    dropbox = next(s for s in signins if s.client_id == "Dropbox")
    assert (dropbox.user_id, dropbox.user_email) == ("jdoe", None)
    assert warnings(records) == [
        "casb-usage-2026-11.csv:8: column 'Application' is longer than 1000 characters; "
        "kept the first 1000",
        "casb-usage-2026-11.csv:11: no last_used (column 'Last Seen' is empty)",
        "casb-usage-2026-11.csv:13: column 'Application' has bytes that are not utf-8-sig; "
        "set sources.files.imports[0].encoding",
        "casb-usage-2026-11.csv:14: no app name or domain ('Application' and 'Domain' empty)",
    ]


def test_usage_as_json_lines() -> None:
    records = run(ImportSettings("extension-usage.jsonl", "usage"))
    signins = of(records, SignIn)
    assert [(s.client_id, s.at) for s in signins] == [
        ("Notion", datetime(2026, 11, 19, 8, 12, tzinfo=UTC)),
        ("ChatGPT", datetime(2026, 11, 19, 8, 30, tzinfo=UTC)),
        ("www.loom.com", datetime(2026, 11, 20, tzinfo=UTC)),
    ]
    assert of(records, RawApp)[2].domains == ("www.loom.com",)
    assert warnings(records) == [
        "extension-usage.jsonl:3: not valid JSON (JSONDecodeError)",
        "extension-usage.jsonl:4: not a JSON object",
        "extension-usage.jsonl:5: no last_used (column 'last_used' is empty)",
        "extension-usage.jsonl:7: key 'app' holds a dict, not a value",
    ]


def test_same_latin1_file_reads_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("app,last_used\nCafé Analytics,2026-11-01\n".encode("latin-1"))
    signins = of(run(ImportSettings(str(path), "usage", encoding="latin-1")), SignIn)
    assert [s.client_id for s in signins] == ["Café Analytics"]


# -- cursors --------------------------------------------------------------------------------


def test_unchanged_file_is_skipped_next_scan(tmp_path: Path) -> None:
    path = tmp_path / "card.csv"
    shutil.copy(DATA / "expenses-card-2026-10.csv", path)
    imp = ImportSettings(str(path), "expenses", columns=CARD)
    first = run(imp)
    cursor = [c for c in of(first, Checkpoint) if c.cursor][-1]
    assert cursor.stream == "spend" and not cursor.complete
    assert read_cursor(cursor.cursor) == {str(path): _sha(path)}
    assert run(imp, since={"spend": cursor.cursor or ""}) == []
    # --full imports it again, and a changed file is read again.
    assert of(list(importer(imp, full=True).collect({"spend": cursor.cursor or ""})), Spend)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("2026-10-20,Loom,12.50,USD,bob.nakamura@acme.example,Video,ER-9\r\n")
    again = run(imp, since={"spend": cursor.cursor or ""})
    assert of(again, Spend)[-1].client_id == "Loom"


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cursor_keeps_every_file_of_a_stream() -> None:
    records = run(
        ImportSettings("expenses-card-2026-10.csv", "expenses", columns=CARD),
        ImportSettings("spesen-2026-11.csv", "expenses", columns=SPESEN, decimal=","),
    )
    last = [c for c in of(records, Checkpoint) if c.cursor][-1]
    assert set(read_cursor(last.cursor)) == {"expenses-card-2026-10.csv", "spesen-2026-11.csv"}


# -- configuration errors -------------------------------------------------------------------


def test_missing_file_names_the_setting_and_the_path() -> None:
    with pytest.raises(ConfigError) as caught:
        importer(ImportSettings("no-such-export.csv", "expenses"))
    assert str(caught.value) == (
        f"sources.files.imports[0].path: file {DATA / 'no-such-export.csv'} does not exist "
        f"({DATA / 'config.toml'})"
    )
    assert caught.value.exit_code == 2


def test_mapping_to_a_missing_column_names_column_and_file() -> None:
    columns = {**CARD, "vendor": "Vendor Name"}
    with pytest.raises(ConfigError) as caught:
        importer(ImportSettings("expenses-card-2026-10.csv", "expenses", columns=columns))
    message = str(caught.value)
    assert message.startswith(
        "sources.files.imports[0].columns.vendor: column 'Vendor Name' is not in "
        f"{DATA / 'expenses-card-2026-10.csv'} (its columns: 'Date', 'Merchant', 'Amount'"
    )


def test_unknown_field_and_unknown_encoding() -> None:
    with pytest.raises(ConfigError, match=r"columns.merchant: unknown field for expenses"):
        importer(ImportSettings("spesen-2026-11.csv", "expenses", columns={"merchant": "x"}))
    with pytest.raises(ConfigError, match=r"encoding: unknown encoding 'utf-9'"):
        importer(ImportSettings("spesen-2026-11.csv", "expenses", encoding="utf-9"))


def test_usage_without_app_or_domain_column(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("tool,last_used\nx,2026-01-01\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="map app or domain"):
        importer(ImportSettings(str(path), "usage"))


def test_settings_from_toml_tables(tmp_path: Path) -> None:
    shutil.copy(DATA / "spesen-2026-11.csv", tmp_path / "spesen.csv")
    config = from_dict(
        {
            "sources": {
                "files": {
                    "imports": [
                        {
                            "path": "spesen.csv",
                            "kind": "expenses",
                            "delimiter": ";",
                            "decimal": ",",
                            "columns": SPESEN,
                        }
                    ]
                }
            }
        },
        tmp_path / "config.toml",
    )
    settings = config.sources["files"]
    spec = connectors.get("files")
    conn = spec.factory(settings, ConnectorContext(config_path=tmp_path / "config.toml"))
    assert len(of(list(conn.collect({})), Spend)) == 4
    assert [p.ok for p in conn.check()] == [True]


def test_bad_kind_in_toml() -> None:
    with pytest.raises(
        ConfigError, match=r"sources.files.imports\[0\].kind: 'spend' is not one of"
    ):
        from_dict({"sources": {"files": {"imports": [{"path": "x.csv", "kind": "spend"}]}}})


# -- pure parsers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1,234.50", ".", (1234.5, None)),
        ("1.234,50", ",", (1234.5, None)),
        ("(12.00)", ".", (-12.0, None)),
        ("€12,00", ",", (12.0, "EUR")),
        ("$ 9.99", ".", (9.99, "USD")),
    ],
)
def test_parse_amount(text: str, decimal: str, expected: tuple[float, str | None]) -> None:
    assert parse_amount(text, decimal) == expected


@pytest.mark.parametrize("text", ["=1+1", "1e9", "12.3.4", "", "NaN", "inf"])
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(RowError):
        parse_amount(text)


def test_parse_when_rejects_ambiguous_slashes() -> None:
    with pytest.raises(RowError, match="set date_format"):
        parse_when("03/11/2026", None)
    assert parse_when("3 Nov 2026", None) == datetime(2026, 11, 3, tzinfo=UTC)
    with pytest.raises(RowError, match="out of range"):
        parse_when("0001-01-01T00:00:00+05:00", None)
