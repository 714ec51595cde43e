"""A 1,000-person app in report.html: the details list the first 25, mark the disabled among
them, and say how many more there are and how many report.json names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reports.html import USERS_SHOWN, HtmlReport
from tests.test_report_user_caps import DISABLED, LISTED, PEOPLE, address, model_of, tenant

pytestmark = pytest.mark.browser


def test_details_say_how_many_more(tmp_path: Path, open_report: Any) -> None:
    model = model_of(tenant(tmp_path / "tenant", f"[report]\nusers_listed = {LISTED}\n"))
    (path,) = HtmlReport().render(model, tmp_path)
    opened = open_report(path)
    page = opened.page
    page.fill("#app-search", "Canva")
    row = page.locator("#apps-table tbody tr.row").filter(has=page.get_by_text("Canva", exact=True))
    row.first.click()
    detail = page.locator("#apps-table tr.detail")
    assert f"PEOPLE ({PEOPLE}, {DISABLED} OF THEM DISABLED)" in detail.inner_text().upper()
    detail.get_by_text("Who uses it").click()
    who = detail.locator("details").filter(has_text="Who uses it")
    names = who.locator("ul.plain li").all_inner_texts()
    # The first 25 by address are all disabled (person0000..person0299 are).
    assert names == [f"{address(i)} (disabled)" for i in range(USERS_SHOWN)]
    more = who.locator(".more").inner_text()
    assert more == f"and {PEOPLE - USERS_SHOWN:,} more (report.json names the first {LISTED})"
    assert opened.console_errors == []
