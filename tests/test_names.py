"""scanner.core.names: provider text made safe for terminals, logs and pages; addresses checked."""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, datetime

import pytest

from scanner.core import names
from scanner.core.models import Checkpoint, Grant, RawApp, SignIn, SourceWarning, Spend, User

HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def test_every_control_format_and_separator_character_is_caught() -> None:
    """The character class covers Cc, Cf, Cs, Zl and Zp of this Python's Unicode database;
    anything more it catches is unassigned here (a format character of a later Unicode)."""
    missed, extra = [], []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        caught = names.reveal(char) != char
        if category in HIDDEN_CATEGORIES and not caught:
            missed.append(f"U+{code:04X}")
        if caught and category not in HIDDEN_CATEGORIES | {"Cn"}:
            extra.append(f"U+{code:04X}")
    assert not missed and not extra, (missed[:5], extra[:5])


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ("HubSpot", "HubSpot"),
        ("Zoom\x1b[2J\x1b]0;pwned\x07", "Zoom\\x1b[2J\\x1b]0;pwned\\x07"),
        ("Slack\r\nERROR scanner: forged", "Slack\\x0d\\x0aERROR scanner: forged"),
        ("Invoice\u202etxt.exe", "Invoice\\u202etxt.exe"),
        ("Hub\u200bSpot\u200d\ufeff", "Hub\\u200bSpot\\u200d\\ufeff"),
        ("Mail\x00chimp\tx\x7f\x9b", "Mail\\x00chimp\\x09x\\x7f\\x9b"),
        ("a\u2028b\u061c\u2066c", "a\\u2028b\\u061c\\u2066c"),
        ("Canva\U000e0041", "Canva\\U000e0041"),
        ("lone \ud800", "lone \\ud800"),
        ("caf\u00e9 \u00a0 \u65e5\u672c", "caf\u00e9 \u00a0 \u65e5\u672c"),
    ],
)
def test_one_line_escapes_what_would_act(raw: str, line: str) -> None:
    shown = names.one_line(raw)
    assert shown == line
    assert shown.isprintable() or "\u00a0" in shown
    shown.encode("utf-8")  # a lone surrogate would raise here


def test_one_line_cuts_to_a_width_without_splitting_an_escape() -> None:
    assert names.one_line("x" * 500) == "x" * 299 + "\u2026"
    assert names.one_line("abcdef", 4) == "abc\u2026"
    assert names.one_line("abc", None) == "abc"
    cut = names.one_line("x" * 97 + "\x1b" + "y" * 10, 100)
    assert cut == "x" * 97 + "\u2026", "a cut \\x1 would read as other text"
    assert names.one_line("x" * 95 + "\x1b" + "y" * 10, 100) == "x" * 95 + "\\x1b" + "\u2026"
    flood = names.one_line("\x1b" * 10_000)
    assert len(flood) <= 300 and flood.endswith("\\x1b\u2026")


@pytest.mark.parametrize(
    ("raw", "page"),
    [
        ("Invoice\u202etxt.exe", "Invoice\u27e8U+202E\u27e9txt.exe"),
        ("Mail\x00chimp", "Mail\u27e8U+0000\u27e9chimp"),
        ("Zoom\x1b[2J", "Zoom\u27e8U+001B\u27e9[2J"),
        ("Pay\u200dPal", "Pay\u27e8U+200D\u27e9Pal"),
        ("two\r\nlines\tand a tab", "two\nlines\tand a tab"),
        ("over\rwritten\n", "over\u27e8U+000D\u27e9written\n"),
        ("<b>HubSpot</b>", "<b>HubSpot</b>"),
    ],
)
def test_visible_marks_characters_in_pages(raw: str, page: str) -> None:
    assert names.visible(raw) == page


def test_visible_data_marks_keys_and_values_and_leaves_the_rest() -> None:
    data = {"apps": [{"name": "A\u202eB", "n": 3, "ok": True}], "m\u200b": ("x\x00",)}
    assert names.visible_data(data) == {
        "apps": [{"name": "A\u27e8U+202E\u27e9B", "n": 3, "ok": True}],
        "m\u27e8U+200B\u27e9": ["x\u27e8U+0000\u27e9"],
    }


@pytest.mark.parametrize(
    "address",
    [
        "ana@acme.example",
        "A.Moreau+tag@Acme.Example",
        "guest_contoso.example#EXT#@acme.onmicrosoft.com",
        "j\u00fcrgen@b\u00fccher.de",
        "alice@corp.local",
        "shadowit@localhost",
        "ops@corp",
    ],
)
def test_addresses_that_are_addresses(address: str) -> None:
    assert names.is_email(address), names.email_problem(address)


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.com\n",
        "bob@example.com\r\nBcc: evil@x.example",
        "alice@corp.local\n",
        " ana@acme.example",
        "Ana <ana@acme.example>",
        "ana@acme.example, eve@evil.example",
        '"ana"@acme.example',
        "ana",
        "ana@",
        "@acme.example",
        "a" * 250 + "@x.example",
        "ana@acme.example\x00",
        "ana\u202e@acme.example",
    ],
)
def test_addresses_that_are_not(address: str) -> None:
    assert not names.is_email(address)
    assert names.email_problem(address)


def test_old_pattern_let_a_final_newline_through() -> None:
    """The pattern the confirmation module used: ``$`` also matches before a final newline."""
    import re

    old = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
    assert old.match("alice@example.com\n"), "the defect this module fixes"
    assert not names.is_email("alice@example.com\n")


def test_checked_addresses_drops_bad_addresses_with_one_warning_naming_the_record() -> None:
    bad = "alice@example.com\n"
    records = [
        User("okta", "00u1", bad, "Alice"),
        User("okta", "00u2", "ben@acme.example", "Ben"),
        Grant("okta", "0oa1", "00u1", ("openid",), user_email=bad),
        SignIn("okta", "e1", "0oa1", NOW, "00u1", bad),
        SignIn("okta", "e2", "0oa1", NOW, "00u1", bad),
        Spend("files", "l1", "Canva", 12.0, "EUR", NOW.date(), "bob@x.example\r\nBcc: e@x"),
        RawApp("okta", "0oa1", "Canva"),
        Checkpoint("okta", "users", complete=True),
    ]
    out = list(names.checked_addresses(records))
    warnings = [r for r in out if isinstance(r, SourceWarning)]
    kept = [r for r in out if not isinstance(r, SourceWarning)]
    assert [w.source for w in warnings] == ["okta", "files"], "one per address and source"
    assert warnings[0].stream == "users"
    assert warnings[0].message.startswith("user 00u1: ignored the email address ")
    assert "\\n" in warnings[0].message and "\n" not in warnings[0].message
    assert warnings[1].message.startswith("expense line l1: ignored the email address ")
    assert all(w.message.isprintable() for w in warnings)
    assert len(kept) == len(records)
    assert kept[0] == User("okta", "00u1", None, "Alice"), "keyed by id, not by a bad address"
    assert kept[1] == records[1]
    assert [getattr(r, "user_email", None) for r in kept[2:6]] == [None] * 4
    assert kept[6:] == records[6:]


def test_notification_text_marks_hidden_characters() -> None:
    from scanner.app.notify import safe_text

    assert safe_text("Invoice\u202etxt.exe\r\nforged") == "Invoice\u27e8U+202E\u27e9txt.exe forged"
