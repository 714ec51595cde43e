"""The confirmation page through werkzeug's test client: links, answers, CSRF, invalid links."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from werkzeug.test import Client, TestResponse

from reports.confirm import send_requests
from reports.confirm.links import SALT, LinkSigner, link_url, redact_path
from reports.confirm.server import ConfirmApp
from scanner.analysis import confirm
from scanner.app.config import Config
from scanner.store.database import Store
from tests.test_confirm_support import (
    KEY,
    NOW,
    Clock,
    app_of,
    findings_of,
    inventory,
    report,
    scan,
    signing_key,
)

INVALID = "This link is no longer valid"
BASE = "http://127.0.0.1:8765"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Config, dict[str, str], Clock]]:
    """An inventory with requests sent; app name -> link path."""
    config = inventory(tmp_path)
    with signing_key():
        store = Store.open(config.store_path)
        try:
            result = send_requests(store, config, NOW)
        finally:
            store.close()
        rows = csv.DictReader(result.files[-1].open(encoding="utf-8"))
        links = {r["app"]: r["link"].removeprefix(BASE) for r in rows}
        yield config, links, Clock(NOW + timedelta(hours=1))


def _client(config: Config, clock: Clock) -> Client:
    return Client(ConfirmApp.from_config(config, clock=clock))


def _csrf(page: TestResponse) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.get_data(as_text=True))
    assert match, "the form carries a CSRF field"
    return match.group(1)


def _attestations(config: Config) -> list[confirm.Attestation]:
    store = Store.open(config.store_path)
    try:
        return confirm.attestations(store)
    finally:
        store.close()


def test_page_shows_the_app_its_access_and_only_its_users(setup: tuple) -> None:
    config, links, clock = setup
    with signing_key():
        page = _client(config, clock).get(links["Jasper"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Does your team own Jasper?" in html
    assert "read all of the user&#39;s mail and settings" in html, "scope meaning, escaped"
    assert "consented to it first" in html
    for user in ("ana@acme.example", "ben@acme.example", "eve@acme.example"):
        assert user in html
    for other in ("carl@acme.example", "dora@acme.example", "lead@acme.example", "mops@"):
        assert other not in html, f"{other} does not use Jasper"
    for app in ("Canva", "Semrush", "GitHub", "Buffer"):
        assert app not in html, "the page never lists other apps"
    for label in ("Yes, my team owns it", "Not ours", "We stopped using it", "Please sanction it"):
        assert label in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "SameSite=Strict" in page.headers["Set-Cookie"]
    assert "HttpOnly" in page.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("app", "form", "state"),
    [
        ("Jasper", {"answer": "mine", "purpose": "Ad copy", "renewal": "2027-03-31"}, "confirmed"),
        ("Jasper", {"answer": "not_ours", "suggested_owner": "eve@acme.example"}, "rerouted"),
        ("Canva", {"answer": "stopped", "note": "Figma instead"}, "retire_requested"),
        ("Jasper", {"answer": "sanction_request", "purpose": "Ads"}, "sanction_requested"),
    ],
)
def test_each_answer_is_stored_once_and_shows_in_the_next_report(
    setup: tuple, app: str, form: dict[str, str], state: str
) -> None:
    config, links, clock = setup
    with signing_key():
        client = _client(config, clock)
        page = client.get(links[app])
        done = client.post(links[app], data={**form, "csrf": _csrf(page)})
        assert done.status_code == 200, done.get_data(as_text=True)
        assert "Thank you" in done.get_data(as_text=True)
        again = client.get(links[app])
        replay = client.post(links[app], data={**form, "csrf": _csrf(page)})
    assert again.status_code == 403 and INVALID in again.get_data(as_text=True)
    assert app not in again.get_data(as_text=True)
    assert replay.status_code == 403
    saved = _attestations(config)
    assert [(a.app_name, a.answer) for a in saved] == [(app, form["answer"])]
    assert saved[0].answered == clock.now
    scan(config, NOW + timedelta(days=1))
    model = report(config, NOW + timedelta(days=1))
    assert app_of(model, app)["confirmation"]["state"] == state
    if state == "confirmed":
        assert "owner_unconfirmed" not in findings_of(model, app)
    else:
        assert findings_of(model, app)["owner_unconfirmed"] == "open"


def test_tampered_foreign_and_expired_links_are_invalid(setup: tuple) -> None:
    config, links, clock = setup
    path = links["Jasper"]
    token = path.rsplit("/", 1)[1]
    body, signature = token.rsplit(".", 1)
    # Change a middle character: the last base64 character carries unused bits.
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    other = LinkSigner("another-key-" + "x" * 30, 14).token("r", "cat:jasper", "ana@acme.example")
    with signing_key():
        client = _client(config, clock)
        for bad in (f"/c/{body}.{flipped}", f"/c/{body}", f"/c/{other}", "/c/garbage"):
            page = client.get(bad)
            assert page.status_code == 403, bad
            assert INVALID in page.get_data(as_text=True)
            assert "Jasper" not in page.get_data(as_text=True)
        clock.now = NOW + timedelta(days=14, seconds=1)
        expired = client.get(path)
        assert expired.status_code == 403 and INVALID in expired.get_data(as_text=True)
        clock.now = NOW + timedelta(days=13, hours=23)
        assert client.get(path).status_code == 200


def test_a_link_made_for_another_person_or_app_is_invalid(setup: tuple) -> None:
    config, _links, clock = setup
    store = Store.open(config.store_path)
    try:
        jasper = next(r for r in confirm.requests(store) if r.app_name == "Jasper")
    finally:
        store.close()
    signer = LinkSigner(KEY, 14, clock=lambda: NOW)
    with signing_key():
        client = _client(config, clock)
        wrong_owner = signer.token(jasper.id, jasper.app_key, "ben@acme.example")
        wrong_app = signer.token(jasper.id, "cat:canva", jasper.owner)
        right = signer.token(jasper.id, jasper.app_key, jasper.owner)
        assert client.get(f"/c/{wrong_owner}").status_code == 403
        assert client.get(f"/c/{wrong_app}").status_code == 403
        assert client.get(f"/c/{right}").status_code == 200


def _payload(token: str) -> dict[str, str]:
    """What anyone holding a link can read from it: the token's payload is only base64."""
    data: dict[str, str] = URLSafeTimedSerializer("no key needed").load_payload(
        token.split(".", 1)[0].encode()
    )
    return data


def _old_style_token(request: confirm.ConfirmRequest, signed_at: datetime) -> str:
    """A link as ``confirm send`` made them before the owner digest was keyed: the same
    serializer, salt and key, with ``"o"``, an unkeyed SHA-256 of the address."""

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(signed_at.timestamp())

    old = URLSafeTimedSerializer(
        KEY, salt=SALT, signer=Then, signer_kwargs={"digest_method": hashlib.sha256}
    )
    digest = hashlib.sha256(request.owner.strip().lower().encode()).hexdigest()[:16]
    return str(old.dumps({"r": request.id, "a": request.app_key, "o": digest}))


def _jasper(config: Config) -> confirm.ConfirmRequest:
    store = Store.open(config.store_path)
    try:
        return next(r for r in confirm.requests(store) if r.app_name == "Jasper")
    finally:
        store.close()


def test_a_new_link_carries_a_keyed_owner_digest_that_no_guess_can_be_checked_against(
    setup: tuple,
) -> None:
    _config, links, _clock = setup
    claims = _payload(links["Jasper"].rsplit("/", 1)[1])
    assert set(claims) == {"r", "a", "h"}, "no unkeyed digest in a new link"
    owner = "ana@acme.example"  # Jasper's likely owner: first marketing consent
    expected = hmac.new(
        KEY.encode(), b"shadowit.confirm.owner.v1|" + owner.encode(), hashlib.sha256
    ).hexdigest()[:32]
    assert claims["h"] == expected
    # Offline, a holder of the link can hash guesses, but none of them matches without the key.
    guesses = ["ana@acme.example", "ben@acme.example", "eve@acme.example", "lead@acme.example"]
    for guess in guesses:
        unkeyed = hashlib.sha256(guess.encode()).hexdigest()
        assert not unkeyed.startswith(claims["h"]) and not claims["h"].startswith(unkeyed[:16])
    assert LinkSigner("another-key-" + "x" * 30, 14).owner_digest(owner) != claims["h"]
    assert LinkSigner(KEY, 14).owner_digest(" Ana@ACME.example ") == claims["h"]


def test_an_old_style_link_works_until_it_expires_and_not_after(setup: tuple) -> None:
    config, _links, clock = setup
    jasper = _jasper(config)
    token = _old_style_token(jasper, NOW)
    assert set(_payload(token)) == {"r", "a", "o"}
    with signing_key():
        client = _client(config, clock)
        clock.now = NOW + timedelta(days=13, hours=23)
        page = client.get(f"/c/{token}")
        assert page.status_code == 200 and "Does your team own Jasper?" in page.get_data(
            as_text=True
        )
        clock.now = NOW + timedelta(days=14, seconds=1)
        expired = client.get(f"/c/{token}")
        assert expired.status_code == 403 and INVALID in expired.get_data(as_text=True)
        # An old-style link names its owner too: one made for someone else is refused.
        clock.now = NOW + timedelta(hours=1)
        other = _old_style_token(dataclasses.replace(jasper, owner="ben@acme.example"), NOW)
        assert client.get(f"/c/{other}").status_code == 403
        answered = client.post(
            f"/c/{token}", data={"answer": "stopped", "note": "x", "csrf": _csrf(page)}
        )
    assert answered.status_code == 200, answered.get_data(as_text=True)
    assert [(a.app_name, a.answer) for a in _attestations(config)] == [("Jasper", "stopped")]


def test_csrf_missing_or_wrong_records_nothing(setup: tuple) -> None:
    config, links, clock = setup
    form = {"answer": "stopped"}
    with signing_key():
        fresh = _client(config, clock)
        no_cookie = fresh.post(links["Canva"], data={**form, "csrf": "0" * 64})
        assert no_cookie.status_code == 400
        assert "not sent from this page" in no_cookie.get_data(as_text=True)
        client = _client(config, clock)
        page = client.get(links["Canva"])
        assert client.post(links["Canva"], data=form).status_code == 400
        wrong = client.post(links["Canva"], data={**form, "csrf": "f" * 64})
        assert wrong.status_code == 400
        cross = client.post(
            links["Canva"],
            data={**form, "csrf": _csrf(page)},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        # A CSRF value from another request's page does not fit this one.
        other = client.get(links["Jasper"])
        mixed = client.post(links["Canva"], data={**form, "csrf": _csrf(other)})
        assert mixed.status_code == 400
    assert _attestations(config) == []


def test_invalid_answer_shows_the_form_again_and_keeps_the_link(setup: tuple) -> None:
    config, links, clock = setup
    with signing_key():
        client = _client(config, clock)
        page = client.get(links["Jasper"])
        bad = client.post(
            links["Jasper"],
            data={"answer": "mine", "data_held": "<b>leads</b>", "csrf": _csrf(page)},
        )
        html = bad.get_data(as_text=True)
        assert bad.status_code == 400
        assert "Tell us what your team uses it for" in html
        assert "&lt;b&gt;leads&lt;/b&gt;" in html and "<b>leads</b>" not in html
        outside = client.post(
            links["Jasper"],
            data={"answer": "not_ours", "suggested_owner": "x@else.example", "csrf": _csrf(page)},
        )
        assert outside.status_code == 400
        assert "Suggest a colleague with an address at acme.example." in outside.get_data(
            as_text=True
        )
        assert client.get(links["Jasper"]).status_code == 200
    assert _attestations(config) == []


def test_health_and_unknown_paths(setup: tuple) -> None:
    config, _links, clock = setup
    with signing_key():
        client = _client(config, clock)
        assert client.get("/healthz").get_data(as_text=True) == "ok\n"
        missing = client.get("/")
        assert missing.status_code == 404
        assert client.put("/healthz").status_code == 405


def test_link_url_and_log_redaction() -> None:
    assert link_url("https://x.example/confirm/", "abc") == "https://x.example/confirm/c/abc"
    assert redact_path("/c/eyJ.abc.def") == "/c/<link>"
    assert redact_path("/healthz?x=1") == "/healthz"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_serving_logs_no_token(setup: tuple) -> None:
    import threading
    import urllib.request

    from reports.confirm.serving import ServeLimits, create_server

    config, links, clock = setup
    lines = _Lines()
    logger = logging.getLogger("reports.confirm.server")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    with signing_key():
        app = ConfirmApp.from_config(config, clock=clock)
    server = create_server(app, ServeLimits(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.port}{links['Jasper']}"
        with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback only
            assert response.status == 200
    finally:
        server.stop()
        thread.join(5)
        logger.removeHandler(lines)
        logger.setLevel(level)
    token = links["Jasper"].rsplit("/", 1)[1]
    assert "GET /c/<link> 200" in lines.lines
    assert not any(token in line for line in lines.lines)


def test_a_refused_answer_reopens_its_own_fields_with_what_was_typed(setup: tuple) -> None:
    config, links, clock = setup
    with signing_key():
        client = _client(config, clock)
        page = client.get(links["Jasper"])
        first = page.get_data(as_text=True)
        assert re.findall(r'id="pick-(\w+)"[^>]* checked', first) == [], "none chosen yet"
        bad = client.post(
            links["Jasper"],
            data={"answer": "mine", "data_held": "leads", "note": "ask Ben", "csrf": _csrf(page)},
        )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert re.search(r'<p class="error" role="alert"[^>]*>Tell us what your team uses it for', html)
    assert re.findall(r'id="pick-(\w+)"[^>]* checked', html) == ["mine"]
    assert 'id="mine-data" name="data_held" maxlength="2000" value="leads"' in html
    assert ">ask Ben</textarea>" in html
    assert 'id="sanction_request-data" name="data_held" maxlength="2000" value=""' in html
    assert _attestations(config) == []


def _text(html: str) -> str:
    """What a person reads: the page without its tags, attributes and style sheet."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))


@pytest.mark.parametrize(
    ("app", "form", "words"),
    [
        ("Jasper", {"answer": "mine", "purpose": "Ads"}, "Yes, my team owns it"),
        ("Jasper", {"answer": "not_ours"}, "Not ours"),
        ("Canva", {"answer": "stopped"}, "We stopped using it"),
        ("Jasper", {"answer": "sanction_request"}, "Please sanction it"),
    ],
)
def test_pages_say_words_not_codes(
    setup: tuple, app: str, form: dict[str, str], words: str
) -> None:
    config, links, clock = setup
    with signing_key():
        client = _client(config, clock)
        page = client.get(links[app])
        done = client.post(links[app], data={**form, "csrf": _csrf(page)})
    assert done.status_code == 200
    for html in (page.get_data(as_text=True), done.get_data(as_text=True)):
        text = _text(html)
        assert not re.search(r"\b\w+_\w+\b", text), re.findall(r"\b\w+_\w+\b", text)
    assert f"is recorded: “{words}”" in done.get_data(as_text=True)
    assert "3 people" in _text(page.get_data(as_text=True)) or app == "Canva"


def test_high_risk_access_is_named_first_and_application_permissions_count_as_high(
    setup: tuple,
) -> None:
    from reports.confirm.access import app_access
    from scanner.analysis.risk import ScopeInfo, ScopeTable

    config, links, clock = setup
    with signing_key():
        jasper = _client(config, clock).get(links["Jasper"]).get_data(as_text=True)
        canva = _client(config, clock).get(links["Canva"]).get_data(as_text=True)
    risk = jasper.index('id="high-risk"')
    assert risk < jasper.index("What it can access") < jasper.index("Your answer")
    assert "read all of the user&#39;s mail and settings" in jasper[risk : risk + 400]
    assert 'id="high-risk"' not in canva, "Canva's permissions are low: no warning"
    # An application permission is high risk whatever its level.
    table = ScopeTable(
        {
            ("email", "delegated"): ScopeInfo("email", "low", "see the email address", "t"),
            ("email", "application"): ScopeInfo("email", "low", "see every address", "t"),
        }
    )
    store = Store.open(config.store_path)
    try:
        scan_id = store.latest_scan()
        row = next(
            store.db.query(
                "SELECT app_key, data FROM app_snapshots WHERE scan_id = ? AND name = 'Canva'",
                [scan_id],
            )
        )
        lines = app_access(store, row["app_key"], table)
        assert not any(line.high_risk for line in lines if line.scopes == ("email",))
        data = json.loads(row["data"])
        data["scope_grants"] = [["email", "application", 1]]
        store.db.execute(
            "UPDATE app_snapshots SET data = ? WHERE scan_id = ? AND app_key = ?",
            [json.dumps(data), scan_id, row["app_key"]],
        )
        store.db.conn.commit()
        lines = app_access(store, row["app_key"], table)
    finally:
        store.close()
    held = [line for line in lines if line.scopes == ("email",)]
    assert [(h.meaning, h.application, h.high_risk) for h in held] == [
        ("see every address", True, True)
    ]
    assert lines[0] == held[0], "an application permission comes first"
