"""Notifications through apprise to a local webhook: only what is new, plain and safe text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from scanner.app import config as configuration
from scanner.app import notify
from scanner.app.operations import scan_and_report
from scanner.core.errors import ConfigError, RetryableError
from scanner.store.database import Store
from tests.test_operations_env import feed_config, feed_of

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
URLS_ENV = "SHADOWIT_TEST_NOTIFY_URLS"
HOOK = "/services/T000/B000/hook"


@pytest.fixture()
def webhook(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    """A Slack-style incoming webhook on 127.0.0.1, reached through apprise's json:// URL."""
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    monkeypatch.setenv(URLS_ENV, f"json://127.0.0.1:{httpserver.port}{HOOK}")
    return httpserver


def make_config(tmp_path: Path, **notify_settings: Any) -> configuration.Config:
    settings = {"urls_env": URLS_ENV, "min_severity": "medium", **notify_settings}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return configuration.load(feed_config(tmp_path, f"[notify]\n{lines}"))


def scan(cfg: configuration.Config, when: datetime = NOW) -> dict[str, Any]:
    return scan_and_report(cfg, now=when, with_report=False)


def messages(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def test_first_scan_sends_new_findings_then_nothing_when_nothing_is_new(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    cfg = make_config(tmp_path)
    feed_of("Zephyr Notes", "Canva")
    summary = scan(cfg)
    assert summary["notification"] == "notifications: sent 4 new findings, 0 source problems"
    [sent] = messages(webhook)
    assert sent["title"] == "shadowit scan for Test Co: 4 new findings"
    body = sent["message"]
    assert "- HIGH Canva: unsanctioned: Canva is not on the sanctioned list" in body
    assert "- HIGH Zephyr Notes: risky permissions: Mail.ReadWrite" in body
    assert "owner unconfirmed" not in body, "low is below min_severity = medium"
    assert sent["type"] == "warning"

    summary = scan(cfg, NOW + timedelta(days=1))
    assert summary["notification"] == "notifications: nothing new to send"
    assert len(webhook.log) == 1, "a scan with nothing new sends nothing"


def test_only_findings_new_since_the_last_notified_scan(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    cfg = make_config(tmp_path)
    feed_of("Zephyr Notes")
    scan(cfg)
    feed_of("Zephyr Notes", "Buzzword Mailer")
    scan(cfg, NOW + timedelta(days=1))
    second = messages(webhook)[1]["message"]
    assert "Buzzword Mailer" in second
    assert "Zephyr Notes" not in second
    store = Store.open(cfg.store_path)
    rows = list(store.db.query("SELECT scan_id, status, findings FROM notifications ORDER BY id"))
    store.close()
    assert [(r["scan_id"], r["status"]) for r in rows] == [(1, "sent"), (2, "sent")]
    assert all("buzzword" in f for f in json.loads(rows[1]["findings"]))


def test_source_failure_is_sent_and_a_recovery_once(tmp_path: Path, webhook: HTTPServer) -> None:
    cfg = make_config(tmp_path)
    feed_of("Zephyr Notes")
    scan(cfg)
    feed_of("Zephyr Notes", error=RetryableError("feed", "gave up after 6 attempts: HTTP 503"))
    summary = scan(cfg, NOW + timedelta(days=1))
    assert summary["exit_code"] == 3
    failed = messages(webhook)[1]
    assert failed["type"] == "failure"
    assert "1 source problem" in failed["title"]
    assert "- feed failed: feed: gave up after 6 attempts: HTTP 503" in failed["message"]
    feed_of("Zephyr Notes")
    scan(cfg, NOW + timedelta(days=2))
    recovered = messages(webhook)[2]["message"]
    assert "- feed recovered: works again" in recovered
    scan(cfg, NOW + timedelta(days=3))
    assert len(webhook.log) == 3


def test_partial_source_is_sent_only_when_its_reason_is_new(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    cfg = make_config(tmp_path)
    feed_of("Zephyr Notes", skipped="AuditLog.Read.All is missing")
    scan(cfg)
    assert (
        "- feed partial: signins: AuditLog.Read.All is missing" in messages(webhook)[0]["message"]
    )
    scan(cfg, NOW + timedelta(days=1))
    assert len(webhook.log) == 1, "the same partial reason is not news"


def test_failed_delivery_is_retried_with_the_next_scan(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URLS_ENV, f"json://127.0.0.1:{httpserver.port}{HOOK}")
    httpserver.expect_oneshot_request(HOOK).respond_with_data("down", status=503)
    cfg = make_config(tmp_path)
    feed_of("Zephyr Notes")
    summary = scan(cfg)
    assert summary["notification"].startswith("notifications: not delivered (2 new findings")
    assert "target 1 (JSON): delivery failed" in summary["notification"]
    httpserver.expect_request(HOOK).respond_with_data("ok")
    scan(cfg, NOW + timedelta(days=1))
    retried = json.loads(httpserver.log[-1][0].get_data())
    assert "Zephyr Notes: unsanctioned" in retried["message"]


def test_daily_digest_sends_at_most_one_message_a_day(tmp_path: Path, webhook: HTTPServer) -> None:
    cfg = make_config(tmp_path, digest=True)
    feed_of("Zephyr Notes")
    scan(cfg)
    feed_of("Zephyr Notes", "Buzzword Mailer")
    summary = scan(cfg, NOW + timedelta(hours=6))
    assert summary["notification"] == "notifications: today's digest (2026-11-20) was already sent"
    feed_of("Zephyr Notes", "Buzzword Mailer", "Quill Forms")
    scan(cfg, NOW + timedelta(hours=12))
    assert len(webhook.log) == 1
    scan(cfg, NOW + timedelta(days=1))
    first, second = messages(webhook)
    assert first["title"].startswith("shadowit daily digest for Test Co: 2 new findings")
    assert "Summary of 3 scans since the last message (up to scan 4)" in second["message"]
    assert "Buzzword Mailer" in second["message"] and "Quill Forms" in second["message"]
    assert "Zephyr Notes" not in second["message"]
    assert "Open findings now: 6 high, 5 low." in second["message"]


def test_app_names_cannot_inject_markup_or_mentions(tmp_path: Path, webhook: HTTPServer) -> None:
    cfg = make_config(tmp_path)
    evil = "Evil <!channel> *Bold* [click](https://evil.example/x) @here\n- CRITICAL forged\u202e"
    feed_of(evil)
    scan(cfg)
    body = messages(webhook)[0]["message"]
    for fragment in ("<!channel>", "<", ">", "*Bold*", "[click]", "https://", "@here", "\u202e"):
        assert fragment not in body, fragment
    assert "\n- CRITICAL forged" not in body, "a name cannot start a line of its own"
    assert "Evil \u2039\u01c3channel\u203a \u2217Bold\u2217 (click)(https:\u2044\u2044" in body


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("HubSpot", "HubSpot"),
        ("AT&T Mail_Sync", "AT\uff06T Mail\uff3fSync"),
        ("<script>alert(1)</script>", "\u2039script\u203aalert(1)\u2039/script\u203a"),
        ("a\tb\r\nc\u200bd", "a b c\u27e8U+200B\u27e9d"),
        ("Zoom\x1b[2J", "Zoom\u27e8U+001B\u27e9(2J"),
        (
            "`code` ~strike~ #general | \\n !x",
            "\u2019code\u2019 \u223cstrike\u223c \uff03general \u00a6 \u2216n \u01c3x",
        ),
        ("x" * 300, "x" * 159 + "\u2026"),
    ],
)
def test_safe_text(raw: str, safe: str) -> None:
    assert notify.safe_text(raw) == safe


def test_unset_urls_env_fails_before_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URLS_ENV, raising=False)
    cfg = make_config(tmp_path)
    with pytest.raises(ConfigError, match=f"notify.urls_env: environment variable {URLS_ENV}"):
        scan(cfg)
    assert not cfg.store_path.exists(), "nothing was scanned"


def test_unusable_url_is_named_by_position_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URLS_ENV, "json://127.0.0.1/ok nosuchscheme://hook-token-1234")
    cfg = make_config(tmp_path)
    with pytest.raises(ConfigError) as caught:
        notify.notification_urls(cfg)
    assert "entry 2 of SHADOWIT_TEST_NOTIFY_URLS is not a URL apprise supports" in str(caught.value)
    assert "hook-token-1234" not in str(caught.value)


def test_bad_min_severity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config(tmp_path, min_severity="urgent")
    with pytest.raises(ConfigError, match="notify.min_severity: 'urgent' is not one of critical"):
        notify.notification_urls(cfg)


def test_notifications_off_without_urls_env(tmp_path: Path) -> None:
    cfg = configuration.load(feed_config(tmp_path))
    feed_of("Zephyr Notes")
    summary = scan(cfg)
    assert summary["notification"] == ""
    assert notify.after_scan(cfg, summary["scan_id"]).status == "off"


def test_long_lists_are_cut_with_a_count(tmp_path: Path, webhook: HTTPServer) -> None:
    cfg = make_config(tmp_path)
    feed_of(*(f"Tool {n:02d}" for n in range(20)))
    scan(cfg)
    body = messages(webhook)[0]["message"]
    assert body.count("\n- HIGH ") == notify.MAX_FINDINGS
    assert "- and 15 more in the report" in body


def test_new_finding_kinds_read_in_plain_words() -> None:
    news = notify.News(
        since_scan=1,
        scan_id=2,
        findings=[
            notify.NewFinding(
                "cat:grammarly:no_sso", "Grammarly", "no_sso", "medium", "tolerated", "opened"
            ),
            notify.NewFinding(
                "cat:q4:consent_phishing", "Q4 Bonus", "consent_phishing", "high", "", "opened"
            ),
        ],
    )
    body = notify.compose(news, configuration.from_dict({})).body
    assert "- MEDIUM Grammarly: outside SSO: tolerated" in body
    assert "- HIGH Q4 Bonus: possible consent phishing" in body


def test_a_finding_a_report_reconciliation_opens_is_sent_with_the_next_message(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    """``shadowit sanction --status banned`` then ``shadowit report`` opens a "banned" finding
    inside the scan already notified; the next scan's message carries it, once."""
    from click.testing import CliRunner

    from scanner.app.cli import main
    from scanner.app.refresh import reconcile_latest

    cfg = make_config(tmp_path)
    feed_of("Canva")
    scan(cfg)
    assert len(webhook.log) == 1 and "banned" not in messages(webhook)[0]["message"]
    banned = CliRunner().invoke(
        main,
        ["sanction", "--config", str(cfg.file), "Canva", "--status", "banned"],
    )
    assert banned.exit_code == 0, banned.output
    reconcile_latest(cfg)  # what `shadowit report` does first
    scan(cfg, NOW + timedelta(days=1))
    assert len(webhook.log) == 2
    assert "- CRITICAL Canva: banned app" in messages(webhook)[1]["message"]
    scan(cfg, NOW + timedelta(days=2))
    assert len(webhook.log) == 2, "sent once"
