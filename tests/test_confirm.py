"""Ownership confirmation state: settings, who is asked, sending, reminders, answers, report."""

from __future__ import annotations

import csv
import email
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest

from reports import model as report_model
from reports.confirm import plan_lines, plan_requests, send_lines, send_requests
from scanner.analysis import confirm
from scanner.app.config import Config, OrganisationSettings, from_dict
from scanner.core.config import ConfirmSettings
from scanner.core.errors import ConfigError
from scanner.store.database import Store
from tests.test_confirm_support import (
    KEY,
    NOW,
    app_of,
    findings_of,
    inventory,
    report,
    scan,
    signing_key,
)

LINK = re.compile(r"http://127\.0\.0\.1:8765/c/[A-Za-z0-9._-]+")


def _settings(table: dict[str, object]) -> confirm.ConfirmSettings:
    return confirm.settings(from_dict({"confirm": table}, Path("config.toml")))


# -- settings -------------------------------------------------------------------------------
def test_settings_defaults() -> None:
    s = _settings({})
    assert (s.expiry_days, s.link_base_url, s.host, s.smtp_host) == (
        14,
        "http://127.0.0.1:8765",
        "127.0.0.1",
        None,
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"expiry_day": 3}, "confirm.expiry_day: unknown setting"),
        ({"expiry_days": "14"}, "confirm.expiry_days: expected a whole number"),
        ({"expiry_days": 0}, "confirm.expiry_days: must be 1 or more"),
        ({"max_reminders": -1}, "confirm.max_reminders: must be 0 or more"),
        ({"fallback_owner": "marketing ops"}, "confirm.fallback_owner: 'marketing ops' is not"),
        ({"link_base_url": "ftp://x"}, "confirm.link_base_url: 'ftp://x' is not an http(s) URL"),
        ({"smtp_ssl": True, "smtp_starttls": True}, "confirm.smtp_ssl: choose implicit TLS"),
        ({"smtp_username": "bot"}, "confirm.smtp_password_env: smtp_username is set"),
    ],
)
def test_settings_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _settings(table)


def test_signing_key_missing_or_short(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = from_dict({"confirm": {"secret_env": "CONFIRM_KEY_T"}}, Path("c.toml"))
    s = confirm.settings(cfg)
    monkeypatch.delenv("CONFIRM_KEY_T", raising=False)
    with pytest.raises(ConfigError, match="confirm.secret_env: environment variable CONFIRM_KEY_T"):
        confirm.signing_key(s, cfg)
    monkeypatch.setenv("CONFIRM_KEY_T", "short")
    with pytest.raises(ConfigError, match="shorter than 32 characters") as err:
        confirm.signing_key(s, cfg)
    assert "short" not in str(err.value).replace("shorter", "")
    monkeypatch.setenv("CONFIRM_KEY_T", KEY)
    assert confirm.signing_key(s, cfg) == KEY
    no_key = from_dict({"confirm": {}}, Path("c.toml"))
    with pytest.raises(ConfigError, match="confirm.secret: set confirm.secret_env"):
        confirm.signing_key(confirm.settings(no_key), no_key)


# -- who is asked -----------------------------------------------------------------------------
def test_plan_asks_the_likely_owner_of_each_marketing_app(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with _store(config) as store:
        planned = plan_requests(store, config, NOW)
    asked = {d.app_name: (d.owner, d.reason, d.kind) for d in planned.deliveries}
    assert asked == {
        "Canva": ("lead@acme.example", "owner in the sanctioned list", "new"),
        "Jasper": ("ana@acme.example", "consented to it first", "new"),
        "Mailchimp": ("eve@acme.example", "consented to it first", "new"),
        # Only Sales uses Semrush: nobody in marketing to ask, so the fallback owner is.
        "Semrush": ("mops@acme.example", "fallback owner for marketing tools", "new"),
    }
    lines = plan_lines(planned)
    assert "ask: ana@acme.example about Jasper (consented to it first)" in lines
    assert not any("GitHub" in line or "Buffer" in line for line in lines)


def test_plan_without_fallback_names_unowned_apps(tmp_path: Path) -> None:
    config = replace(inventory(tmp_path), confirm=ConfirmSettings(secret_env="X"))
    with _store(config) as store:
        planned = plan_requests(store, config, NOW)
    assert planned.unowned == ("Semrush",)
    assert "no one to ask about Semrush: set confirm.fallback_owner" in plan_lines(planned)


def test_plan_changes_nothing(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with _store(config) as store:
        plan_requests(store, config, NOW)
        assert confirm.requests(store) == []


# -- sending as files -----------------------------------------------------------------------
def test_send_writes_one_message_per_owner_and_a_merge_csv(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        result = send_requests(store, config, NOW)
        rows = confirm.requests(store)
    emls = sorted(p.name for p in result.files if p.suffix == ".eml")
    assert emls == [
        "ana@acme.example.eml",
        "eve@acme.example.eml",
        "lead@acme.example.eml",
        "mops@acme.example.eml",
    ]
    for path in result.files:
        assert path.stat().st_mode & 0o077 == 0, f"{path} must be readable by its owner only"
    message = email.message_from_bytes(
        (result.files[0].parent / "ana@acme.example.eml").read_bytes(), policy=policy.default
    )
    assert message["To"] == "ana@acme.example"
    assert "Jasper" in message["Subject"]
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert len(LINK.findall(body)) == 1
    assert "consented to it first" in body and "04 December 2026" in body
    merge = list(csv.DictReader((result.files[-1]).open(encoding="utf-8")))
    assert {r["app"] for r in merge} == {"Canva", "Jasper", "Mailchimp", "Semrush"}
    assert all(LINK.fullmatch(r["link"]) for r in merge)
    assert {r.status for r in rows} == {"pending"} and all(r.last_sent == NOW for r in rows)
    out = send_lines(result)
    assert "wrote a message for ana@acme.example: 1 request" in out
    assert not any("/c/" in line for line in out), "links never go to the console"


def test_nothing_secret_in_the_store(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        result = send_requests(store, config, NOW)
    tokens = [r["link"].rsplit("/", 1)[1] for r in csv.DictReader(result.files[-1].open())]
    data = b"".join(p.read_bytes() for p in tmp_path.glob("shadowit.db*"))
    assert KEY.encode() not in data
    for token in tokens:
        assert token.encode() not in data
        assert token.split(".")[-1].encode() not in data


def test_send_is_idempotent_until_a_reminder_is_due(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        again = send_requests(store, config, NOW + timedelta(days=1))
        assert again.delivered == [] and again.files == []
        reminder = send_requests(store, config, NOW + timedelta(days=3))
        assert {d.owner for d in reminder.delivered} == {
            "ana@acme.example",
            "eve@acme.example",
            "lead@acme.example",
            "mops@acme.example",
        }
        eml = reminder.files[0].read_text(encoding="utf-8")
        assert "Subject: Reminder:" in eml and "(reminder 1 of 2)" in eml
        send_requests(store, config, NOW + timedelta(days=6))
        third = plan_requests(store, config, NOW + timedelta(days=9))
        assert third.deliveries == (), "at most max_reminders reminders"
        assert {r.reminders for r in confirm.requests(store)} == {2}


def test_unanswered_request_expires_and_the_next_owner_is_asked(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        for day in (0, 3, 6):
            send_requests(store, config, NOW + timedelta(days=day))
        later = NOW + timedelta(days=6 + 15)
        planned = plan_requests(store, config, later)
        assert {r.app_name for r in planned.expiring} == {"Canva", "Jasper", "Mailchimp", "Semrush"}
        asked = {d.app_name: d.owner for d in planned.deliveries}
        # Canva: the policy owner let it lapse -> the consenter; Jasper -> the fallback.
        assert asked["Canva"] == "ben@acme.example"
        assert asked["Jasper"] == "mops@acme.example"
        assert "Semrush" not in asked
        result = send_requests(store, config, later)
        assert result.expired == 4
        assert {r.status for r in confirm.requests(store) if r.app_name == "Semrush"} == {"expired"}


# -- answers --------------------------------------------------------------------------------
def _pending(store: Store, app: str) -> confirm.ConfirmRequest:
    return next(r for r in confirm.requests(store, "pending") if r.app_name == app)


def _answer(
    store: Store, org: OrganisationSettings, app: str, **form: str
) -> confirm.Outcome | None:
    asked = _pending(store, app)
    answer = confirm.validate_answer(confirm.FormAnswer(**form), asked, org)
    return confirm.record_answer(store, answer, NOW + timedelta(hours=2), "mops@acme.example")


def test_mine_resolves_owner_unconfirmed_on_the_next_scan(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    assert findings_of(report(config), "Jasper")["owner_unconfirmed"] == "open"
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        outcome = _answer(
            store,
            config.organisation,
            "Jasper",
            answer="mine",
            purpose="Ad copy",
            data_held="campaign drafts",
            renewal="2027-03-31",
        )
        assert outcome is not None and outcome.rerouted_to is None
        request_id = outcome.attestation.request_id
        assert confirm.record_answer(store, outcome.attestation, NOW, None) is None, "single use"
        row = next(iter(store.db.query("SELECT * FROM attestations")))
    assert row["answer"] == "mine" and row["request_id"] == request_id
    assert (row["purpose"], row["data_held"], row["renewal"]) == (
        "Ad copy",
        "campaign drafts",
        "2027-03-31",
    )
    scan(config, NOW + timedelta(days=1))
    model = report(config, NOW + timedelta(days=1))
    assert "owner_unconfirmed" not in findings_of(model, "Jasper")
    assert "Jasper: owner_unconfirmed" in model["changes"]["findings_resolved"]
    assert app_of(model, "Jasper")["confirmation"] == {
        "state": "confirmed",
        "owner": "ana@acme.example",
        "answered": "2026-11-20T08:00:00Z",
    }
    assert [c["purpose"] for c in model["confirmations"]] == ["Ad copy"]
    with _store(config) as store:
        assert "Jasper" not in {d.app_name for d in plan_requests(store, config, NOW).deliveries}
        # After the review period the owner is asked again.
        due = NOW + timedelta(days=config.policy.review_period_days + 1)
        assert "Jasper" in {d.app_name for d in plan_requests(store, config, due).deliveries}


def test_not_ours_reroutes_to_the_suggested_owner(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        outcome = _answer(
            store,
            config.organisation,
            "Jasper",
            answer="not_ours",
            suggested_owner="Eve@Acme.example",
        )
        assert outcome is not None and outcome.rerouted_to == "eve@acme.example"
        nxt = _pending(store, "Jasper")
        assert (nxt.owner, nxt.reason, nxt.last_sent) == (
            "eve@acme.example",
            "suggested by ana@acme.example",
            None,
        )
        planned = plan_requests(store, config, NOW + timedelta(hours=3))
        assert [(d.owner, d.kind) for d in planned.deliveries] == [("eve@acme.example", "rerouted")]
    model = report(config)
    assert app_of(model, "Jasper")["confirmation"]["state"] == "rerouted"
    pending = [p for p in model["pending_requests"] if p["app"] == "Jasper"]
    assert pending[0]["rerouted_from"] == "ana@acme.example"


def test_not_ours_without_suggestion_goes_to_the_fallback_then_to_it(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        outcome = _answer(store, config.organisation, "Semrush", answer="not_ours")
        assert outcome is not None and outcome.rerouted_to is None, "mops was asked already"
    model = report(config)
    assert app_of(model, "Semrush")["confirmation"]["state"] == "disowned"
    assert [(r["kind"], r["app"]) for r in model["it_requests"]] == [("find_owner", "Semrush")]


def test_stopped_and_sanction_request_become_it_requests(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        _answer(store, config.organisation, "Canva", answer="stopped", note="moved to Figma")
        _answer(
            store,
            config.organisation,
            "Jasper",
            answer="sanction_request",
            purpose="Ad copy",
            data_held="none",
        )
    scan(config, NOW + timedelta(days=1))
    model = report(config, NOW + timedelta(days=1))
    assert app_of(model, "Canva")["confirmation"]["state"] == "retire_requested"
    assert app_of(model, "Jasper")["confirmation"]["state"] == "sanction_requested"
    assert [(r["kind"], r["app"], r["requested_by"]) for r in model["it_requests"]] == [
        ("revoke", "Canva", "lead@acme.example"),
        ("sanction_review", "Jasper", "ana@acme.example"),
    ]
    # 'stopped' does not confirm an owner.
    assert findings_of(model, "Canva")["owner_unconfirmed"] == "open"
    with _store(config) as store:
        later = plan_requests(store, config, NOW + timedelta(days=4)).deliveries
        assert {(d.app_name, d.kind) for d in later} == {
            ("Mailchimp", "reminder"),
            ("Semrush", "reminder"),
        }


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"answer": "maybe"}, "Choose one of the four answers."),
        ({"answer": "mine"}, "Tell us what your team uses it for"),
        (
            {"answer": "mine", "purpose": "x", "renewal": "31/03/2027"},
            "should look like 2027-03-31",
        ),
        ({"answer": "not_ours", "suggested_owner": "bob"}, "should be an email address"),
        (
            {"answer": "not_ours", "suggested_owner": "bob@gmail.example"},
            "Suggest a colleague with an address at acme.example.",
        ),
        ({"answer": "not_ours", "suggested_owner": "ANA@acme.example"}, "Suggest someone else"),
        ({"answer": "stopped", "note": "x" * 2001}, "Keep note under 2000 characters."),
    ],
)
def test_invalid_answers_name_what_to_fix(
    tmp_path: Path, form: dict[str, str], message: str
) -> None:
    config = inventory(tmp_path)
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        with pytest.raises(confirm.AnswerError, match=re.escape(message)):
            _answer(store, config.organisation, "Jasper", **form)
        assert confirm.attestations(store) == []


def test_report_states_and_redaction(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    model = report(config)
    assert app_of(model, "GitHub")["confirmation"]["state"] == "not_applicable"
    assert app_of(model, "Buffer")["confirmation"]["state"] == "not_applicable"
    assert app_of(model, "Jasper")["confirmation"]["state"] == "unconfirmed"
    assert model["pending_requests"] == [] and model["it_requests"] == []
    with signing_key(), _store(config) as store:
        send_requests(store, config, NOW)
        store_model = report_model.build(store, config, redact_users=True, now=NOW)
    model = report(config)
    assert app_of(model, "Jasper")["confirmation"]["state"] == "requested"
    assert {p["owner"] for p in model["pending_requests"]} >= {"ana@acme.example"}
    jasper = next(p for p in model["pending_requests"] if p["app"] == "Jasper")
    assert jasper["link_expires"] == "2026-12-04T06:00:00Z" and jasper["reminders"] == 0
    redacted = [p["owner"] for p in store_model["pending_requests"]]
    assert all(o.startswith("user-") for o in redacted)


@contextmanager
def _store(config: Config) -> Iterator[Store]:
    store = Store.open(config.store_path)
    try:
        yield store
    finally:
        store.close()


def test_demo_report_shows_every_confirmation_state(tmp_path: Path) -> None:
    from scanner.app.demo import run_demo

    run_demo(tmp_path / "demo")
    model = json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))
    states = {a["confirmation"]["state"] for a in model["apps"]}
    assert states == set(confirm.STATES)
    confirmed = next(a for a in model["apps"] if a["confirmation"]["state"] == "confirmed")
    assert "owner_unconfirmed" not in {f["kind"] for f in confirmed["findings"]}
    assert {r["kind"] for r in model["it_requests"]} == {"revoke", "sanction_review", "find_owner"}
    assert model["pending_requests"]
    html = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "retire_requested" in html or "retire requested" in html.lower()
    # A second run keeps the answers and adds none.
    run_demo(tmp_path / "demo")
    again = json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))
    assert len(again["confirmations"]) == len(model["confirmations"])


def test_cli_plan_send_and_serve_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from scanner.app.cli import main

    config = inventory(tmp_path)
    path = str(config.file)
    runner = CliRunner()
    planned = runner.invoke(main, ["confirm", "plan", "--config", path])
    assert planned.exit_code == 0, planned.output
    assert "ask: lead@acme.example about Canva (owner in the sanctioned list)" in planned.output
    monkeypatch.delenv("SHADOWIT_TEST_CONFIRM_KEY", raising=False)
    sent = runner.invoke(main, ["confirm", "send", "--config", path])
    assert sent.exit_code == 2
    assert "confirm.secret_env: environment variable SHADOWIT_TEST_CONFIRM_KEY is not set" in (
        sent.output
    )
    (tmp_path / "shadowit.db").rename(tmp_path / "moved.db")
    monkeypatch.setenv("SHADOWIT_TEST_CONFIRM_KEY", KEY)
    served = runner.invoke(main, ["serve", "--config", path, "--port", "1"])
    assert served.exit_code == 2
    assert "shadowit.db: no inventory yet" in served.output
    assert not (tmp_path / "shadowit.db").exists(), "serve never creates an empty inventory"
