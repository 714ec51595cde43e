"""report.html in a real browser: loads offline and clean, numbers agree with report.json,
sorting, filtering, paging and details work, and a hostile app name stays text; top actions
come first and in order, findings are one row per app, the owner's answers reach the app
detail, words replace codes, and at phone width nothing scrolls sideways."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from reports import model as report_model
from reports.html import HtmlReport
from scanner.analysis import confirm
from scanner.app import config as configuration
from scanner.store.database import Store
from tests.browser.reportdata import SCRIPT_APP, SUMMARY_METRICS

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


def summary(demo_report: Path) -> dict[str, Any]:
    return dict(json.loads((demo_report / "report.json").read_text("utf-8"))["summary"])


def column(page: Any, table: str, index: int) -> list[str]:
    cells = page.locator(f"#{table} tbody tr.row td:nth-child({index})")
    return [t.strip() for t in cells.all_inner_texts()]


def test_demo_report_loads_offline_without_errors(
    demo_report: Path, open_report: Any, screenshots: Path
) -> None:
    opened = open_report(demo_report / "report.html")
    assert opened.console_errors == []
    assert opened.requests == [], "the report must not touch the network"
    opened.page.screenshot(path=str(screenshots / "report-demo.png"))
    opened.page.screenshot(path=str(screenshots / "report-demo-full.png"), full_page=True)


def test_summary_cards_match_report_json(demo_report: Path, open_report: Any) -> None:
    page = open_report(demo_report / "report.html").page
    expected = summary(demo_report)
    for metric in SUMMARY_METRICS:
        shown = page.locator(f'[data-metric="{metric}"] b.num').inner_text()
        assert int(shown) == expected[metric], metric
    for sev, n in expected["findings_by_severity"].items():
        assert int(page.locator(f'[data-metric="severity-{sev}"] b').inner_text()) == n, sev
    assert (
        page.locator("#app-count").inner_text() == f"{expected['apps']} of {expected['apps']} apps"
    )
    findings = json.loads((demo_report / "report.json").read_text("utf-8"))["findings"]
    with_open = len({f["app_key"] for f in findings if f["open"]})
    with_any = len({f["app_key"] for f in findings})
    assert page.locator("#f-count").inner_text() == f"{with_open} of {with_any} apps with findings"


def test_sorting_by_users_and_by_name(demo_report: Path, open_report: Any) -> None:
    page = open_report(demo_report / "report.html").page
    page.click('#apps-table th[data-key="users"]')
    users = [int(u) for u in column(page, "apps-table", 4)]
    assert users == sorted(users, reverse=True) and users[0] > users[-1]
    assert page.get_attribute('#apps-table th[data-key="users"]', "aria-sort") == "descending"
    page.click('#apps-table th[data-key="users"]')
    users = [int(u) for u in column(page, "apps-table", 4)]
    assert users == sorted(users)
    page.click('#apps-table th[data-key="name"]')
    names = [n.lower() for n in page.locator("#apps-table tbody tr.row .appname").all_inner_texts()]
    assert names == sorted(names)


def test_marketing_and_unsanctioned_filters(demo_report: Path, open_report: Any) -> None:
    page = open_report(demo_report / "report.html").page
    expected = summary(demo_report)
    page.check("#marketing-only")
    rows = page.locator("#apps-table tbody tr.row")
    assert rows.count() == expected["marketing_apps"]
    assert all("marketing" in t.lower() for t in rows.all_inner_texts())
    page.check("#unsanctioned-only")
    assert rows.count() == expected["unsanctioned_marketing"]
    assert set(column(page, "apps-table", 3)) == {"not sanctioned"}
    page.uncheck("#marketing-only")
    page.uncheck("#unsanctioned-only")
    page.click('[data-apply="unsanctioned-marketing"]')
    assert page.is_checked("#marketing-only") and page.is_checked("#unsanctioned-only")
    assert rows.count() == expected["unsanctioned_marketing"]


def test_findings_severity_filter_and_search(demo_report: Path, open_report: Any) -> None:
    page = open_report(demo_report / "report.html").page
    findings = json.loads((demo_report / "report.json").read_text("utf-8"))["findings"]
    page.select_option("#f-severity", "high")
    severities = {s.lower() for s in column(page, "findings-table", 1)}
    assert severities == {"high"}
    high_apps = {f["app_key"] for f in findings if f["open"] and f["severity"] == "high"}
    assert page.locator("#findings-table tbody tr.row").count() == len(high_apps)
    page.select_option("#f-severity", "")
    page.fill("#f-search", "zzz-no-such-thing")
    expect(page.locator("#f-count")).to_have_text(re.compile(r"^0 of "))
    assert (
        page.locator("#findings-table tbody td.empty").inner_text()
        == "Nothing matches these filters."
    )


def test_app_details_open_with_evidence_users_scopes_and_findings(
    demo_report: Path, open_report: Any, screenshots: Path
) -> None:
    page = open_report(demo_report / "report.html").page
    page.locator("#apps-table tbody tr.row").first.click()
    detail = page.locator("#apps-table tr.detail")
    assert detail.count() == 1
    text = detail.inner_text()
    for heading in (
        "OWNER AND CONFIRMATION",
        "WHY IT IS RISKY",
        "WHERE IT WAS FOUND",
        "PEOPLE",
        "WHAT IT CAN REACH",
    ):
        assert heading in text.upper(), heading
    assert "Matched by" in text and "Confirmation" in text
    detail.screenshot(path=str(screenshots / "report-demo-detail.png"))
    page.locator("#apps-table tbody tr.row").first.click()
    assert page.locator("#apps-table tr.detail").count() == 0


def test_app_details_count_people_once_and_the_disabled_apart(
    demo_report: Path, open_report: Any
) -> None:
    """The demo's Slack users include a leaver disabled in every directory; Canva's include an
    agency guest who signs in with her #EXT# UPN, counted once by her home address."""
    apps = {a["name"]: a for a in json.loads((demo_report / "report.json").read_text())["apps"]}
    slack, canva = apps["Slack"], apps["Canva"]
    assert slack["people_disabled"] == 1 and canva["people_disabled"] == 0
    page = open_report(demo_report / "report.html").page
    for app, heading in (
        (slack, f"PEOPLE ({slack['people']}, 1 OF THEM DISABLED)"),
        (canva, f"PEOPLE ({canva['people']})"),
    ):
        page.fill("#app-search", app["name"])
        row = page.locator("#apps-table tbody tr.row").filter(
            has=page.get_by_text(app["name"], exact=True)
        )
        row.first.click()
        detail = page.locator("#apps-table tr.detail")
        assert heading in detail.inner_text().upper()
        detail.get_by_text("Who uses it").click()
        marked = [t for t in detail.locator("ul.plain li").all_inner_texts() if "(disabled)" in t]
        assert marked == [f"{u} (disabled)" for u in app["people_disabled_list"]]
        row.first.click()


def test_app_details_show_sso_spend_and_contract(demo_report: Path, open_report: Any) -> None:
    """Grammarly is reached only by OAuth (no_sso); Sprout Social has a contract in the policy;
    Semrush is paid for in expense lines."""
    page = open_report(demo_report / "report.html").page
    for name, expected in (
        ("Grammarly", "none: people use the vendor's own accounts"),
        ("Sprout Social", "renews 2027-01-05, 30 days' notice, 4788.00 USD a year"),
        ("Semrush", "129.95 USD"),
    ):
        page.fill("#app-search", name)
        row = page.locator("#apps-table tbody tr.row").filter(
            has=page.get_by_text(name, exact=True)
        )
        row.first.click()
        assert expected in page.locator("#apps-table tr.detail").inner_text(), name
        row.first.click()


def test_change_chip_opens_the_new_app(demo_report: Path, open_report: Any) -> None:
    report = json.loads((demo_report / "report.json").read_text("utf-8"))
    new_app = report["changes"]["new_apps"][0]
    page = open_report(demo_report / "report.html").page
    page.check("#unsanctioned-only")
    page.fill("#app-search", "no such app")
    page.click(f'#changes a.chip[data-app-name="{new_app}"]')
    page.wait_for_selector("#apps-table tr.detail")
    assert page.locator("#apps-table tr.detail h3").first.inner_text() == new_app


def test_hostile_app_name_renders_as_text(
    hostile_report: Path, open_report: Any, screenshots: Path
) -> None:
    opened = open_report(hostile_report)
    page = opened.page
    page.fill("#app-search", "insights")
    expect(page.locator("#app-count")).to_have_text(re.compile(r"^1 of "))
    assert page.locator("#apps-table tbody tr.row .appname").inner_text() == SCRIPT_APP
    page.locator("#apps-table tbody tr.row").first.click()
    assert page.locator("#apps-table tr.detail h3").first.inner_text() == SCRIPT_APP
    assert page.locator("#changes a.chip").inner_text() == SCRIPT_APP
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert opened.dialogs == [] and opened.console_errors == [] and opened.requests == []
    page.screenshot(path=str(screenshots / "report-hostile.png"))


def test_large_tables_are_paged(demo_report: Path, open_report: Any, tmp_path: Path) -> None:
    model = json.loads((demo_report / "report.json").read_text("utf-8"))
    base = model["apps"]
    model["apps"] = [
        dict(a, key=f"{a['key']}#{i}", name=f"{a['name']} {i}") for i in range(4) for a in base
    ]
    total = len(model["apps"])
    (path,) = HtmlReport().render(model, tmp_path)
    page = open_report(path).page
    assert page.locator("#apps-table tbody tr.row").count() == 50
    pager = page.locator("#apps-pager")
    assert f"1\u201350 of {total}" in pager.inner_text()
    pager.get_by_role("button", name="Next \u203a").click()
    assert f"51\u2013{min(100, total)} of {total}" in pager.inner_text()
    pager.locator("select").select_option("250")
    assert page.locator("#apps-table tbody tr.row").count() == total


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
    failing = dict(model["scan"]["sources"][0], status="partial")
    failing["skipped"] = ["signins: " + "AuditLog.Read.All" * 40]
    model["scan"] = dict(model["scan"], sources=[failing, *model["scan"]["sources"][1:]])
    (path,) = HtmlReport().render(model, tmp_path)
    page = open_report(path, **PHONE).page
    assert page.locator("#source-alert").count() == 1
    assert scroll_width(page) <= PHONE["width"], "a long not-collected line wraps too"
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
