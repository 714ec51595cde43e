"""Chromium answers real confirmation links from `shadowit confirm send` message files."""

from __future__ import annotations

import email
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reports.confirm.server import ConfirmApp
from reports.confirm.serving import ServeLimits, create_server
from scanner.app.cli import main
from scanner.app.config import Config
from scanner.core.models import Grant, RawApp, SourceRecord
from scanner.store.database import Store
from tests.test_confirm_support import (
    KEY,
    KEY_ENV,
    NOW,
    Clock,
    app_of,
    findings_of,
    inventory,
    records,
    report,
    scan,
    signing_key,
    write_config,
)

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
        "(apt-get install -y chromium)",
    ),
]

INVALID = "This link is no longer valid"


@pytest.fixture
def served(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Config, dict[str, str], Clock]]:
    """Requests sent as message files by the CLI; their links served on 127.0.0.1. With
    ``indirect`` parameters: more records for the inventory's scan."""
    extra: tuple[SourceRecord, ...] = getattr(request, "param", ())
    with signing_key():
        # The port is known before the config that names it, so the app is set afterwards.
        serving: dict[str, Any] = {}
        server = create_server(lambda e, s: serving["app"](e, s), ServeLimits(), "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.port}"
        if extra:
            config = write_config(tmp_path, base=base)
            scan(config, NOW - timedelta(hours=1), [*records(), *extra])
        else:
            config = inventory(tmp_path, base=base)
        result = CliRunner().invoke(
            main,
            ["confirm", "send", "--config", str(tmp_path / "config.toml")],
            env={KEY_ENV: KEY},
        )
        assert result.exit_code == 0, result.output
        files = re.findall(r"^wrote (\S+\.eml)$", result.output, re.MULTILINE)
        assert len(files) == 4, result.output
        links = {}
        for file in files:
            message = email.message_from_bytes(Path(file).read_bytes(), policy=policy.default)
            body = message.get_body().get_content()  # type: ignore[union-attr]
            for app, url in re.findall(r"^  (\S[^\n]*)\n  (http://\S+)$", body, re.MULTILINE):
                links[app] = url
        assert all(url.startswith(base + "/c/") for url in links.values())
        # `confirm send` signs with the wall clock; the server starts from it too.
        clock = Clock(datetime.now(UTC))
        serving["app"] = ConfirmApp.from_config(config, clock=clock)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield config, links, clock
    finally:
        server.stop()
        thread.join(5)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
MAX_PHONE_HEIGHT = 1400
"""Pixels: the page before an answer is chosen, at 390 px (it was 2,172 with four open forms)."""
MIN_TAP = 44
"""Pixels: the smallest tap target, WCAG 2.2 success criterion 2.5.5 (target size, enhanced):
https://www.w3.org/WAI/WCAG22/Understanding/target-size-enhanced.html"""
CODES = ("sanction_request", "not_ours", "not_applicable", "sanction_requested")


class Visit:
    """One phone visit to a link: its page, every tap counted, console errors kept."""

    def __init__(self, browser: Any, javascript: bool = True, phone: bool = True) -> None:
        self.context = browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
            has_touch=True,
            java_script_enabled=javascript,
        )
        self.page = self.context.new_page()
        self.taps = 0
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def tap(self, selector: str) -> None:
        self.taps += 1
        self.page.tap(selector)

    def measure(self) -> dict[str, int]:
        size: dict[str, int] = self.page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, width: window.innerWidth,"
            " height: document.documentElement.scrollHeight})"
        )
        return size

    def close(self) -> None:
        self.context.close()


def _visible_forms(page: Any) -> list[str]:
    return [f for f in ANSWER_CODES if page.locator(f"#form-{f}").is_visible()]


ANSWER_CODES = ("mine", "not_ours", "stopped", "sanction_request")


def _answer(
    browser: Any,
    url: str,
    choice: str,
    fields: dict[str, str],
    screenshots: Path,
    javascript: bool = True,
) -> tuple[str, int]:
    """Open the link on a phone, tap the answer, fill its fields, tap send; return the
    page's text and the number of taps from opening the link to the recorded answer."""
    visit = Visit(browser, javascript)
    page = visit.page
    try:
        assert page.goto(url).status == 200
        size = visit.measure()
        assert size["scroll"] <= size["width"] == PHONE["width"], size
        assert size["height"] < MAX_PHONE_HEIGHT, size
        assert _visible_forms(page) == [], "no answer's fields before an answer is chosen"
        visit.tap(f"label[for=pick-{choice}]")
        assert _visible_forms(page) == [choice], "only the chosen answer's fields show"
        form = page.locator(f"#form-{choice}")
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)  # typing is not a tap
        button = form.locator("button")
        assert button.bounding_box()["height"] >= MIN_TAP
        assert visit.measure()["scroll"] <= PHONE["width"]
        page.screenshot(path=str(screenshots / f"confirm-phone-{choice}.png"), full_page=True)
        with page.expect_navigation() as navigation:
            visit.tap(f"#form-{choice} button")
        assert navigation.value.status == 200
        assert page.title().startswith("Thank you")
        text = str(page.inner_text("main"))
        assert "is recorded" in text
        assert visit.measure()["scroll"] <= PHONE["width"]
        assert visit.errors == [], visit.errors
        taps = visit.taps
        used = page.goto(url)
        assert used.status == 403, "a link works once"
        assert INVALID in page.inner_text("main")
        return text, taps
    finally:
        visit.close()


def _answers(config: Config) -> dict[str, dict[str, Any]]:
    store = Store.open(config.store_path)
    try:
        return {r["app_name"]: r for r in store.db.query("SELECT * FROM attestations")}
    finally:
        store.close()


def test_four_answers_from_message_file_links(
    browser: Any, served: tuple, screenshots: Path
) -> None:
    config, links, _clock = served
    assert set(links) == {"Canva", "Jasper", "Mailchimp", "Semrush"}
    answers = {
        "Jasper": (
            "mine",
            {"purpose": "Ad copy drafts", "data_held": "none", "renewal": "2027-03-31"},
            "Yes, my team owns it",
        ),
        "Mailchimp": ("not_ours", {"suggested_owner": "ben@acme.example"}, "Not ours"),
        "Canva": ("stopped", {"note": "Moved to Figma"}, "We stopped using it"),
        "Semrush": (
            "sanction_request",
            {"purpose": "SEO research", "data_held": "keywords"},
            "Please sanction it",
        ),
    }
    for app, (choice, fields, words) in answers.items():
        text, taps = _answer(browser, links[app], choice, fields, screenshots)
        assert app in text and f"recorded: “{words}”" in text
        assert taps <= 3, f"{app}: {taps} taps from the link to a recorded answer"
        assert not any(code in text for code in CODES), text
    rows = _answers(config)
    store = Store.open(config.store_path)
    try:
        rerouted = list(
            store.db.query(
                "SELECT owner, reason FROM confirm_requests WHERE routed_from IS NOT NULL"
            )
        )
    finally:
        store.close()
    assert {app: r["answer"] for app, r in rows.items()} == {
        "Canva": "stopped",
        "Jasper": "mine",
        "Mailchimp": "not_ours",
        "Semrush": "sanction_request",
    }
    assert (rows["Jasper"]["purpose"], rows["Jasper"]["renewal"]) == (
        "Ad copy drafts",
        "2027-03-31",
    )
    assert rows["Mailchimp"]["suggested_owner"] == "ben@acme.example"
    assert rerouted == [{"owner": "ben@acme.example", "reason": "suggested by eve@acme.example"}]

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    scan(config, tomorrow)
    model = report(config, tomorrow)
    states = {a: app_of(model, a)["confirmation"]["state"] for a in answers}
    assert states == {
        "Jasper": "confirmed",
        "Mailchimp": "rerouted",
        "Canva": "retire_requested",
        "Semrush": "sanction_requested",
    }
    assert "owner_unconfirmed" not in findings_of(model, "Jasper")
    assert [(r["kind"], r["app"]) for r in model["it_requests"]] == [
        ("revoke", "Canva"),
        ("sanction_review", "Semrush"),
    ]
    assert [(p["app"], p["owner"]) for p in model["pending_requests"]] == [
        ("Mailchimp", "ben@acme.example")
    ]


def test_tampered_and_expired_links_show_the_invalid_page(browser: Any, served: tuple) -> None:
    _config, links, clock = served
    url = links["Jasper"]
    at = len(url) - 12  # inside the signature; the last base64 character has unused bits
    tampered = url[:at] + ("A" if url[at] != "A" else "B") + url[at + 1 :]
    page = browser.new_page()
    try:
        response = page.goto(tampered)
        assert response.status == 403
        text = page.inner_text("main")
        assert INVALID in text and "Jasper" not in text and "@" not in text
        clock.now += timedelta(days=14, minutes=1)
        response = page.goto(url)
        assert response.status == 403
        assert INVALID in page.inner_text("main")
        assert "ana@acme.example" not in page.content()
    finally:
        page.close()


def test_on_a_phone_the_answers_come_first_and_high_risk_access_is_named_at_the_top(
    browser: Any, served: tuple, screenshots: Path
) -> None:
    _config, links, _clock = served
    visit = Visit(browser)
    page = visit.page
    try:
        assert page.goto(links["Jasper"]).status == 200
        page.screenshot(path=str(screenshots / "confirm-phone.png"), full_page=True)
        risk = page.locator("#high-risk")
        assert risk.is_visible()
        assert "read all of the user's mail and settings" in risk.inner_text()
        top = risk.bounding_box()
        answers = page.locator(".answers").bounding_box()
        assert top["y"] + top["height"] <= PHONE["height"], "the warning is on the first screen"
        assert top["y"] < answers["y"]
        for code in ANSWER_CODES:
            box = page.locator(f"label[for=pick-{code}]").bounding_box()
            assert box["height"] >= MIN_TAP and box["width"] >= MIN_TAP, (code, box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (code, box)
        text = page.inner_text("main")
        assert "3 people" in text
        assert not any(code in text for code in CODES), text
        # Choosing another answer swaps the fields shown; nothing is sent until "Send".
        visit.tap("label[for=pick-mine]")
        visit.tap("label[for=pick-stopped]")
        assert _visible_forms(page) == ["stopped"]
        assert page.url == links["Jasper"]
        assert visit.errors == [], visit.errors
    finally:
        visit.close()
    # Canva's only permissions are low: no warning. On a desktop, the same page.
    visit = Visit(browser, phone=False)
    try:
        assert visit.page.goto(links["Canva"]).status == 200
        assert visit.page.locator("#high-risk").count() == 0
        visit.tap("label[for=pick-not_ours]")
        assert _visible_forms(visit.page) == ["not_ours"]
        size = visit.measure()
        assert size["scroll"] <= DESKTOP["width"], size
        visit.page.screenshot(path=str(screenshots / "confirm-desktop.png"), full_page=True)
        assert visit.errors == [], visit.errors
    finally:
        visit.close()


def test_every_answer_works_without_javascript(
    browser: Any, served: tuple, screenshots: Path
) -> None:
    config, links, _clock = served
    for app, choice in (("Mailchimp", "not_ours"), ("Canva", "stopped")):
        text, taps = _answer(browser, links[app], choice, {}, screenshots, javascript=False)
        assert taps == 2, f"{app}: tap the answer, tap send"
    text, taps = _answer(
        browser, links["Semrush"], "sanction_request", {}, screenshots, javascript=False
    )
    assert taps == 2
    # "Yes, my team owns it" needs a purpose: the browser keeps the form until there is one.
    visit = Visit(browser, javascript=False)
    page = visit.page
    try:
        assert page.goto(links["Jasper"]).status == 200
        visit.tap("label[for=pick-mine]")
        visit.tap("#form-mine button")
        page.wait_for_timeout(300)
        assert page.url == links["Jasper"] and not page.title().startswith("Thank you")
        assert _visible_forms(page) == ["mine"]
        page.locator("#mine-purpose").fill("Ad copy drafts")
        with page.expect_navigation():
            visit.tap("#form-mine button")
        assert "is recorded" in page.inner_text("main")
        assert visit.taps == 3
    finally:
        visit.close()
    rows = _answers(config)
    assert {app: r["answer"] for app, r in rows.items()} == {
        "Canva": "stopped",
        "Jasper": "mine",
        "Mailchimp": "not_ours",
        "Semrush": "sanction_request",
    }
    assert rows["Jasper"]["purpose"] == "Ad copy drafts"


def test_the_server_refuses_a_blank_purpose_and_keeps_the_form(
    browser: Any, served: tuple, screenshots: Path
) -> None:
    config, links, _clock = served
    visit = Visit(browser, javascript=False)
    page = visit.page
    try:
        assert page.goto(links["Jasper"]).status == 200
        visit.tap("label[for=pick-mine]")
        page.locator("#mine-purpose").fill("   ")  # passes the browser's check, not ours
        page.locator("#mine-data").fill("leads")
        with page.expect_navigation() as navigation:
            visit.tap("#form-mine button")
        assert navigation.value.status == 400
        assert _visible_forms(page) == ["mine"], "the chosen answer stays open"
        error = page.locator("#form-mine .error")
        assert "Tell us what your team uses it for" in error.inner_text()
        box = error.bounding_box()
        assert 0 <= box["y"] < PHONE["height"], "the message is on screen, not above it"
        assert page.locator("#mine-data").input_value() == "leads"
        page.screenshot(path=str(screenshots / "confirm-phone-refused.png"))
        assert _answers(config) == {}
        page.locator("#mine-purpose").fill("Ad copy drafts")
        with page.expect_navigation():
            visit.tap("#form-mine button")
        assert "is recorded" in page.inner_text("main")
        # Chromium logs the 400 itself; nothing else may go wrong.
        assert [e for e in visit.errors if "status of 400" not in e] == [], visit.errors
    finally:
        visit.close()
    rows = _answers(config)
    assert [(app, r["answer"], r["purpose"], r["data_held"]) for app, r in rows.items()] == [
        ("Jasper", "mine", "Ad copy drafts", "leads")
    ]


LONG_NAME = "Campaign" + "x" * 300 + " Insights"
LONG_APP = (
    RawApp("google", "long-id", LONG_NAME),
    Grant(
        "google",
        "long-id",
        "u1",
        ("https://www.googleapis.com/auth/gmail.readonly",),
        granted_at=NOW - timedelta(days=5),
        user_email="ana@acme.example",
    ),
)


@pytest.mark.parametrize("served", [LONG_APP], indirect=True)
def test_a_long_unbroken_app_name_wraps_on_a_phone(
    browser: Any, served: tuple, screenshots: Path
) -> None:
    config, links, _clock = served
    (url,) = [url for app, url in links.items() if app.startswith("Campaignxxx")]
    visit = Visit(browser)
    page = visit.page
    try:
        assert page.goto(url).status == 200
        assert LONG_NAME in page.inner_text("h1")
        size = visit.measure()
        assert size["scroll"] <= PHONE["width"], size
        assert size["height"] < MAX_PHONE_HEIGHT, size
        page.screenshot(path=str(screenshots / "confirm-phone-long-name.png"), full_page=True)
        visit.tap("label[for=pick-stopped]")
        with page.expect_navigation():
            visit.tap("#form-stopped button")
        assert "is recorded" in page.inner_text("main")
        assert visit.measure()["scroll"] <= PHONE["width"]
        assert visit.errors == [], visit.errors
    finally:
        visit.close()
    assert _answers(config)[LONG_NAME]["answer"] == "stopped"
