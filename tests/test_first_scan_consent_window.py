"""Entra's first scan reads the 'Consent to application' directory audits of the look-back
window; later scans read from the consent watermark."""

from __future__ import annotations

import datetime as dt

from connectors.testing.graph import FakeGraph
from scanner.core.models import RawApp
from tests import test_entra as base
from tests.test_entra import NOW, Harness, cursors, of

# The HTTPS fixtures of the end-to-end suite: a FakeGraph per test behind one TLS server.
tls_server = base.tls_server
fake = base.fake
server = base.server
session = base.session
harness = base.harness

AUDITS = "/v1.0/auditLogs/directoryAudits"
CANVA_APP = "c0c0a000-1111-4222-8333-444455556666"
CONSENT_FILTER = "activityDisplayName eq 'Consent to application' and activityDateTime ge "


def consent_filters(fake: FakeGraph) -> set[str]:
    """The consent audit filters asked for (every page of one listing asks the same)."""
    return {
        r.args["$filter"]
        for r in fake.requests_to(AUDITS)
        if r.args["$filter"].startswith(CONSENT_FILTER)
    }


def test_entra_first_scan_reads_the_consent_audit_of_the_lookback_window(
    harness: Harness,
) -> None:
    records = harness.collect()
    # signin_lookback_days (30) before the scan's clock, 2026-03-01T12:00:00Z.
    assert consent_filters(harness.fake) == {CONSENT_FILTER + "2026-01-30T12:00:00Z"}
    # A consent inside the window dates its app (Alice consented to Canva first).
    canva = next(a for a in of(records, RawApp) if a.client_id == CANVA_APP)
    assert canva.created == dt.datetime(2026, 2, 10, 8, 59, tzinfo=dt.UTC)


def test_entra_second_scan_reads_consents_from_the_watermark(harness: Harness) -> None:
    first = harness.collect()
    harness.fake.log.clear()
    second = list(harness.connector(now=NOW + dt.timedelta(days=1)).collect(cursors(first)))
    assert consent_filters(harness.fake) == {CONSENT_FILTER + cursors(first)["consents"]}
    assert cursors(second)["consents"] == cursors(first)["consents"]
