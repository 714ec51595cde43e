"""report.html in a real browser: loads offline and clean, numbers agree with report.json,
sorting, filtering, paging and details work, and a hostile app name stays text."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from reports.html import HtmlReport
from tests.browser.reportdata import SCRIPT_APP, SUMMARY_METRICS

pytestmark = pytest.mark.browser


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
