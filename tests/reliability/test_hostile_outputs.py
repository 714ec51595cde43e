"""Hostile input through the outputs that leave the machine: notifications, confirmation emails,
the mail-merge CSV and the confirmation page; and attacks on the confirmation links.

The corpus (tests/data/hostile/strings.json) goes in as app names, publishers, scopes and user
names of a Marketing team, one person per app, so every hostile app gets its own confirmation
request. One scan, then: the notification of its findings is delivered through apprise to a
local JSON webhook, the confirmation requests are written as .eml files and requests.csv, and
each request's page is fetched and answered with hostile free text. Every output must be
inert: one line per item, no markup, mention, link, control, bidi or zero-width character that
came from data, no formula in a spreadsheet cell, no tag or handler in a page.

The link attacks (another key, a token for one request used for another, a used token, an
expired token, a tampered payload) must all get the same "no longer valid" page, 403, showing
nothing about the app and recording nothing.
"""

from __future__ import annotations

import base64
import csv
import email
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse
from werkzeug.wrappers import Request, Response

from connectors.testing.server import LoopbackServer
from reports.confirm import send_requests
from reports.confirm.links import LinkSigner
from reports.confirm.mail import LinkItem, compose
from reports.confirm.server import ConfirmApp
from scanner.analysis import confirm
from scanner.app import notify
from scanner.app.config import Config
from scanner.core.models import Grant, RawApp, SourceRecord, User
from scanner.store.database import Store
from tests.reliability.conftest import Observe
from tests.reliability.test_hostile import CORPUS, NOW, _formula
from tests.test_confirm_server import _attestations as attestations
from tests.test_confirm_support import KEY, Clock, inventory, scan, signing_key, write_config

INVALID = "This link is no longer valid"
LINK = re.compile(r"https?://\S+")
MARKUP = set("<>&*_~`[]|@#\\!")
"""Characters that are markup, mentions or links in Slack, Teams, Markdown or HTML."""
NOTIFY_LINES = ("New findings ", "- ", "Open findings now: ", "Details: ")
"""How every line of a scan notification begins; a forged line begins otherwise."""
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p", "ul", "li",
    "code", "form", "input", "label", "textarea", "button", "footer", "strong",
    "div", "span", "section", "details", "summary",
}  # fmt: skip
"""Every tag the confirmation templates use; any other tag came from data."""


def unsafe_chars(text: str, allow: str = "\n") -> list[str]:
    """Control, format (bidi, zero-width), private-use or unassigned characters in ``text``."""
    found = {c for c in text if c not in allow and unicodedata.category(c).startswith("C")}
    return sorted(f"U+{ord(c):04X}" for c in found)


# -- a Marketing team using the corpus ------------------------------------------------------
def hostile_records() -> Iterator[SourceRecord]:
    for i, (case, value) in enumerate(CORPUS):
        address = f"m{i}@acme.example"
        yield User("google", f"m{i}", address, display_name=value, department="Marketing")
        yield RawApp("google", f"client-{case}", value, publisher=value)
        yield Grant(
            "google",
            f"client-{case}",
            f"m{i}",
            ("email", value),
            granted_at=NOW - timedelta(days=3),
            user_email=address,
        )


@dataclass
class Sent:
    config: Config
    scan_id: int
    files: list[Path]
    requests: list[confirm.ConfirmRequest]
    links: dict[str, str]
    """request id -> link path."""


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    folder = tmp_path_factory.mktemp("hostile-outputs")
    config = write_config(folder)
    scan_id = scan(config, NOW - timedelta(hours=1), hostile_records())
    with signing_key():
        store = Store.open(config.store_path)
        try:
            result = send_requests(store, config, NOW)
            requests = confirm.requests(store)
        finally:
            store.close()
    merge = next(p for p in result.files if p.name == "requests.csv")
    with merge.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    signer = LinkSigner(KEY, 14, clock=lambda: NOW)
    links = {}
    for row in rows:
        token = row["link"].rsplit("/c/", 1)[1]
        claims = signer.verify(token)
        assert claims is not None
        links[claims.request_id] = f"/c/{token}"
    yield Sent(config, scan_id, result.files, requests, links)


# -- notifications --------------------------------------------------------------------------
def assert_inert_message(title: str, body: str) -> list[str]:
    """Check a notification; return its item lines."""
    assert "\n" not in title and not unsafe_chars(title), title
    lines = body.split("\n")
    assert not unsafe_chars(body), unsafe_chars(body)
    forged = [line for line in lines if not line.startswith(NOTIFY_LINES + ("Sources:",))]
    assert not forged, f"lines that no template makes: {forged[:3]}"
    items = [line for line in lines if line.startswith("- ")]
    for line in items:
        assert not MARKUP & set(line), f"markup or a mention in {line[:120]!r}"
        assert "://" not in line, f"a link in {line[:120]!r}"
        assert len(line) <= 400, "a 100 KB name is cut"
    return items


class Webhook:
    """A JSON webhook on 127.0.0.1 that keeps what apprise posts to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.posts.append(json.loads(request.get_data()))
        return Response("{}", mimetype="application/json")(environ, start_response)


def test_notification_of_hostile_findings_is_inert(sent: Sent, observe: Observe) -> None:
    hook = Webhook()
    store = Store.open(sent.config.store_path)
    try:
        with LoopbackServer(hook) as server:
            url = server.url.replace("http://", "json://") + "/hook"
            outcome = notify.notify_store(store, sent.config, sent.scan_id, [url], NOW, notify.send)
    finally:
        store.close()
    assert outcome.status == "sent" and outcome.findings >= len(CORPUS) - 6, outcome
    assert len(hook.posts) == 1
    payload = hook.posts[0]
    items = assert_inert_message(payload["title"], payload["message"])
    # One line per finding up to notify.MAX_FINDINGS, then one "and N more" line; the names
    # made of symbols, encodings and look-alike scripts also raise consent_phishing findings.
    shown = min(outcome.findings, notify.MAX_FINDINGS)
    more = outcome.findings - shown
    assert len(items) == shown + (1 if more else 0), "one line per finding, none forged"
    if more:
        assert items[-1] == f"- and {more} more in the report"
    observe(
        "hostile",
        "notification (apprise, JSON webhook on loopback): findings of apps named with the "
        "whole corpus",
        f"{len(items)} finding lines, one per finding; no markup, mention (@ #), link (://), "
        "control, bidi or zero-width character; 100 KB names cut to one short line",
    )


def test_notification_text_of_every_corpus_value_is_inert(sent: Sent, observe: Observe) -> None:
    news = notify.News(since_scan=0, scan_id=1)
    news.findings = [
        notify.NewFinding(f"f{i}", value, "unsanctioned", "high", f"why: {value}", "opened")
        for i, (_case, value) in enumerate(CORPUS)
    ]
    news.sources = [notify.SourceProblem("entra", "failed", f"provider said: {CORPUS[19][1]}")]
    message = notify.compose(news, sent.config)
    items = assert_inert_message(message.title, message.body)
    assert len(items) == len(CORPUS) + 1
    assert "forged log line" in items[-1], "the provider's newline became a space"
    observe(
        "hostile",
        "notification text: each corpus string as an app name, a finding reason and a "
        "provider error (newline log forging)",
        f"{len(items)} lines for {len(CORPUS)} findings and 1 source, one line each; markup "
        "characters replaced by look-alikes, :// defanged, controls shown as \u27e8U+XXXX\u27e9",
    )


# -- confirmation emails and the mail-merge CSV ---------------------------------------------
def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def template_lines() -> set[str]:
    """The unindented lines of a request message: the template's own text."""
    item = LinkItem("r", "Canva", "http://127.0.0.1:8765/c/x", NOW, "consented to it first", "new")
    out = compose("ana@acme.example", [item], "it@acme.example", "Acme", 2, NOW)
    body = out.message.get_content()
    return {line for line in body.split("\n") if not line.startswith("  ")}


def test_confirmation_emails_are_inert(sent: Sent, observe: Observe) -> None:
    template = template_lines()
    messages = [read_eml(p) for p in sent.files if p.suffix == ".eml"]
    assert len(messages) >= len(CORPUS) - 6
    for message in messages:
        subject = str(message["Subject"])
        assert not unsafe_chars(subject) and "\n" not in subject, repr(subject[:120])
        assert "://" not in subject and len(subject) <= 200, subject[:120]
        assert message.get_body(("html",)) is None, "text only: nothing to render"
        body = message.get_content()
        assert not unsafe_chars(body), (subject[:80], unsafe_chars(body))
        lines = body.split("\n")
        forged = [line for line in lines if not line.startswith("  ") and line not in template]
        assert not forged, f"lines no template makes: {forged[:3]}"
        links = [line.strip() for line in lines if LINK.search(line)]
        assert links and all(LINK.fullmatch(link) for link in links), "only our own links"
        assert all("/c/" in link for link in links)
    observe(
        "hostile",
        "confirmation emails (.eml): app names with markup, formulas, URLs, newlines, bidi, "
        "zero-width, NUL, ESC, 100 KB",
        f"{len(messages)} messages, text/plain only; subjects one short line; each app name "
        "one line; no control, bidi or zero-width character; the only links are the "
        "signed confirmation links (:// in names defanged)",
    )


def test_mail_merge_csv_cells_are_inert(sent: Sent, observe: Observe) -> None:
    merge = next(p for p in sent.files if p.name == "requests.csv")
    data = merge.read_bytes()
    assert b"\x00" not in data
    with merge.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    bad = [cell for row in rows for cell in row if _formula(cell)]
    assert not bad, f"formula-like cells: {bad[:3]}"
    assert any(cell.startswith("'=") for row in rows for cell in row)
    assert all(len(row) == len(rows[0]) for row in rows), "no cell broke a row"
    observe(
        "hostile",
        "confirmation mail-merge CSV (requests.csv): app names starting with = + - @ tab CR",
        f"{len(rows) - 1} rows; every formula-like cell gets a leading apostrophe; "
        "NUL and controls removed",
    )


# -- the confirmation page ------------------------------------------------------------------
class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert_page(html: str) -> None:
    hidden = unsafe_chars(html, allow="\t\n\r")
    assert not hidden, f"control, bidi or zero-width characters reach the page: {hidden}"
    parsed = Structure()
    parsed.feed(html)
    tags = {tag for tag, _ in parsed.tags}
    assert tags <= PAGE_TAGS, f"tags from data: {tags - PAGE_TAGS}"
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), f"<{tag} {name}=...> came from data"
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name)


def page_client(config: Config) -> Client:
    with signing_key():
        return Client(ConfirmApp.from_config(config, clock=Clock(NOW + timedelta(hours=1))))


def csrf_of(page: TestResponse) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.get_data(as_text=True))
    assert match, "the form carries a CSRF field"
    return match.group(1)


def test_confirmation_pages_escape_every_hostile_name(sent: Sent, observe: Observe) -> None:
    client = page_client(sent.config)
    pages = {}
    for asked in sent.requests:
        page = client.get(sent.links[asked.id])
        assert page.status_code == 200, asked.app_name[:80]
        pages[asked.app_name] = page.get_data(as_text=True)
        assert_inert_page(pages[asked.app_name])
    script = next(html for name, html in pages.items() if name == CORPUS[0][1])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in script
    template = next(html for name, html in pages.items() if name == CORPUS[5][1])
    assert "{{ 7*7 }}" in template, "template syntax in a name is not evaluated"
    observe(
        "hostile",
        "confirmation page: app names, scopes and publishers from the corpus",
        f"{len(pages)} pages, each with only the template's own tags; names escaped "
        "(&lt;script&gt;), no event handler or javascript: URL, template syntax shown as text; "
        "control, bidi and zero-width characters shown as \u27e8U+XXXX\u27e9",
    )


def test_hostile_answers_are_escaped_and_kept_as_text(sent: Sent, observe: Observe) -> None:
    asked = next(r for r in sent.requests if r.app_name == CORPUS[1][1])
    client = page_client(sent.config)
    page = client.get(sent.links[asked.id])
    breakout = '"></textarea><script>alert(1)</script>'
    refused = client.post(
        sent.links[asked.id],
        data={"answer": "mine", "data_held": breakout, "note": breakout, "csrf": csrf_of(page)},
    )
    assert refused.status_code == 400, "no purpose given: the form comes back"
    assert_inert_page(refused.get_data(as_text=True))
    assert "&lt;/textarea&gt;&lt;script&gt;" in refused.get_data(as_text=True)
    done = client.post(
        sent.links[asked.id],
        data={"answer": "mine", "purpose": breakout, "note": CORPUS[18][1], "csrf": csrf_of(page)},
    )
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    assert_inert_page(done.get_data(as_text=True))
    store = Store.open(sent.config.store_path)
    try:
        saved = [a for a in confirm.attestations(store) if a.request_id == asked.id]
    finally:
        store.close()
    assert [a.purpose for a in saved] == [breakout], "kept as the text that was typed"
    observe(
        "hostile",
        "confirmation form: a </textarea><script> breakout and terminal escapes typed as answers",
        "the re-shown form and the thank-you page escape them; stored as plain text",
    )


# -- attacks on confirmation links ----------------------------------------------------------
def swap_payload(token: str, **claims: str) -> str:
    """The token with its payload changed and its signature kept."""
    payload, stamp, signature = token.rsplit(".", 2)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    raw = json.dumps(data, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{forged}.{stamp}.{signature}"


@pytest.fixture()
def acme(tmp_path: Path) -> Iterator[tuple[Config, dict[str, confirm.ConfirmRequest]]]:
    config = inventory(tmp_path)
    with signing_key():
        store = Store.open(config.store_path)
        try:
            send_requests(store, config, NOW)
            requests = {r.app_name: r for r in confirm.requests(store)}
        finally:
            store.close()
    yield config, requests


def assert_invalid(response: TestResponse, asked: confirm.ConfirmRequest) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and INVALID in html
    assert asked.app_name not in html and asked.owner not in html
    assert "<form" not in html and "csrf" not in html, "no data, no form"


ATTACKS = [
    "signed with another key",
    "request A with app B's key",
    "payload changed to request B",
    "used token replayed",
    "expired token",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_or_replayed_links_are_refused(
    acme: tuple[Config, dict[str, confirm.ConfirmRequest]], attack: str, observe: Observe
) -> None:
    config, requests = acme
    a, b = requests["Jasper"], requests["Canva"]
    signer = LinkSigner(KEY, 14, clock=lambda: NOW)
    genuine = signer.token(a.id, a.app_key, a.owner)
    clock = Clock(NOW + timedelta(hours=1))
    with signing_key():
        client = Client(ConfirmApp.from_config(config, clock=clock))
    assert client.get(f"/c/{genuine}").status_code == 200, "the genuine link works"
    forged = {
        "signed with another key": LinkSigner("z" * 48, 14).token(a.id, a.app_key, a.owner),
        "request A with app B's key": signer.token(a.id, b.app_key, a.owner),
        "payload changed to request B": swap_payload(genuine, r=b.id, a=b.app_key),
        "used token replayed": genuine,
        "expired token": genuine,
    }[attack]
    if attack == "used token replayed":
        page = client.get(f"/c/{genuine}")
        answer = {"answer": "stopped", "csrf": csrf_of(page)}
        assert client.post(f"/c/{genuine}", data=answer).status_code == 200
        again = client.post(f"/c/{genuine}", data=answer)
        assert_invalid(again, a)
    if attack == "expired token":
        clock.now = NOW + timedelta(days=14, seconds=1)
    before = attestations(config)
    victim = b if attack == "payload changed to request B" else a
    assert_invalid(client.get(f"/c/{forged}"), victim)
    post = client.post(f"/c/{forged}", data={"answer": "stopped", "csrf": "0" * 64})
    assert_invalid(post, victim)
    assert attestations(config) == before, "nothing recorded"
    observe(
        "confirm",
        f"confirmation link: {attack}",
        "GET and POST answer 403 with the same 'this link is no longer valid' page: no app "
        "name, no owner, no form; nothing recorded",
    )


def test_another_requests_form_cannot_answer_this_one(
    acme: tuple[Config, dict[str, confirm.ConfirmRequest]], observe: Observe
) -> None:
    config, requests = acme
    a, b = requests["Jasper"], requests["Canva"]
    signer = LinkSigner(KEY, 14, clock=lambda: NOW)
    link_a = f"/c/{signer.token(a.id, a.app_key, a.owner)}"
    link_b = f"/c/{signer.token(b.id, b.app_key, b.owner)}"
    client = page_client(config)
    form_b = client.get(link_b)
    mixed = client.post(link_a, data={"answer": "stopped", "csrf": csrf_of(form_b)})
    html = mixed.get_data(as_text=True)
    assert mixed.status_code == 400 and "not sent from this page" in html
    assert a.app_name not in html and b.app_name not in html
    assert attestations(config) == []
    observe(
        "confirm",
        "confirmation link: app A's link posted with app B's form (its CSRF value)",
        "refused with 400 'please try again' (the CSRF value is bound to one request); no "
        "app shown; nothing recorded",
    )
