"""App-only (application) permissions are tenant-wide consent.

An Entra app-role assignment to Microsoft Graph (``GET /servicePrincipals/{id}/appRoleAssignments``,
https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list-approleassignments) is an
application permission: only an administrator can grant it, and it acts on every user's data
with nobody signed in. These tests scan the documented payloads in tests/payloads/entra through
FakeGraph (HTTPS on 127.0.0.1), where "Acme Lead Scraper" holds application Mail.Read (role
810c84a8-..., resolved by Graph's appRoles) and Sites.Read.All besides a delegated
Mail.ReadWrite grant, and check the finding, its reasons, the score and the report.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.testing.graph import FakeGraph
from connectors.testing.server import LoopbackServer
from reports import model as report_model
from reports.html import page_data
from scanner.analysis.risk import SCOPES_FILE, WEIGHTS, RiskInput, ScopeTable, assess
from scanner.app import config as configuration
from scanner.app.pipeline import ScanResult, run_scan
from scanner.core.models import Checkpoint, Finding, Grant, InventoryApp, RawApp, User
from scanner.store.database import Store
from tests import memory_source
from tests.memory_source import FEED
from tests.test_entra import (  # noqa: F401  (fixtures: one TLS FakeGraph per test)
    NOW,
    SECRET,
    entra_config_text,
    fake,
    server,
    session,
    tls_server,
)

SCRAPER = "Acme Lead Scraper"
APP_MAIL_READ = "read mail in every mailbox of the organisation"
"""The application meaning of Mail.Read in the shipped table (scanner/data/scopes.csv)."""
DELEGATED_MAIL_READ = "read all of the user's mail"


@pytest.fixture
def scanned(
    tmp_path: Path,
    server: LoopbackServer,  # noqa: F811
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[configuration.Config, ScanResult]:
    """One scan of the documented Entra payloads through the pipeline, with no sanctioned list."""
    monkeypatch.setenv("ENTRA_TEST_SECRET", SECRET)
    path = tmp_path / "config.toml"
    path.write_text(entra_config_text(server, fake), encoding="utf-8")
    config = configuration.load(path)
    return config, run_scan(config, now=NOW, session=session, sleep=lambda _s: None)


def _app(result: ScanResult, name: str) -> InventoryApp:
    return next(a for a in result.apps if a.name == name)


def _finding(result: ScanResult, name: str, kind: str) -> Finding:
    return next(f for f in result.findings if f.app_name == name and f.kind == kind)


def test_app_only_mail_read_raises_admin_consent_on_every_mailbox(
    scanned: tuple[configuration.Config, ScanResult],
) -> None:
    _config, result = scanned
    scraper = _app(result, SCRAPER)
    assert scraper.app_only and not scraper.admin_consent  # no AllPrincipals grant, only roles
    consent = _finding(result, SCRAPER, "admin_consent")
    assert consent.severity == "high"
    assert consent.reasons == (
        "application permission Mail.Read on every mailbox, granted by an admin",
        "application permission Sites.Read.All on every SharePoint site, granted by an admin",
        "the app is not sanctioned",
    )
    assert consent.evidence["application_permissions"] == ["Mail.Read", "Sites.Read.All"]
    assert "application permissions" in consent.remediation


def test_app_only_mail_read_is_explained_with_its_application_meaning(
    scanned: tuple[configuration.Config, ScanResult],
) -> None:
    _config, result = scanned
    risky = _finding(result, SCRAPER, "risky_scopes")
    assert f"Mail.Read (application permission): {APP_MAIL_READ} (high)" in risky.reasons
    # Its delegated grant keeps the delegated meaning: the same app holds both kinds.
    assert "Mail.ReadWrite: read, change and delete all of the user's mail (critical)" in (
        risky.reasons
    )
    assert not any(DELEGATED_MAIL_READ in r for r in risky.reasons)
    scraper = _app(result, SCRAPER)
    assert "admin consent: application permissions granted by an administrator" in (
        scraper.risk_reasons
    )
    # HubSpot's Mail.Read is delegated (an AllPrincipals grant): the user's mail.
    hubspot = _finding(result, "HubSpot", "risky_scopes")
    assert f"Mail.Read: {DELEGATED_MAIL_READ} (high)" in hubspot.reasons


def test_app_only_mail_read_shows_its_application_meaning_in_the_report(
    scanned: tuple[configuration.Config, ScanResult],
) -> None:
    config, _result = scanned
    store = Store.open(config.store_path)
    try:
        built = report_model.build(store, config, now=NOW)
    finally:
        store.close()
    apps = {a["name"]: a for a in built["apps"]}
    scopes = {(s["scope"], s["kind"]): s for s in apps[SCRAPER]["scopes"]}
    mail = scopes[("Mail.Read", "application")]
    assert mail["meaning"] == APP_MAIL_READ
    assert mail["consent"] == ["application"] and mail["grants"] == 1
    assert scopes[("Mail.ReadWrite", "delegated")]["consent"] == ["user"]
    hubspot = {(s["scope"], s["kind"]): s for s in apps["HubSpot"]["scopes"]}
    assert hubspot[("Mail.Read", "delegated")]["meaning"] == DELEGATED_MAIL_READ
    assert ("Mail.Read", "application") not in hubspot
    kinds = {f["kind"] for f in apps[SCRAPER]["findings"]}
    assert "admin_consent" in kinds
    # The HTML page keeps one meaning per permission and kind, so neither hides the other.
    page = page_data(built)
    assert page["meanings"]["application:Mail.Read"] == APP_MAIL_READ
    assert page["meanings"]["Mail.Read"] == DELEGATED_MAIL_READ
    row = next(s for s in _page_app(page, SCRAPER)["scopes"] if s[0] == "Mail.Read")
    assert row[4] == "application"


def _page_app(page: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in page["apps"] if a["name"] == name)


# -- the score: never below the delegated form ------------------------------------------------


@pytest.fixture
def feed_config(tmp_path: Path) -> Iterator[configuration.Config]:
    assert memory_source.FEED is FEED
    FEED.clear()
    path = tmp_path / "config.toml"
    path.write_text('[organisation]\nname = "Test"\n[sources.feed]\n', encoding="utf-8")
    yield configuration.load(path)
    FEED.clear()


def test_app_only_mail_read_scores_at_least_the_delegated_mail_read_app(
    feed_config: configuration.Config,
) -> None:
    """Two apps alike but for how they hold Mail.Read: as the Entra connector records an
    app-role assignment (consent ``application``, no user), or delegated by an admin for all
    users (``AllPrincipals``) and by 60 users one by one."""
    users = [User("feed", f"u{i}", f"user{i}@example.com", f"User {i}") for i in range(60)]
    FEED[:] = [
        *users,
        Checkpoint("feed", "users", complete=True),
        RawApp("feed", "app", "Inbox Indexer", publisher="Indexer Ltd", publisher_verified=True),
        RawApp("feed", "del", "Inbox Helper", publisher="Helper Ltd", publisher_verified=True),
        Checkpoint("feed", "apps", complete=True),
        Grant("feed", "app", None, ("Mail.Read",), "application", "Microsoft Graph"),
        Grant("feed", "del", None, ("Mail.Read",), "admin", "Microsoft Graph"),
        *[Grant("feed", "del", u.id, ("Mail.Read",), "user", "Microsoft Graph") for u in users],
        Checkpoint("feed", "grants", complete=True),
    ]
    result = run_scan(feed_config, now=NOW)
    app_only = _app(result, "Inbox Indexer")
    delegated = _app(result, "Inbox Helper")
    assert app_only.risk_score >= delegated.risk_score, (app_only.risk_reasons, delegated)
    assert app_only.risk_reasons[0] == f"high application permission Mail.Read: {APP_MAIL_READ}"
    assert delegated.risk_reasons[0] == f"high scope Mail.Read: {DELEGATED_MAIL_READ}"
    reasons = _finding(result, "Inbox Indexer", "admin_consent").reasons
    assert reasons[0] == "application permission Mail.Read on every mailbox, granted by an admin"


def _permissions_of_both_kinds() -> list[str]:
    with SCOPES_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    delegated = {r["scope"] for r in rows if r["kind"] == "delegated"}
    return sorted(
        r["scope"] for r in rows if r["kind"] == "application" and r["scope"] in delegated
    )


def test_every_application_permission_scores_at_least_its_delegated_form() -> None:
    """Across the shipped table: app-only (no users) against delegated with admin consent and
    the largest user count, every other fact alike."""
    table = ScopeTable.load()
    both = _permissions_of_both_kinds()
    assert "Mail.Read" in both and len(both) > 100

    def score(scope: str, **kind: Any) -> int:
        inp = RiskInput(
            scopes=(scope,),
            users=0,
            publisher_verified=True,
            first_party=False,
            internal=False,
            first_seen=None,
            last_sign_in=None,
            now=NOW,
            **kind,
        )
        return assess(inp, table).score

    lower = [
        scope
        for scope in both
        if score(scope, admin_consent=False, app_only=True)
        < score(scope, admin_consent=True, app_only=False) + WEIGHTS["users_200"]
    ]
    assert lower == []


def test_application_permission_never_ranks_below_its_delegated_row(tmp_path: Path) -> None:
    """A company override that rates the application row lower still scores it as delegated."""
    overrides = tmp_path / "scopes.csv"
    overrides.write_text(
        "scope,kind,level,meaning\nMail.Read,application,low,mail of every mailbox\n",
        encoding="utf-8",
    )
    table = ScopeTable.load(overrides)
    held = table.held("Mail.Read", app_only=True)
    assert held.level == "high" and held.meaning == "mail of every mailbox"
    assert table.held("Mail.Read", app_only=False).meaning == DELEGATED_MAIL_READ


def test_sanctioned_app_only_app_raises_no_admin_consent(
    tmp_path: Path, feed_config: configuration.Config
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[organisation]\nname = "Test"\n[sources.feed]\n'
        '[[sanctioned.apps]]\napp = "Quillfeather Archive"\nstatus = "sanctioned"\n'
        'approved_scopes = ["Mail.Read"]\n',
        encoding="utf-8",
    )
    FEED[:] = [
        RawApp(
            "feed", "app", "Quillfeather Archive", publisher="Indexer Ltd", publisher_verified=True
        ),
        Checkpoint("feed", "apps", complete=True),
        Grant("feed", "app", None, ("Mail.Read",), "application", "Microsoft Graph"),
        Checkpoint("feed", "grants", complete=True),
    ]
    result = run_scan(configuration.load(path), now=NOW)
    kinds = {f.kind for f in result.findings if f.app_name == "Quillfeather Archive"}
    assert "admin_consent" not in kinds and "risky_scopes" not in kinds
