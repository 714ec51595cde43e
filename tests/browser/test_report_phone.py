"""report.html as people act on it: top actions first, one findings row per app, the owner's
answers in the app detail, words instead of codes, and a phone layout with no sideways
scrolling."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reports import model as report_model
from reports.html import HtmlReport
from scanner.analysis import confirm
from scanner.app import config as configuration
from scanner.store.database import Store

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
RAW_CODES = (
    "not_applicable",
    "sanction_requested",
    "risky_scopes",
    "owner_unconfirmed",
    "1 warnings",
    "1 days ago",
    "across 1 sources",
)
"""What a person must never read in the page (codes and broken plurals)."""


def report(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "report.json").read_text("utf-8")))


def scroll_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_phone_layout_has_no_horizontal_overflow(
    demo_report: Path, open_report: Any, screenshots: Path
) -> None:
    opened = open_report(demo_report / "report.html", **PHONE)
    page = opened.page
    assert scroll_width(page) <= PHONE["width"]
    page.screenshot(path=str(screenshots / "report-phone.png"))
    page.screenshot(path=str(screenshots / "report-phone-full.png"), full_page=True)
    page.locator("#findings-table tbody tr.row").first.click()
    page.locator("#apps-table tbody tr.row").first.click()
    assert page.locator("#apps-table tr.detail").count() == 1
    assert scroll_width(page) <= PHONE["width"], "an open detail stays inside the screen"
    page.locator("#apps-table tr.detail").screenshot(
        path=str(screenshots / "report-phone-detail.png")
    )
    assert opened.console_errors == [] and opened.requests == []


def test_phone_charts_are_readable_and_labels_unclipped(
    demo_report: Path, open_report: Any
) -> None:
    page = open_report(demo_report / "report.html", **PHONE).page
    widths = page.eval_on_selector_all(
        "svg.chart", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert len(widths) == 4 and min(widths) >= 300, widths
    clipped = page.eval_on_selector_all(
        "svg.chart text",
        """els => els.filter(t => {
            const box = t.getBoundingClientRect(), svg = t.ownerSVGElement.getBoundingClientRect();
            return box.left < svg.left - 0.5 || box.right > svg.right + 0.5;
        }).map(t => t.textContent)""",
    )
    assert clipped == []
    labels = page.eval_on_selector_all(
        "svg.chart .axis-label", "els => els.map(e => e.textContent)"
    )
    assert "project management" in labels, "a long category keeps its whole name"
    assert not [label for label in labels if label.endswith("\u2026")]


def test_a_long_app_name_wraps(demo_report: Path, open_report: Any, tmp_path: Path) -> None:
    model = report(demo_report)
    model["apps"][0] = dict(model["apps"][0], name="Overlong" * 300)
    (path,) = HtmlReport().render(model, tmp_path)
    page = open_report(path, **PHONE).page
    page.fill("#app-search", "overlongoverlong")
    page.locator("#apps-table tbody tr.row").first.click()
    assert scroll_width(page) <= PHONE["width"]


def test_top_actions_come_first_are_ordered_and_open_their_app(
    demo_report: Path, open_report: Any
) -> None:
    expected = report(demo_report)["top_actions"]
    assert 0 < len(expected) <= 10
    page = open_report(demo_report / "report.html", **PHONE).page
    first = page.evaluate("document.querySelector('main').firstElementChild.id")
    assert first == "top-actions"
    items = page.locator("#top-actions li.action")
    assert items.count() == len(expected)
    scores = [float(s) for s in items.evaluate_all("els => els.map(e => e.dataset.score)")]
    assert scores == sorted(scores, reverse=True)
    assert [int(r) for r in items.evaluate_all("els => els.map(e => e.dataset.rank)")] == list(
        range(1, len(expected) + 1)
    )
    assert items.first.locator("code.step").inner_text() == expected[0]["step"]
    third = expected[2]
    items.nth(2).locator("a.action-app").click()
    heading = page.locator("#apps-table tr.detail h3").first
    heading.wait_for()
    assert heading.inner_text() == third["app"]
    # The page scrolls (smoothly) until the detail sits just below the sticky nav.
    page.wait_for_function(
        """() => {
            const top = document.querySelector('#apps-table tr.detail').getBoundingClientRect().top;
            const nav = document.querySelector('nav.toc').getBoundingClientRect().bottom;
            return top >= nav && top < nav + 120;
        }"""
    )
    nav = page.evaluate("document.querySelector('nav.toc').getBoundingClientRect().bottom")
    assert heading.bounding_box()["y"] >= nav, "the sticky nav does not hide the app's title"


def test_one_findings_row_per_app_with_ids_and_accept_lines(
    demo_report: Path, open_report: Any, screenshots: Path
) -> None:
    findings = report(demo_report)["findings"]
    page = open_report(demo_report / "report.html").page
    page.select_option("#findings-table + .pager select, #findings-pager select", "100")
    keys = page.locator("#findings-table tbody tr.row").evaluate_all(
        "els => els.map(e => e.dataset.key)"
    )
    assert len(keys) == len(set(keys)) == len({f["app_key"] for f in findings if f["open"]})
    row = page.locator("#findings-table tbody tr.row").first
    key = row.get_attribute("data-key")
    chips = row.locator(".kind").all_inner_texts()
    mine = [f for f in findings if f["app_key"] == key and f["open"]]
    assert len(chips) == len(mine) and not any("_" in c for c in chips)
    row.click()
    detail = page.locator("#findings-table tr.detail")
    text = detail.inner_text()
    for f in mine:
        assert f["id"] in text
        assert f"shadowit accept --config config.toml {f['id']} --until " in text
    detail.screenshot(path=str(screenshots / "report-findings-by-app.png"))


def test_a_banned_app_is_never_low_and_sorts_by_the_worse_level(
    demo_report: Path, open_report: Any
) -> None:
    apps = report(demo_report)["apps"]
    for app in apps:
        if app["sanction_status"] == "banned" or app["lookalike_of"]:
            assert app["risk_level"] not in ("low", "medium"), app["name"]
    page = open_report(demo_report / "report.html").page
    levels = page.locator("#apps-table tbody tr.row td:nth-child(5) .muted").all_inner_texts()
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    assert [order[lvl] for lvl in levels] == sorted(order[lvl] for lvl in levels)


def test_no_codes_in_what_a_person_reads(demo_report: Path, open_report: Any) -> None:
    page = open_report(demo_report / "report.html").page
    page.locator("#apps-pager select").select_option("100")
    rows = page.locator("#apps-table tbody tr.row")
    for i in range(rows.count()):
        rows.nth(i).click()
    page.locator("#findings-pager select").select_option("100")
    page.locator("#f-open").uncheck()
    findings = page.locator("#findings-table tbody tr.row")
    for i in range(findings.count()):
        findings.nth(i).click()
    # Finding IDs and the commands that carry them are codes on purpose: they are typed.
    page.evaluate("document.querySelectorAll('code').forEach(c => { c.style.display = 'none'; })")
    shown = page.evaluate("document.body.innerText")
    found = [code for code in RAW_CODES if code in shown]
    assert found == []


def test_answered_purpose_and_renewal_reach_the_app_detail(
    demo_report: Path, open_report: Any, tmp_path: Path
) -> None:
    """An owner answers "mine" with a purpose and a renewal date; the next report shows both
    in the app's detail, with the owner as confirmed."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_report, folder, ignore=shutil.ignore_patterns("*.lock"))
    cfg = configuration.load(folder / "config.toml")
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    store = Store.open(cfg.store_path)
    try:
        asked = next(r for r in confirm.requests(store, "pending") if r.app_name != "Canva")
        form = confirm.FormAnswer(
            "mine", purpose="Weekly pipeline dashboards", renewal="2027-04-30"
        )
        answer = confirm.validate_answer(form, asked, cfg.organisation)
        assert confirm.record_answer(store, answer, now) is not None
        model = report_model.build(store, cfg, now=now)
    finally:
        store.close()
    (path,) = HtmlReport().render(model, tmp_path / "out")
    opened = open_report(path, **PHONE)
    page = opened.page
    page.fill("#app-search", asked.app_name)
    page.locator("#apps-table tbody tr.row").filter(
        has=page.get_by_text(asked.app_name, exact=True)
    ).first.click()
    text = page.locator("#apps-table tr.detail").inner_text()
    assert "Weekly pipeline dashboards" in text and "2027-04-30" in text
    assert f"{asked.owner} \u00b7 confirmed by the owner" in text
    assert "none recorded" not in text.split("WHY IT IS RISKY")[0]
    assert opened.console_errors == []
