"""Every code a person can meet has words, and counts have the right plural."""

from __future__ import annotations

from scanner.analysis.confirm import STATES
from scanner.analysis.sanctions import STATUSES
from scanner.core import words
from scanner.core.models import FINDING_KINDS, finding_label


def test_every_code_has_its_own_words() -> None:
    assert set(words.FINDING_KINDS) == set(FINDING_KINDS)
    assert set(words.CONFIRMATION_STATES) == set(STATES)
    assert set(STATUSES) <= set(words.SANCTION_STATUSES)
    for table in words.TOPICS.values():
        assert all("_" not in text for text in table.values())


def test_labels_fall_back_to_spaced_codes() -> None:
    assert finding_label("risky_scopes") == "risky permissions"
    assert words.label("confirmation", "not_applicable") == "no confirmation needed"
    assert words.label("access", "some_new_kind") == "some new kind"
    assert words.label("sanction", None) == ""


def test_plurals() -> None:
    assert words.plural(1, "warning") == "1 warning"
    assert words.plural(2, "source") == "2 sources"
    assert words.plural(0, "app") == "0 apps"
    assert words.plural(1, "person", "people") == "1 person"
    assert words.plural(1234, "person", "people") == "1,234 people"
