"""Hostile input through every output: HTML, CSV, XLSX, JSON, the terminal summary.

The corpus (tests/data/hostile/strings.json) goes in as app names, publisher names, scopes,
skip reasons and warnings of a source, and as merchant cells of an expense CSV that also holds
bytes that are not UTF-8. One scan, one report model, every renderer; each output is then
checked to be inert: markup is text, no cell is a formula, no control sequence reaches a
terminal, JSON round-trips.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import openpyxl
import pytest

import connectors
from connectors.base import ConnectorContext, ConnectorSpec, Probe
from reports import model as report_model
from reports.json_report import validate
from reports.render import render
from scanner.app import config as configuration
from scanner.app.console import print_summary
from scanner.app.operations import summary_of
from scanner.app.pipeline import run_scan
from scanner.core.models import Checkpoint, Grant, RawApp, Skipped, SourceWarning, User
from scanner.store.database import Store
from tests.config_text import files_source
from tests.reliability.conftest import Observe

HOSTILE_DIR = Path(__file__).resolve().parents[1] / "data" / "hostile"
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
TERMINAL_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def corpus() -> list[tuple[str, str]]:
    doc = json.loads((HOSTILE_DIR / "strings.json").read_text(encoding="utf-8"))
    return [
        (c["case"], c["value"] if "value" in c else c["repeat"] * c["times"]) for c in doc["cases"]
    ]


CORPUS = corpus()


@dataclass(frozen=True)
class HostileSettings:
    enabled: bool = True


class HostileConnector:
    """A source whose every free-text field is attacker-controlled."""

    name: ClassVar[str] = "hostile"

    def __init__(self, settings: HostileSettings, context: ConnectorContext) -> None:
        self.settings = settings

    def collect(self, since: Mapping[str, str]) -> Iterator[object]:
        yield User("hostile", "u1", "ana@example.com", "Ana", "Marketing")
        for i, (_case, value) in enumerate(CORPUS):
            yield User("hostile", f"h{i}", f"h{i}@example.com", value, value)
        yield Checkpoint("hostile", "users", complete=True)
        for i, (case, value) in enumerate(CORPUS):
            yield RawApp("hostile", f"client-{case}", value, publisher=value)
            yield Grant("hostile", f"client-{case}", "u1", ("openid", value))
            yield Grant("hostile", f"client-{case}", f"h{i}", (value,))
        yield Checkpoint("hostile", "apps", complete=True)
        yield Checkpoint("hostile", "grants", complete=True)
        for case, value in CORPUS[:6]:
            yield SourceWarning("hostile", "signins", f"odd record {case}: {value}")
        yield Skipped("hostile", "signins", f"reason from the provider: {CORPUS[0][1]}", "X.Read")

    def check(self) -> Iterator[Probe]:
        yield Probe("hostile", "token", True, "ok")


connectors.register(
    ConnectorSpec("hostile", HostileSettings, HostileConnector, "hostile input")  # type: ignore[arg-type]
)


@dataclass
class Rendered:
    out: Path
    model: dict[str, Any]
    terminal: str


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    base = tmp_path_factory.mktemp("hostile")
    (base / "expenses.csv").write_bytes((HOSTILE_DIR / "expenses-hostile.csv").read_bytes())
    (base / "config.toml").write_text(
        """
[organisation]
name = "Test Co"
[sources.hostile]
"""
        + files_source(options="max_cell = 200000\n"),
        encoding="utf-8",
    )
    cfg = configuration.load(base / "config.toml")
    result = run_scan(cfg, now=NOW)
    store = Store.open(cfg.store_path)
    try:
        model = report_model.build(store, cfg, result.scan_id, now=NOW)
    finally:
        store.close()
    out = base / "reports"
    render(model, out, ["html", "json", "csv", "xlsx"])
    summary = summary_of(model)
    summary.update(
        exit_code=result.exit_code,
        new_apps=[value for _case, value in CORPUS],
        written=[str(out / "report.html")],
    )
    for source in summary["sources"]:
        source["error"] = f"provider said: {CORPUS[18][1]} {CORPUS[6][1]}"
    buffer = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(buffer):
        print_summary(summary)
    return Rendered(out, model, buffer.getvalue())


def test_every_hostile_value_reached_the_report(rendered: Rendered, observe: Observe) -> None:
    raw_names = {n for a in rendered.model["apps"] for n in a["raw_names"]}
    scopes = {s["scope"] for a in rendered.model["apps"] for s in a["scopes"]}
    missing = [case for case, value in CORPUS if value not in raw_names or value not in scopes]
    assert not missing, f"not in the model: {missing}"
    files = {s["source"]: s for s in rendered.model["scan"]["sources"]}["files"]
    assert files["status"] == "ok"
    assert any("not utf-8" in w.lower() for w in files["warnings"]), files["warnings"]
    observe(
        "hostile",
        "expense CSV with Latin-1 bytes and a lone 0x80 byte (invalid UTF-8)",
        f"imported; warning kept: {next(w for w in files['warnings'] if 'utf-8' in w.lower())}",
    )


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def test_html_shows_hostile_text_as_text(rendered: Rendered, observe: Observe) -> None:
    html = (rendered.out / "report.html").read_text(encoding="utf-8")
    parsed = _Structure()
    parsed.feed(html)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"img", "iframe", "object", "embed"}, tags
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), f"<{tag} {name}=...> came from data"
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name)
    for script in parsed.scripts:
        assert "alert(1)" not in script or "\\u003c" in script, "hostile text ran as script"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html, "template syntax in data is not evaluated"
    assert "\x00" not in html and "Mail\u27e8U+0000\u27e9chimp" in html
    observe(
        "hostile",
        "HTML report: <script>, attribute breakout, </script> breakout, <svg onload>, "
        "javascript: URL, template syntax, NUL, 100 KB names",
        "escaped text only: no data-made tag, event handler, script or javascript: link; "
        "JSON in <script> escapes < > &; NUL shown as \u27e8U+0000\u27e9",
    )


def _formula(cell: str) -> bool:
    return cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell)


def test_csv_cells_are_inert(rendered: Rendered, observe: Observe) -> None:
    for name in ("apps.csv", "findings.csv"):
        data = (rendered.out / name).read_bytes()
        assert b"\x00" not in data
        text = data.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        bad = [cell for row in rows for cell in row if _formula(cell)]
        assert not bad, f"{name}: formula-like cells {bad[:3]}"
    apps = (rendered.out / "apps.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in apps and "'@SUM(A1:A2)" in apps and "'+1+1" in apps
    observe(
        "hostile",
        "CSV (apps.csv, findings.csv): cells starting with = + - @ tab CR, DDE payload, NUL",
        "every such cell gets a leading apostrophe (shown as text); NUL and C0 controls removed",
    )


def test_xlsx_cells_are_inert(rendered: Rendered, observe: Observe) -> None:
    book = openpyxl.load_workbook(rendered.out / "inventory.xlsx")
    checked = quoted = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    checked += 1
                    if _formula(cell.value):
                        assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate
                        quoted += 1
                    assert len(cell.value) <= 32_767
    assert checked > len(CORPUS) and quoted >= 6
    observe(
        "hostile",
        "XLSX (inventory.xlsx, four sheets): formula prefixes, 100 KB cells, control characters",
        f"{checked} text cells, none stored as a formula; the {quoted} formula-like ones are "
        "string cells with quotePrefix; cells cut to Excel's 32,767 limit",
    )


def test_json_round_trips_every_value(rendered: Rendered, observe: Observe) -> None:
    report = json.loads((rendered.out / "report.json").read_text(encoding="utf-8"))
    validate(report)
    raw_names = {n for a in report["apps"] for n in a["raw_names"]}
    assert all(value in raw_names for _case, value in CORPUS)
    observe(
        "hostile",
        "JSON report: every corpus string as an app name",
        "valid against the schema; each string round-trips exactly as data",
    )


def test_terminal_summary_has_no_control_sequences(rendered: Rendered, observe: Observe) -> None:
    text = rendered.terminal
    assert text, "print_summary printed nothing"
    found = sorted({f"U+{ord(c):04X}" for c in TERMINAL_UNSAFE.findall(text.replace("\n", ""))})
    assert not found, f"raw control or bidi characters reach the terminal: {found}"
    assert "[bold red]pwned[/]" in text, "rich markup in data must print literally"
    assert "\\x1b[2J" in text, "the escape is shown, not obeyed"
    assert "Slack\\x0aERROR" in text, "a newline in data is shown, not a new line"
    observe(
        "hostile",
        "terminal summary: ESC sequences (clear screen, set title), BEL, C1 CSI, bidi overrides, "
        "zero-width marks, NUL, rich markup in app names and provider errors",
        "control and bidi characters printed as visible escapes; markup printed literally",
    )
