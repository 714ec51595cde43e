"""Words, not codes, in what the command line prints and notifications say: singular counts
are singular, and kinds and states read as words."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.app import config as configuration
from scanner.app.console import print_summary, reconciliation_line
from scanner.app.notify import NewFinding, News, Outcome, SourceProblem, compose
from scanner.store.reconciliations import Reconciliation


def test_notification_outcome_counts_are_singular_for_one() -> None:
    assert Outcome("sent", 1, 1).line() == "notifications: sent 1 new finding, 1 source problem"
    assert Outcome("sent", 2, 0).line() == "notifications: sent 2 new findings, 0 source problems"


@pytest.fixture
def config(tmp_path: Path) -> configuration.Config:
    path = tmp_path / "config.toml"
    path.write_text('[organisation]\nname = "Test Co"\n', encoding="utf-8")
    return configuration.load(path)


def test_a_notification_names_kinds_in_words_with_right_plurals(
    config: configuration.Config,
) -> None:
    news = News(
        since_scan=1,
        scan_id=3,
        findings=[
            NewFinding("x:risky_scopes", "Zephyr", "risky_scopes", "high", "Mail.Read", "opened")
        ],
        sources=[SourceProblem("okta", "failed", "token rejected", failed_scans=1, scans=2)],
        open_by_severity={"high": 1, "low": 0},
        scans=2,
    )
    message = compose(news, config, digest=True)
    assert message.title == "shadowit daily digest for Test Co: 1 new finding, 1 source problem"
    assert "- HIGH Zephyr: risky permissions: Mail.Read" in message.body
    assert "risky_scopes" not in message.body.replace("x:risky_scopes", "")
    assert "Summary of 2 scans since the last message" in message.body
    assert "(failed in 1 of 2 scans)" in message.body
    assert "Open findings now: 1 high." in message.body


def test_the_scan_summary_has_no_zero_counts_and_no_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = {
        "scan_id": 4,
        "full": False,
        "organisation": "Test Co",
        "sources": [{"source": "feed", "status": "ok", "records": 1, "warning_count": 1}],
        "apps": 1,
        "marketing_apps": 1,
        "unsanctioned": 1,
        "unsanctioned_marketing": 1,
        "open_findings": 1,
        "findings_by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 1, "info": 0},
    }
    print_summary(summary)
    out = capsys.readouterr().out
    assert "source feed: ok, 1 record, 1 warning" in out
    assert "open findings: 1 (1 low)" in out
    assert "critical 0" not in out and "1 warnings" not in out and "1 records" not in out


def test_the_reconciliation_line_says_what_changed_in_words() -> None:
    done = Reconciliation(7, "2026-12-04T10:00:00Z", opened=1, resolved=2)
    assert reconciliation_line(done) == (
        "Reconciled scan 7 with the owners' answers and the policy in force: 3 findings "
        "changed (1 opened, 2 resolved)."
    )
    assert reconciliation_line(Reconciliation(7, "2026-12-04T10:00:00Z")).endswith(
        "no finding changed."
    )
    one = reconciliation_line(Reconciliation(7, "2026-12-04T10:00:00Z", resolved=1))
    assert "1 finding changed" in one
