"""report.html without a browser: escaping, the embedded data, the summary cards, the charts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reports import html as html_report
from reports.html import HtmlReport, bars, finding_words, page_data, trend, when
from reports.json_report import validate
from tests.browser.reportdata import (
    FORMULA_APP,
    SCRIPT_APP,
    SUMMARY_METRICS,
    build_model,
    inventory,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_model(inventory(tmp_path_factory.mktemp("inventory")))


@pytest.fixture(scope="module")
def page(model: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    validate(model)
    out = tmp_path_factory.mktemp("html")
    (written,) = HtmlReport().render(model, out)
    return written.read_text("utf-8")


def embedded(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert match, "the data blob is missing"
    return dict(json.loads(match.group(1)))


def test_hostile_app_name_is_text_everywhere(page: str) -> None:
    assert SCRIPT_APP in {a["name"] for a in embedded(page)["apps"]}
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Insights" in page, (
        "the change list shows it escaped"
    )
    assert page.count("<script") == 2, "only the data blob and the report script"


def test_data_blob_cannot_close_its_script_element(page: str) -> None:
    blob = page.split('<script id="report-data" type="application/json">', 1)[1].split(
        "</script>", 1
    )[0]
    assert "<" not in blob and ">" not in blob and "&" not in blob
    assert json.loads(blob)["apps"], "and it is still valid JSON"


def test_summary_cards_carry_the_model_numbers(page: str, model: dict[str, Any]) -> None:
    summary = model["summary"]
    for metric in SUMMARY_METRICS:
        found = re.search(rf'data-metric="{metric}"[^>]*>.*?<b class="num">(\d+)</b>', page, re.S)
        assert found, metric
        assert int(found.group(1)) == summary[metric], metric
    for sev, n in summary["findings_by_severity"].items():
        found = re.search(
            rf'data-metric="severity-{sev}"><i class="dot dot-{sev}"></i><b>(\d+)</b>', page
        )
        assert found and int(found.group(1)) == n, sev
    assert re.search(r'data-metric="new_apps".*?<b class="num">1</b>', page, re.S)


def test_page_is_self_contained_with_a_strict_csp(page: str) -> None:
    assert "default-src 'none'" in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "no external resource"
    assert "<link" not in page and "@import" not in page


def test_charts_are_inline_svg(page: str, model: dict[str, Any]) -> None:
    assert page.count('<svg class="chart"') == 4
    assert 'aria-label="Unsanctioned marketing apps and open findings over the last scans"' in page
    assert page.count("<polyline") == 2
    status = model["summary"]["apps_by_status"]["unsanctioned"]
    assert re.search(rf"<title>not sanctioned: {status}</title>", page), "words, not codes"


def test_page_data_is_compact_but_complete(model: dict[str, Any]) -> None:
    data = page_data(model)
    assert len(data["apps"]) == len(model["apps"])
    hubspot = next(a for a in data["apps"] if a["name"] == "HubSpot")
    assert ["Mail.Read", "high", ["user"], 1] in hubspot["scopes"]
    assert data["meanings"]["Mail.Read"]
    assert "user_list" not in hubspot
    new = next(a for a in data["apps"] if a["name"] == SCRIPT_APP)
    assert new["is_new"] and not hubspot["is_new"]


def test_users_named_per_app_are_capped(model: dict[str, Any]) -> None:
    big = dict(
        model,
        apps=[dict(model["apps"][0], user_list=[f"u{i}@x.example" for i in range(500)], users=500)],
    )
    (app,) = page_data(big)["apps"]
    assert len(app["users_shown"]) == html_report.USERS_SHOWN and app["users"] == 500


def test_bars_scale_to_the_largest_and_fold_the_tail() -> None:
    rows = bars([("a", 10), ("b", 5), ("c", 1), ("d", 1)], limit=3)
    assert [(r["label"], r["value"], r["share"]) for r in rows] == [
        ("a", 10, 1.0),
        ("b", 5, 0.5),
        ("other (2)", 2, 0.2),
    ]
    assert rows[-1]["other"] and not rows[0]["other"]
    assert bars([]) == []


def test_trend_keeps_the_last_scans_and_scales_to_the_top() -> None:
    history = [
        {
            "scan_id": i,
            "started": f"2026-11-{i:02d}T06:00:00Z",
            "open_findings": i,
            "unsanctioned_marketing": 1,
        }
        for i in range(1, 41)
    ]
    t = trend(history, ("open_findings", "unsanctioned_marketing"))
    assert t["scans"] == html_report.TREND_SCANS and t["top"] == 40
    first, last = t["series"][0]["points"][0], t["series"][0]["points"][-1]
    assert (first["x"], last["x"], last["y"], first["value"]) == (0, 1, 0, 11)
    single = trend(history[:1], ("open_findings",))
    assert single["series"][0]["points"][0]["x"] == 0.5


def test_when_formats_timestamps_and_passes_anything_else() -> None:
    assert when("2026-11-20T06:00:00Z") == "20 Nov 2026 06:00 UTC"
    assert when(None) == "not recorded"
    assert when("yesterday") == "yesterday"


def test_first_scan_says_it_is_the_baseline(model: dict[str, Any], tmp_path: Path) -> None:
    baseline = dict(model, changes={**model["changes"], "since_scan": None, "new_apps": []})
    text = HtmlReport().html(baseline)
    assert "first finished scan" in text and "first scan: the baseline" in text


def test_failed_source_is_flagged_at_the_top(model: dict[str, Any]) -> None:
    failing = {
        "source": "entra",
        "status": "failed",
        "records": 3,
        "skipped": ["signins: AuditLog.Read.All missing"],
        "warnings": [],
        "error": "Entra: gave up after 6 attempts",
    }
    text = HtmlReport().html(dict(model, scan={**model["scan"], "sources": [failing]}))
    alert = text.split('id="source-alert"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "Entra: gave up after 6 attempts" in alert and "AuditLog.Read.All missing" in alert
    assert "Sources 0/1 ok" in text


def test_formula_app_name_is_plain_text_in_html(page: str) -> None:
    assert FORMULA_APP in {a["name"] for a in embedded(page)["apps"]}


def test_top_actions_are_the_first_section_in_model_order(page: str, model: dict[str, Any]) -> None:
    main = page.split("<main", 1)[1]
    assert main.index('id="top-actions"') < main.index('id="summary"')
    ranks = [int(r) for r in re.findall(r'<li class="action [^"]*" data-rank="(\d+)"', page)]
    assert ranks == [a["rank"] for a in model["top_actions"]] and ranks
    assert f'href="#app={model["top_actions"][0]["app_key"]}' in page.replace("%3A", ":")


def test_server_rendered_text_has_words_not_codes(page: str) -> None:
    markup = page.split("<script", 1)[0]
    text = re.sub(r"<[^>]+>", " ", markup)
    for code in ("risky_scopes", "not_applicable", "1 warnings", "across 1 sources"):
        assert code not in text, code
    assert "across 1 source" in text, "one source, singular"


def test_change_lines_name_finding_kinds_in_words() -> None:
    assert finding_words("HubSpot: risky_scopes") == "HubSpot: risky permissions"
    assert finding_words("Odd: name: new_app") == "Odd: name: new app"
    assert finding_words("no kind here") == "no kind here"


def test_page_data_carries_the_words_table_and_the_accept_day(model: dict[str, Any]) -> None:
    data = page_data(model)
    assert data["words"]["finding_kind"]["risky_scopes"] == "risky permissions"
    assert data["accept"] == {"config": "config.toml", "until": "2027-02-18"}
