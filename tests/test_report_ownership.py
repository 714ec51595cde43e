"""One owner field per app: confirmed over the sanctioned list over a suggestion, with which."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.ownership import latest_answers, ownership


def _app(**fields: Any) -> dict[str, Any]:
    app: dict[str, Any] = {
        "owner": None,
        "team": None,
        "purpose": None,
        "renewal_date": None,
        "likely_owner": None,
        "confirmation": {"state": "unconfirmed", "owner": None, "answered": None},
    }
    app.update(fields)
    return app


def _answer(answer: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "app_key": "canva",
        "owner": "kim@acme.example",
        "answer": answer,
        "answered": "2026-11-30T09:00:00Z",
        "purpose": None,
        "data_held": None,
        "renewal": None,
        "suggested_owner": None,
        "note": None,
    }
    row.update(fields)
    return row


def test_a_confirmed_owner_wins_and_their_words_override_the_policy() -> None:
    app = _app(
        owner="lead@acme.example",
        team="Brand",
        purpose="design",
        renewal_date="2027-01-31",
        likely_owner="first@acme.example",
        confirmation={"state": "confirmed", "owner": "kim@acme.example", "answered": "x"},
    )
    answer = _answer("mine", purpose="social posts", data_held="logos", renewal="2027-03-31")
    block = ownership(app, answer)
    assert (block["owner"], block["owner_source"]) == ("kim@acme.example", "confirmed")
    assert block["owner_source_text"] == "confirmed by the owner"
    assert (block["team"], block["purpose"], block["data_held"]) == (
        "Brand",
        "social posts",
        "logos",
    )
    assert block["renewal_date"] == "2027-03-31"
    assert (block["answer"], block["answer_text"]) == ("mine", "Yes, my team owns it")
    assert block["answered_at"] == "2026-11-30T09:00:00Z"


def test_the_policy_owner_comes_before_a_suggestion_and_keeps_its_purpose() -> None:
    app = _app(owner="lead@acme.example", purpose="design", likely_owner="first@acme.example")
    block = ownership(app, None)
    assert (block["owner"], block["owner_source"], block["purpose"]) == (
        "lead@acme.example",
        "policy",
        "design",
    )
    assert block["answer"] is None and block["answered_by"] is None


def test_a_disowned_app_suggests_the_owner_named_in_the_answer() -> None:
    app = _app(
        likely_owner="first@acme.example",
        confirmation={"state": "disowned", "owner": "kim@acme.example", "answered": "x"},
    )
    answer = _answer("not_ours", suggested_owner="web@acme.example", purpose="ignored")
    block = ownership(app, answer)
    assert (block["owner"], block["owner_source"]) == ("web@acme.example", "suggested")
    assert block["purpose"] is None, "only a 'mine' answer speaks for the app's purpose"
    assert block["answer_text"] == "Not ours" and block["answered_by"] == "kim@acme.example"
    assert ownership(_app(), None)["owner_source"] is None


def test_the_newest_answer_per_app_is_kept() -> None:
    rows = [_answer("stopped"), _answer("mine"), {**_answer("mine"), "app_key": "miro"}]
    latest = latest_answers(rows)
    assert latest["canva"]["answer"] == "stopped" and set(latest) == {"canva", "miro"}


def test_the_demo_report_names_confirmed_owners_and_their_answers(tmp_path: Path) -> None:
    from scanner.app.demo import run_demo

    run_demo(tmp_path / "demo")
    model = json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))
    confirmed = [a for a in model["apps"] if a["confirmation"]["state"] == "confirmed"]
    assert confirmed
    for app in confirmed:
        block = app["ownership"]
        assert block["owner_source"] == "confirmed"
        assert block["owner"] == app["confirmation"]["owner"]
        assert block["answer"] == "mine" and block["purpose"]
    sources = {a["ownership"]["owner_source"] for a in model["apps"]}
    assert {"confirmed", "policy", "suggested"} <= sources
