"""Scope table and the explainable risk score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scanner.analysis.risk import (
    SCOPES_FILE,
    UNKNOWN_MEANING,
    RiskInput,
    ScopeTable,
    assess,
    level_for,
)
from scanner.core.errors import InputError
from tools.build_scopes import graph_level, graph_meaning, render_scopes_csv

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def table() -> ScopeTable:
    return ScopeTable.load()


def risk(**changes: object) -> RiskInput:
    base: dict[str, object] = {
        "scopes": (),
        "admin_consent": False,
        "app_only": False,
        "users": 1,
        "publisher_verified": True,
        "first_party": False,
        "internal": False,
        "first_seen": None,
        "last_sign_in": None,
        "now": NOW,
    }
    base.update(changes)
    return RiskInput(**base)  # type: ignore[arg-type]


# -- table -------------------------------------------------------------------------------------


def test_shipped_table_is_in_sync_with_its_rules() -> None:
    assert SCOPES_FILE.read_text(encoding="utf-8") == render_scopes_csv(), (
        "regenerate: python -m tools.build_scopes > scanner/data/scopes.csv"
    )


def test_table_covers_graph_and_google(table: ScopeTable) -> None:
    assert len(table) > 1500
    for scope, level in [
        ("Mail.Read", "high"),
        ("Mail.ReadWrite", "critical"),
        ("Mail.Send", "critical"),
        ("Files.ReadWrite.All", "critical"),
        ("Sites.FullControl.All", "critical"),
        ("Directory.ReadWrite.All", "critical"),
        ("User.Read", "low"),
        ("offline_access", "low"),
        ("openid", "low"),
        ("profile", "low"),
        ("email", "low"),
        ("Calendars.ReadWrite", "high"),
        ("https://mail.google.com/", "critical"),
        ("https://www.googleapis.com/auth/gmail.readonly", "high"),
        ("https://www.googleapis.com/auth/drive", "critical"),
        ("https://www.googleapis.com/auth/drive.file", "low"),
        ("https://www.googleapis.com/auth/admin.directory.user", "critical"),
        ("https://www.googleapis.com/auth/userinfo.email", "low"),
    ]:
        assert table.info(scope).level == level, scope


def test_meaning_is_plain_language(table: ScopeTable) -> None:
    assert table.info("Mail.Send").meaning == "send mail as the user"
    assert table.info("Mail.Send", app_only=True).meaning == (
        "send mail as any user in the organisation"
    )
    assert table.info("Mail.Read").provider == "microsoft_graph"
    assert table.info("https://mail.google.com/").provider == "google"


def test_other_spellings(table: ScopeTable) -> None:
    assert table.info("https://graph.microsoft.com/Mail.ReadWrite").level == "critical"
    assert table.info("mail.readwrite").level == "critical"
    assert table.info("gmail.send").scope == "https://www.googleapis.com/auth/gmail.send"


def test_unknown_scope(table: ScopeTable) -> None:
    info = table.info("Widgets.Frobnicate")
    assert (info.level, info.meaning, info.scope) == (
        "medium",
        UNKNOWN_MEANING,
        "Widgets.Frobnicate",
    )


def test_app_only_rule_is_stricter(table: ScopeTable) -> None:
    assert table.info("Channel.Create").level == "high"
    assert table.info("Channel.Create", app_only=True).level == "critical"


@pytest.mark.parametrize(
    ("value", "application", "level"),
    [
        ("Group.ReadWrite.All", False, "critical"),
        ("Notes.Create", False, "high"),
        ("Bookings.Read.All", False, "high"),
        ("Tasks.Read", False, "medium"),
        ("Printer.Read.All", False, "medium"),
        ("Printer.ReadWrite.All", False, "high"),
        ("Acronym.Read.All", False, "medium"),
        ("Widget.Read", False, "low"),
        ("Widget.Read", True, "medium"),
        ("Files.ReadWrite.AppFolder", False, "high"),
        ("Sites.Selected", True, "medium"),
        ("Tasks.Read", True, "high"),
    ],
)
def test_graph_rules(value: str, application: bool, level: str) -> None:
    assert graph_level(value, application) == level


def test_graph_meaning() -> None:
    assert graph_meaning("AccessReview.ReadWrite.Membership", False) == (
        "read and change access review (membership), as the user"
    )
    assert graph_meaning("Printer.Read.All", True).endswith("with no user present")


def test_scopes_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "scopes.csv"
    path.write_text(
        "scope,level,meaning\n"
        "User.Read,high,reads our HR attributes\n"
        "api://acme/Orders.Read,low,read our order system\n",
        encoding="utf-8",
    )
    table = ScopeTable.load(path)
    assert table.info("User.Read").level == "high"
    assert table.info("User.Read", app_only=True).meaning == "reads our HR attributes"
    assert table.info("api://acme/Orders.Read").level == "low"
    assert table.info("Mail.Send").level == "critical"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("scope,level\nA,low\n", "s.csv:1: missing column 'meaning'"),
        ("scope,level,meaning\nA,severe,x\n", "s.csv:2: level 'severe' for A must be one of"),
        ("scope,level,meaning\n,low,x\n", "s.csv:2: scope is empty"),
        ("scope,level,meaning,kind\nA,low,x,user\n", "s.csv:2: kind 'user' for A must be"),
    ],
)
def test_bad_scopes_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        ScopeTable.load(path)
    assert message in str(err.value)


def test_missing_scopes_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"scopes file not found \(catalog.scopes_file\)"):
        ScopeTable.load(tmp_path / "nope.csv")


# -- score -------------------------------------------------------------------------------------


def test_levels() -> None:
    assert [level_for(s) for s in (0, 24, 25, 49, 50, 74, 75, 100)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "critical",
        "critical",
    ]


def test_sign_in_only_app_from_verified_publisher_is_low(table: ScopeTable) -> None:
    result = assess(risk(scopes=("openid", "profile", "email")), table)
    assert result.level == "low"
    assert result.reasons[0] == "low scope email: see the user's email address"


def test_mail_reader_with_admin_consent_is_critical(table: ScopeTable) -> None:
    result = assess(
        risk(
            scopes=("Mail.ReadWrite", "Mail.Send", "Files.ReadWrite.All", "offline_access"),
            admin_consent=True,
            users=60,
            publisher_verified=False,
        ),
        table,
    )
    assert result.level == "critical" and 75 <= result.score <= 100
    assert result.reasons == (
        "critical scope Files.ReadWrite.All: read, change and delete every file the user can open",
        "2 more high-risk scopes: Mail.ReadWrite, Mail.Send",
        "admin consent: granted for every user in the organisation",
        "60 users hold access",
        "publisher not verified",
    )


def test_every_factor_raises_the_score(table: ScopeTable) -> None:
    base = assess(risk(scopes=("Calendars.Read",)), table).score
    for change in (
        {"admin_consent": True},
        {"app_only": True},
        {"users": 10},
        {"publisher_verified": False},
        {"first_seen": NOW - timedelta(days=3)},
        {"last_sign_in": NOW - timedelta(days=120)},
    ):
        assert assess(risk(scopes=("Calendars.Read",), **change), table).score > base, change


def test_age_reasons(table: ScopeTable) -> None:
    result = assess(
        risk(
            scopes=("Mail.Read",),
            first_seen=NOW - timedelta(days=3),
            last_sign_in=NOW - timedelta(days=120),
        ),
        table,
    )
    assert "new: first seen 3 days ago" in result.reasons
    assert "unused for 120 days but still holds its scopes" in result.reasons


def test_score_is_capped(table: ScopeTable) -> None:
    every = (
        "Directory.ReadWrite.All",
        "Mail.ReadWrite",
        "Mail.Send",
        "Files.ReadWrite.All",
        "Sites.FullControl.All",
        "Application.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
    )
    result = assess(
        risk(
            scopes=every,
            admin_consent=True,
            app_only=True,
            users=5000,
            publisher_verified=False,
            first_seen=NOW,
            last_sign_in=NOW - timedelta(days=400),
        ),
        table,
    )
    assert result.score == 100 and result.level == "critical"
    assert any("and 2 more" in r for r in result.reasons)


def test_first_party_and_internal(table: ScopeTable) -> None:
    loud = {"scopes": ("Mail.ReadWrite",), "admin_consent": True, "users": 300}
    first = assess(risk(first_party=True, publisher_verified=False, **loud), table)
    assert first.score <= 10 and first.level == "low"
    assert first.reasons[0].startswith("first-party app")
    assert "publisher not verified" not in first.reasons
    outside = assess(risk(**loud), table)
    internal = assess(risk(internal=True, **loud), table)
    assert internal.score == outside.score - 15
    assert internal.reasons[0] == "the company's own app"


def test_unknown_scope_counts_as_medium(table: ScopeTable) -> None:
    result = assess(risk(scopes=("Widgets.Frobnicate",)), table)
    assert result.reasons[0] == "medium scope Widgets.Frobnicate: unrecognised permission"
