"""The completeness ledger: a stream a source could not read never reads as zero.

Scans the documented Entra payloads (tests/payloads/entra) through FakeGraph on 127.0.0.1
twice: first with sign-ins readable (HubSpot's last sign-in is 2026-02-25, so with
``dormant_days = 3`` it is dormant), then with sign-ins refused, as Graph refuses them in a
tenant without Microsoft Entra ID P1/P2 (403
``Authentication_RequestFromNonPremiumTenantOrB2CTenant``, see connectors/entra/collect.py) or
when the app lacks ``AuditLog.Read.All`` (403 ``Authorization_RequestDenied``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.testing.graph import FakeGraph
from connectors.testing.server import LoopbackServer
from reports import model as report_model
from reports.html import HtmlReport
from scanner.analysis.completeness import Ledger
from scanner.app import config as configuration
from scanner.app.doctor import diagnose, ready
from scanner.app.pipeline import ScanResult, run_scan
from scanner.core.models import SourceStatus
from scanner.store.database import Store
from tests.test_entra import (  # noqa: F401  (fixtures: one TLS FakeGraph per test)
    NOW,
    SECRET,
    entra_config_text,
    fake,
    server,
    session,
    tls_server,
)

DORMANT = "cat:hubspot:dormant"
NOT_RECHECKED = "not re-checked: sign-ins not collected"


def _no_licence(graph: FakeGraph) -> None:
    graph.premium = False


def _no_audit_permission(graph: FakeGraph) -> None:
    graph.denied = {"AuditLog.Read.All"}


CASES = {"no_licence": _no_licence, "no_auditlog_read_all": _no_audit_permission}


@pytest.fixture
def config(
    tmp_path: Path,
    server: LoopbackServer,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> configuration.Config:
    monkeypatch.setenv("ENTRA_TEST_SECRET", SECRET)
    path = tmp_path / "config.toml"
    path.write_text(entra_config_text(server, fake, policy="dormant_days = 3"), encoding="utf-8")
    return configuration.load(path)


def _scan(
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    hours: int,
) -> ScanResult:
    when = NOW + timedelta(hours=hours)
    return run_scan(config, now=when, session=session, sleep=lambda _s: None)


def _report(config: configuration.Config) -> dict[str, Any]:
    store = Store.open(config.store_path)
    try:
        return report_model.build(store, config, now=NOW + timedelta(hours=2))
    finally:
        store.close()


def _scan_twice(
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
    refuse: Callable[[FakeGraph], None],
) -> tuple[ScanResult, ScanResult]:
    first = _scan(config, session, 0)
    assert first.exit_code == 0, first.sources
    assert DORMANT in {f.id for f in first.findings}
    refuse(fake)
    return first, _scan(config, session, 1)


@pytest.mark.parametrize("case", sorted(CASES))
def test_signins_not_collected_make_the_source_partial_exit_3(
    case: str,
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
) -> None:
    _first, second = _scan_twice(config, session, fake, CASES[case])
    (entra,) = second.sources
    assert entra.status == "partial"
    assert second.exit_code == 3
    assert any(s.startswith("signins: ") for s in entra.skipped)


@pytest.mark.parametrize("case", sorted(CASES))
def test_signins_not_collected_keep_the_dormant_finding_not_rechecked(
    case: str,
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
) -> None:
    _first, second = _scan_twice(config, session, fake, CASES[case])
    assert DORMANT not in {c.finding_id for c in second.changes}  # neither resolved nor touched
    model = _report(config)
    (dormant,) = [f for f in model["findings"] if f["id"] == DORMANT]
    assert dormant["status"] == "open"
    assert dormant["not_rechecked"] == NOT_RECHECKED
    hubspot = next(a for a in model["apps"] if a["key"] == "cat:hubspot")
    assert {"kind": "dormant", "not_rechecked": NOT_RECHECKED}.items() <= next(
        f for f in hubspot["findings"] if f["kind"] == "dormant"
    ).items()
    # Findings the scan could evaluate (grants were read) are not marked.
    assert all(f["not_rechecked"] is None for f in model["findings"] if f["kind"] != "dormant")


@pytest.mark.parametrize("case", sorted(CASES))
def test_signins_not_collected_show_users_unknown_not_zero(
    case: str,
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
) -> None:
    _scan_twice(config, session, fake, CASES[case])
    model = _report(config)
    (entra,) = model["scan"]["sources"]
    assert entra["status"] == "partial" and "signins" in entra["not_collected"]
    entra_apps = [a for a in model["apps"] if "entra" in a["sources"]]
    assert entra_apps and all(a["users_unknown"] and a["sign_ins_unknown"] for a in entra_apps)
    html = HtmlReport().html(model)
    assert "not collected: signins: " in html
    assert "read &ldquo;unknown&rdquo;, never 0" in html
    assert f"hubspot unused for a long time: {NOT_RECHECKED}".casefold() in html.casefold()


def test_no_licence_is_recorded_as_signins_not_available(
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
) -> None:
    _no_licence(fake)
    result = _scan(config, session, 0)
    (entra,) = result.sources
    signins = next(s for s in entra.skipped if s.startswith("signins: "))
    assert "no Microsoft Entra ID P1 or P2 licence: sign-ins not available" in signins
    # Never judged dormant on no data: no dormant finding is opened without sign-ins.
    assert not [f for f in result.findings if f.kind == "dormant"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_doctor_agrees_with_scan(
    case: str,
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
) -> None:
    probes = list(diagnose(config, session=session, sleep=lambda _s: None, now=NOW))
    scan = _scan(config, session, 0)
    assert ready(probes) and scan.exit_code == 0
    CASES[case](fake)
    probes = list(diagnose(config, session=session, sleep=lambda _s: None, now=NOW))
    scan = _scan(config, session, 1)
    failing = [p for p in probes if not p.ok]
    assert not ready(probes) and scan.exit_code == 3
    assert failing and all(p.source == "entra" for p in failing)
    assert any("AuditLog.Read.All" in p.check for p in failing)
    if case == "no_licence":
        (probe,) = failing
        assert "sign-ins not available" in probe.detail and "partial (exit 3)" in probe.detail


def test_ledger_per_stream() -> None:
    ledger = Ledger.of(
        [
            SourceStatus("entra", "partial", skipped=("signins: no licence",)),
            SourceStatus("okta", "failed", error="HTTP 503"),
            SourceStatus("google", "ok"),
        ]
    )
    assert ledger.not_rechecked("dormant", ["entra"]) == NOT_RECHECKED
    assert ledger.not_rechecked("risky_scopes", ["entra"]) is None
    assert ledger.not_rechecked("unsanctioned", ["entra", "google"]) is None
    assert (
        ledger.not_rechecked("unsanctioned", ["okta"]) == "not re-checked: okta failed in this scan"
    )
    assert ledger.not_rechecked("dormant", ["google"]) is None
    assert ledger.sign_in_gaps() == {"entra", "okta"}
    assert ledger.users_missing(["entra"]) and not ledger.users_missing(["google"])
