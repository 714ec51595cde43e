"""The demo end to end: the real connectors over HTTP against the embedded tenant, twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.demo import TENANT_DIR
from reports.json_report import validate
from scanner.app.cli import main
from scanner.core.models import FINDING_KINDS


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "apps found:" in result.output and "open findings:" in result.output
    return out


def report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_demo_writes_every_file(demo_out: Path) -> None:
    for name in (
        "report.json",
        "report.html",
        "findings.csv",
        "apps.csv",
        "inventory.xlsx",
        "shadowit.db",
    ):
        assert (demo_out / name).stat().st_size > 0, name


def test_demo_report_shows_ownership_requests(demo_out: Path) -> None:
    data = report(demo_out)
    kinds = {r["kind"] for r in data["it_requests"]}
    assert {"revoke", "find_owner"} <= kinds
    assert data["pending_requests"]
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    assert 'id="it-requests"' in html and 'id="pending-requests"' in html
    spend = html.split('id="spend-table"', 1)[1].split("</table>", 1)[0]
    assert "Semrush" in spend and "129.95 USD" in spend
    assert "renews 2027-01-05, 30 days' notice, 4788.00 USD a year" in spend
    assert "revoke access" in html
    states = {a["confirmation"]["state"] for a in data["apps"]}
    assert {"confirmed", "unconfirmed"} <= states


def test_demo_report_is_valid_and_every_source_ran(demo_out: Path) -> None:
    data = report(demo_out)
    validate(data)
    statuses = {s["source"]: s["status"] for s in data["scan"]["sources"]}
    assert statuses == {"entra": "ok", "google": "ok", "okta": "ok", "files": "ok"}


def test_demo_apps_are_resolved_across_sources(demo_out: Path) -> None:
    apps = {a["name"]: a for a in report(demo_out)["apps"]}
    assert len([a for a in apps.values() if not a["first_party"]]) >= 25
    assert set(apps["HubSpot"]["sources"]) >= {"entra", "google", "okta", "expenses"}
    assert apps["HubSpot"]["sanction_status"] == "sanctioned"
    assert apps["HubSpot"]["is_marketing"]
    assert apps["Larkspur Intranet"]["sanction_status"] == "internal"
    assert apps["Microsoft Teams"]["sanction_status"] == "first_party"
    assert apps["Canva Pro Free Download"]["lookalike_of"] == "Canva"
    assert apps["ContentBoost Analytics"]["is_marketing"]
    assert "Marketing" in apps["ContentBoost Analytics"]["marketing_reason"]
    assert apps["Buffer"]["sanction_status"] == "banned"
    dept = {d["department"] for d in apps["HubSpot"]["departments"]}
    assert {"Marketing", "Sales"} <= dept


def test_demo_shows_every_finding_kind(demo_out: Path) -> None:
    findings = report(demo_out)["findings"]
    kinds = {f["kind"] for f in findings if f["status"] != "resolved"}
    assert kinds == set(FINDING_KINDS)
    by = {(f["app"], f["kind"]) for f in findings}
    assert ("HubSpot", "over_scoped") in by
    assert ("Mailchimp", "stale_sanction") in by
    assert ("Canva Pro Free Download", "lookalike") in by
    assert ("Buffer", "banned") in by
    assert ("ContentBoost Analytics", "admin_consent") in by
    assert ("Typeform", "dormant") in by
    assert ("Hootsuite", "new_app") in by
    assert ("Q4 Bonus Statement", "consent_phishing") in by
    assert ("Apollo.io", "leaver_access") in by
    assert ("Apollo.io", "orphaned_app") in by
    assert ("Grammarly", "no_sso") in by
    assert ("Semrush", "unused_spend") in by
    assert ("Sprout Social", "renewal_due") in by
    assert ("Hootsuite", "has_alternative") in by
    assert ("Later", "overlap") in by
    # The company's own development app has a localhost reply URL and stays quiet.
    assert not [k for app, k in by if app == "Larkspur Dev Portal"]
    assert all(f["reasons"] for f in findings)
    assert not any(app.startswith("Microsoft") for app, _ in by)


def tenant_file(provider: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((TENANT_DIR / provider / f"{name}.json").read_text())
    return items


def test_demo_has_an_okta_app_deleted_after_its_sso_sign_ins(demo_out: Path) -> None:
    apps = {a["name"]: a for a in report(demo_out)["apps"]}
    listed = {a["id"] for a in tenant_file("okta", "apps")}
    sso_only = [a for a in apps.values() if a["access"] == "sso_only"]
    assert sso_only, "no app is seen only in sign-in logs"
    asana = apps["Asana"]
    assert asana["access"] == "sso_only"
    assert asana["sources"] == ["okta"]
    assert asana["evidence"] == {"okta": {"sso": 4}}
    assert asana["users"] == 4
    # Its SSO events name an app the Okta apps listing no longer has.
    assert not set(asana["client_ids"]) & listed


def test_demo_has_a_google_saml_app_seen_only_in_the_saml_log(demo_out: Path) -> None:
    miro = {a["name"]: a for a in report(demo_out)["apps"]}["Miro"]
    assert miro["sources"] == ["google"]
    assert miro["evidence"]["google"]["saml"] == 3
    assert "grant" not in miro["evidence"]["google"]
    assert "listing" not in miro["evidence"]["google"], (
        "an app made from the SAML log is no listing"
    )
    assert miro["access"] == "sso_only"
    assert miro["users"] == 3


def test_demo_user_with_only_failed_sign_ins_is_counted_apart(demo_out: Path) -> None:
    signins = tenant_file("graph", "signIns")
    ok = {(s["appId"], s["userPrincipalName"]) for s in signins if s["status"]["errorCode"] == 0}
    failed = [s for s in signins if s["status"]["errorCode"] != 0]
    only_failed = {(s["appId"], s["userPrincipalName"]) for s in failed} - ok
    assert only_failed, "the demo has no user whose only sign-ins failed"
    apps = report(demo_out)["apps"]
    for app_id, user in only_failed:
        app = next(a for a in apps if app_id in a["client_ids"])
        attempts = sum(1 for s in failed if s["appId"] == app_id)
        assert app["failed_sign_ins"] == attempts > 0, app["name"]
        assert user not in app["user_list"], app["name"]
        assert app["users"] == len(app["user_list"])


def test_demo_has_an_app_only_mail_read_admin_consent(demo_out: Path) -> None:
    data = report(demo_out)
    apps = {a["name"]: a for a in data["apps"]}
    app_only = {
        name
        for name, a in apps.items()
        if a["scopes"] and all(s["consent"] == ["application"] for s in a["scopes"])
    }
    assert "InboxPulse" in app_only
    mail = next(s for s in apps["InboxPulse"]["scopes"] if s["scope"] == "Mail.Read")
    assert mail["kind"] == "application"
    assert "every mailbox" in mail["meaning"]
    finding = next(
        f for f in data["findings"] if f["app"] == "InboxPulse" and f["kind"] == "admin_consent"
    )
    assert finding["status"] == "open"
    assert any(
        "application permission Mail.Read" in r and "granted by an admin" in r
        for r in finding["reasons"]
    ), finding["reasons"]


def test_demo_raw_apps_keep_their_canonical_keys(demo_out: Path) -> None:
    # tests/data/demo_app_keys.csv: every raw app of the demo and its key with the 504-entry
    # catalog; the larger catalog must resolve each one to the same app.
    import csv
    import sqlite3

    pinned = Path(__file__).parent / "data" / "demo_app_keys.csv"
    with pinned.open(encoding="utf-8", newline="") as handle:
        expected = sorted((r["source"], r["name"], r["app_key"]) for r in csv.DictReader(handle))
    with sqlite3.connect(demo_out / "shadowit.db") as db:
        found = sorted(db.execute("SELECT source, name, app_key FROM raw_apps"))
    assert found == expected


def test_demo_report_shows_vendor_facts_and_ai_tools(demo_out: Path) -> None:
    apps = {a["name"]: a for a in report(demo_out)["apps"]}
    hubspot = {f["fact"]: f for f in apps["HubSpot"]["vendor_facts"]}
    assert "authenticator app (TOTP)" in hubspot["mfa"]["what"]
    assert hubspot["mfa"]["source"].startswith("2factorauth/twofactorauth@")
    assert hubspot["sso_paid"]["source"].startswith("robchahin/sso-wall-of-shame@")
    assert any(r.startswith("SSO tax: ") for r in apps["HubSpot"]["risk_reasons"])
    jasper = apps["Jasper"]
    assert jasper["ai_tool"] and jasper["category"] == "ai_writing"
    assert any(
        r.startswith("AI tool holding mail or file scopes: Files.Read.All")
        for r in jasper["risk_reasons"]
    ), jasper["risk_reasons"]
    assert not apps["HubSpot"]["ai_tool"]
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    assert "Vendor security" in html and "tag-ai" in html


def test_second_demo_run_adds_a_scan_and_reports_no_changes(demo_out: Path) -> None:
    before = report(demo_out)
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--out", str(demo_out)])
    assert result.exit_code == 0, result.output
    after = report(demo_out)
    assert after["scan"]["id"] == before["scan"]["id"] + 1
    assert len(after["apps"]) == len(before["apps"])
    config = str(demo_out / "config.toml")
    diff = runner.invoke(main, ["diff", "--config", config])
    assert diff.output.strip().startswith("No changes between scan"), diff.output
    scans = runner.invoke(main, ["scans", "--config", config])
    assert scans.exit_code == 0
    import sqlite3

    db = sqlite3.connect(demo_out / "shadowit.db")
    assert db.execute("SELECT count(*) FROM scan_runs WHERE status='finished'").fetchone()[0] == 3
    dupes = db.execute(
        "SELECT count(*) FROM (SELECT source, event_id FROM signins "
        "GROUP BY 1, 2 HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dupes == 0
