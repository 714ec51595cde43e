"""Reconciler and inventory history over several days (injected clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.analysis import findings as lifecycle
from scanner.app import config as configuration
from scanner.app.cli import main
from scanner.app.pipeline import run_scan
from scanner.core.errors import ConfigError, InputError, RetryableError
from scanner.core.models import Checkpoint, Grant, RawApp, SignIn, User
from scanner.store.database import Store
from tests import memory_source
from tests.memory_source import FEED

DAY0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def people() -> Iterator[object]:
    yield User("feed", "u1", "ana@example.com", "Ana", "Marketing")
    yield User("feed", "u2", "bo@example.com", "Bo", "Marketing")
    yield User("feed", "u3", "cy@example.com", "Cy", "Sales")
    yield Checkpoint("feed", "users", complete=True)


def tenant(
    *,
    hubspot_scopes: tuple[str, ...] = ("openid", "Mail.Read"),
    canva: bool = True,
    signin_at: datetime | None = None,
) -> list[object]:
    items: list[object] = list(people())
    items += [
        RawApp("feed", "hs", "HubSpot", publisher="HubSpot, Inc.", publisher_verified=True),
        RawApp("feed", "mc", "Mailchimp", publisher="Intuit Mailchimp", publisher_verified=True),
    ]
    if canva:
        items.append(RawApp("feed", "cv", "Canva", publisher="Canva", publisher_verified=True))
    items.append(Checkpoint("feed", "apps", complete=True))
    items += [
        Grant("feed", "hs", "u1", hubspot_scopes),
        Grant("feed", "mc", "u2", ("openid",)),
    ]
    if canva:
        items.append(Grant("feed", "cv", "u1", ("openid",)))
    items.append(Checkpoint("feed", "grants", complete=True))
    if signin_at:
        items += [
            SignIn("feed", f"s-{signin_at.isoformat()}", "hs", signin_at, user_id="u1"),
            Checkpoint("feed", "signins", cursor=signin_at.isoformat()),
        ]
    return items


@pytest.fixture()
def cfg(tmp_path: Path) -> configuration.Config:
    assert memory_source.FEED is FEED
    FEED.clear()
    path = tmp_path / "config.toml"
    path.write_text(
        """
[organisation]
name = "Test"
[policy]
dormant_days = 30
[sources.feed]
[[sanctioned.apps]]
app = "HubSpot"
status = "sanctioned"
owner = "ops@example.com"
approved_scopes = ["openid", "Mail.Read"]
review_by = 2026-11-10
[[sanctioned.apps]]
app = "Mailchimp"
status = "tolerated"
"""
    )
    return configuration.load(path)


def scan(cfg: configuration.Config, when: datetime, items: list[object]) -> dict[str, dict]:
    FEED[:] = items
    run_scan(cfg, now=when)
    store = Store.open(cfg.store_path)
    try:
        return {r["id"]: r for r in store.db.query("SELECT * FROM findings")}
    finally:
        store.close()


def test_lifecycle_over_several_days(cfg: configuration.Config) -> None:
    # Day 0: baseline. Canva is unsanctioned.
    f = scan(cfg, DAY0, tenant(signin_at=DAY0 - timedelta(hours=1)))
    canva = "cat:canva:unsanctioned"
    assert f[canva]["status"] == "open"
    assert "cat:hubspot:over_scoped" not in f

    # Day 1: HubSpot escalates to Mail.Send -> over_scoped opens; canva kept.
    f = scan(
        cfg, DAY0 + timedelta(days=1), tenant(hubspot_scopes=("openid", "Mail.Read", "Mail.Send"))
    )
    assert f["cat:hubspot:over_scoped"]["status"] == "open"
    assert f[canva]["opened_scan"] == 1

    # The reviewer accepts Canva until day 5.
    store = Store.open(cfg.store_path)
    lifecycle.decide(
        store, canva, "accepted", "sam", "design trial", date(2026, 11, 6), DAY0 + timedelta(days=1)
    )
    store.close()
    f = scan(
        cfg, DAY0 + timedelta(days=2), tenant(hubspot_scopes=("openid", "Mail.Read", "Mail.Send"))
    )
    assert f[canva]["status"] == "accepted"
    assert f[canva]["decided_by"] == "sam"

    # Day 6: the acceptance expired -> open again.
    f = scan(
        cfg, DAY0 + timedelta(days=6), tenant(hubspot_scopes=("openid", "Mail.Read", "Mail.Send"))
    )
    assert f[canva]["status"] == "open"

    # Day 7: scopes reduced and Canva gone -> both resolved.
    f = scan(cfg, DAY0 + timedelta(days=7), tenant(canva=False))
    assert f["cat:hubspot:over_scoped"]["status"] == "resolved"
    assert f[canva]["status"] == "resolved"

    # Day 8: Canva is back -> reopened.
    f = scan(cfg, DAY0 + timedelta(days=8), tenant())
    assert f[canva]["status"] == "open"
    store = Store.open(cfg.store_path)
    events = [
        r["event"]
        for r in store.db.query(
            "SELECT event FROM finding_events WHERE finding_id = ? ORDER BY id", [canva]
        )
    ]
    store.close()
    assert events == ["opened", "accepted", "expired", "resolved", "reopened"]


def test_stale_sanction_and_dormant(cfg: configuration.Config) -> None:
    f = scan(cfg, DAY0, tenant(signin_at=DAY0 - timedelta(days=1)))
    assert "cat:hubspot:stale_sanction" not in f  # review_by 2026-11-10 is ahead
    f = scan(cfg, DAY0 + timedelta(days=40), tenant())
    assert f["cat:hubspot:stale_sanction"]["status"] == "open"
    assert f["cat:hubspot:dormant"]["status"] == "open"
    assert "no sign-in since 2026-10-31" in f["cat:hubspot:dormant"]["reasons"]


def test_partial_source_keeps_apps_and_findings(cfg: configuration.Config) -> None:
    scan(cfg, DAY0, tenant())
    broken = list(people()) + [RetryableError("feed", "gave up after 6 attempts: HTTP 503")]
    f = scan(cfg, DAY0 + timedelta(days=1), broken)
    assert f["cat:canva:unsanctioned"]["status"] == "open"
    store = Store.open(cfg.store_path)
    gone = store.db.execute("SELECT count(*) FROM raw_apps WHERE gone_scan IS NOT NULL").fetchone()[
        0
    ]
    store.close()
    assert gone == 0


def test_diff_reports_changes_then_no_changes(cfg: configuration.Config) -> None:
    scan(cfg, DAY0, tenant(canva=False))
    scan(
        cfg,
        DAY0 + timedelta(days=1),
        tenant(hubspot_scopes=("openid", "Mail.Read", "Files.Read.All")),
    )
    runner = CliRunner()
    result = runner.invoke(main, ["diff", "--config", str(cfg.file)])
    assert result.exit_code == 0, result.output
    assert "New apps: Canva" in result.output
    assert "HubSpot gained scopes: Files.Read.All" in result.output
    assert "Findings opened:" in result.output
    scan(
        cfg,
        DAY0 + timedelta(days=2),
        tenant(hubspot_scopes=("openid", "Mail.Read", "Files.Read.All")),
    )
    result = runner.invoke(main, ["diff", "--config", str(cfg.file)])
    assert result.output.strip() == "No changes between scan 2 and scan 3."
    result = runner.invoke(main, ["diff", "--config", str(cfg.file), "--since", "1", "--json"])
    assert '"Canva"' in result.output


def test_cli_accept_findings_and_sanction(cfg: configuration.Config) -> None:
    scan(cfg, DAY0, tenant())
    runner = CliRunner()
    out = runner.invoke(main, ["findings", "--config", str(cfg.file), "--json"])
    assert "cat:canva:unsanctioned" in out.output
    listing = runner.invoke(main, ["findings", "--config", str(cfg.file), "--status", "open"])
    assert "cat:canva:unsanctioned  [medium, open] Canva: unsanctioned" in listing.output
    res = runner.invoke(
        main,
        [
            "accept",
            "--config",
            str(cfg.file),
            "cat:canva:unsanctioned",
            "--reason",
            "trial",
            "--until",
            "2099-01-01",
            "--by",
            "sam",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "accepted until 2099-01-01" in res.output
    res = runner.invoke(
        main, ["accept", "--config", str(cfg.file), "nope:x", "--reason", "r", "--no-expiry"]
    )
    assert res.exit_code == 2 and "no finding 'nope:x'" in res.output
    res = runner.invoke(
        main,
        [
            "sanction",
            "--config",
            str(cfg.file),
            "Canva",
            "--status",
            "sanctioned",
            "--owner",
            "ana@example.com",
        ],
    )
    assert res.exit_code == 0, res.output
    f = scan(cfg, DAY0 + timedelta(days=1), tenant())
    assert f["cat:canva:unsanctioned"]["status"] == "resolved"
    res = runner.invoke(
        main, ["sanction", "--config", str(cfg.file), "Hubspt", "--status", "banned"]
    )
    assert res.exit_code == 2 and "did you mean HubSpot?" in res.output


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('app = "HubSpot"\nstatus = "approved"', "status 'approved' for HubSpot is not one of"),
        (
            'app = "HubSpot"\nstatus = "sanctioned"\nreview_by = "next year"',
            "review_by 'next year' is not a date",
        ),
        ('app = "Hubspt"\nstatus = "sanctioned"', "unknown app 'Hubspt': did you mean HubSpot?"),
    ],
)
def test_bad_sanctioned_file_names_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    policy = tmp_path / "sanctioned.toml"
    policy.write_text(
        f'# policy\n[[apps]]\napp = "Slack"\nstatus = "sanctioned"\n\n[[apps]]\n{row}\n'
    )
    path = tmp_path / "config.toml"
    path.write_text('[sanctioned]\nfile = "sanctioned.toml"\n')
    cfg = configuration.load(path)
    with pytest.raises((InputError, ConfigError)) as err:
        run_scan(cfg)
    assert message in str(err.value)
    assert f"{policy}:6" in str(err.value)


def test_duplicate_and_csv_sanctioned_list(tmp_path: Path) -> None:
    policy = tmp_path / "sanctioned.csv"
    policy.write_text(
        "app,status,owner,approved_scopes\nHubSpot,sanctioned,a@x.com,openid;Mail.Read\nSlack,banned,,\nhubspot,tolerated,,\n"
    )
    path = tmp_path / "config.toml"
    path.write_text('[sanctioned]\nfile = "sanctioned.csv"\n')
    with pytest.raises(InputError) as err:
        run_scan(configuration.load(path))
    assert f"{policy}:4: HubSpot is listed twice" in str(err.value)
    assert f"first at {policy}:2" in str(err.value)


def test_unknown_severity_override(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[policy.severity]\nunsanctioned = "urgent"\n')
    with pytest.raises(ConfigError, match="policy.severity.unsanctioned: 'urgent' is not one of"):
        run_scan(configuration.load(path))
