"""A tenant where people leave: their leftover grants, an app left without users, and the
pending confirmation request that goes to the fallback owner instead of a leaver."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import openpyxl

from reports.render import render
from scanner.analysis import confirm
from scanner.app.config import Config
from scanner.core.models import RawApp, SignIn, Spend, User
from scanner.store.database import Store
from tests.test_confirm_support import NOW, app_of, findings_of, inventory, report, scan

LATER = NOW + timedelta(days=1)


def _plan_and_open(config: Config, now: datetime) -> confirm.Plan:
    store = Store.open(config.store_path)
    try:
        planned = confirm.plan(store, config, config.confirm, now)
        confirm.apply_plan(store, planned, now)
        return planned
    finally:
        store.close()


def _pending(config: Config) -> dict[str, confirm.ConfirmRequest]:
    store = Store.open(config.store_path)
    try:
        return {r.app_name: r for r in confirm.requests(store, "pending")}
    finally:
        store.close()


def test_leaver_grant_orphaned_app_and_the_request_rerouted(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    _plan_and_open(config, NOW)
    before = _pending(config)
    assert before["Mailchimp"].owner == "eve@acme.example"  # Eve alone uses Mailchimp

    # Eve leaves: her Google account is suspended, her grants to Mailchimp and Jasper stay.
    scan(
        config, LATER, [User("google", "u5", "eve@acme.example", "eve", "Marketing", enabled=False)]
    )
    model = report(config, LATER)
    assert findings_of(model, "Mailchimp")["leaver_access"] == "open"
    assert findings_of(model, "Mailchimp")["orphaned_app"] == "open"
    assert findings_of(model, "Jasper")["leaver_access"] == "open"
    assert "orphaned_app" not in findings_of(model, "Jasper")  # Ana and Ben are still there
    orphan = next(
        f for f in model["findings"] if f["app"] == "Mailchimp" and f["kind"] == "orphaned_app"
    )
    assert orphan["reasons"][0] == "its only user, eve@acme.example, has left"

    planned = _plan_and_open(config, LATER)
    rerouted = {d.app_name: d for d in planned.deliveries if d.kind == "rerouted"}
    assert set(rerouted) == {"Mailchimp"}
    assert rerouted["Mailchimp"].owner == "mops@acme.example"
    assert rerouted["Mailchimp"].reason.startswith("eve@acme.example has left; fallback owner")
    assert [r.id for r in planned.closing] == [before["Mailchimp"].id]
    after = _pending(config)
    assert after["Mailchimp"].owner == "mops@acme.example"
    assert after["Mailchimp"].routed_from == before["Mailchimp"].id
    assert after["Jasper"].id == before["Jasper"].id  # Ana did not leave: unchanged


def test_no_leaver_no_leaver_findings_and_nothing_rerouted(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    _plan_and_open(config, NOW)
    model = report(config)
    assert not any(f["kind"] in ("leaver_access", "orphaned_app") for f in model["findings"])
    planned = _plan_and_open(config, LATER)
    assert not [d for d in planned.deliveries if d.kind == "rerouted"]


def test_sso_spend_and_no_sso_from_records(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    # Canva (tolerated) gains a SAML app in the IdP and SAML sign-ins; Mailchimp is paid for.
    scan(
        config,
        LATER,
        [
            RawApp("google", "canva-saml", "Canva", kind="saml"),
            SignIn("google", "e1", "canva-saml", LATER, user_id="u2", kind="saml"),
            Spend("google", "l1", "mailchimp-id", 100.0, "EUR", LATER.date()),
            Spend("google", "l2", "mailchimp-id", 40.0, "USD", LATER.date()),
        ],
    )
    model = report(config, LATER)
    canva = app_of(model, "Canva")
    assert canva["sso"] == ["google:saml"]
    assert "no_sso" not in findings_of(model, "Canva")
    assert app_of(model, "Mailchimp")["spend_by_currency"] == [
        {"currency": "EUR", "total": 100.0},
        {"currency": "USD", "total": 40.0},
    ]
    # The workbook's spend sheet: one row per currency, never converted, marketing first.
    render(model, tmp_path / "out", ["xlsx"])
    sheet = openpyxl.load_workbook(tmp_path / "out" / "inventory.xlsx")["spend"]
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
    paid = [dict(zip(header, r, strict=True)) for r in rows]
    assert [(r["app"], r["currency"], r["paid_in_period"], r["marketing"]) for r in paid] == [
        ("Mailchimp", "EUR", 100, True),
        ("Mailchimp", "USD", 40, True),
    ]


def test_tolerated_app_reached_only_by_oauth_is_no_sso(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    model = report(config)
    assert findings_of(model, "Canva")["no_sso"] == "open"
    assert app_of(model, "Canva")["sso"] == []
