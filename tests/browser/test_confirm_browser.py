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
from scanner.store.database import Store
from tests.test_confirm_support import (
    KEY,
    KEY_ENV,
    Clock,
    app_of,
    findings_of,
    inventory,
    report,
    scan,
    signing_key,
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
def served(tmp_path: Path) -> Iterator[tuple[Config, dict[str, str], Clock]]:
    """Requests sent as message files by the CLI; their links served on 127.0.0.1."""
    with signing_key():
        # The port is known before the config that names it, so the app is set afterwards.
        serving: dict[str, Any] = {}
        server = create_server(lambda e, s: serving["app"](e, s), ServeLimits(), "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.port}"
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _answer(browser: Any, url: str, choice: str, fields: dict[str, str]) -> str:
    """Open the link, fill one of the four forms, send it; return the page's text."""
    page = browser.new_page()
    try:
        assert page.goto(url).status == 200
        form = page.locator(f"#form-{choice}")
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        with page.expect_navigation() as navigation:
            form.locator("button").click()
        assert navigation.value.status == 200
        assert page.title().startswith("Thank you")
        text = str(page.inner_text("main"))
        used = page.goto(url)
        assert used.status == 403, "a link works once"
        assert INVALID in page.inner_text("main")
        return text
    finally:
        page.close()


def test_four_answers_from_message_file_links(browser: Any, served: tuple) -> None:
    config, links, _clock = served
    assert set(links) == {"Canva", "Jasper", "Mailchimp", "Semrush"}
    answers = {
        "Jasper": (
            "mine",
            {"purpose": "Ad copy drafts", "data_held": "none", "renewal": "2027-03-31"},
        ),
        "Mailchimp": ("not_ours", {"suggested_owner": "ben@acme.example"}),
        "Canva": ("stopped", {"note": "Moved to Figma"}),
        "Semrush": ("sanction_request", {"purpose": "SEO research", "data_held": "keywords"}),
    }
    for app, (choice, fields) in answers.items():
        assert app in _answer(browser, links[app], choice, fields)
    store = Store.open(config.store_path)
    try:
        rows = {
            r["app_name"]: r for r in store.db.query("SELECT * FROM attestations ORDER BY app_name")
        }
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
