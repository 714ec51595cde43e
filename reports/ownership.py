"""Who owns an app, in one place for every format: the confirmed owner over the policy owner
over the suggested one, with which it is, and what the owner last answered.

The report model keeps its separate fields (``owner`` from the policy, ``likely_owner``,
``confirmation``); ``ownership`` is what a person reads: the HTML app detail, the ownership
sheet of the workbook and ``ownership.csv`` all render it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.core import words

CONFIRMED_STATES = ("confirmed", "review_due")
"""Confirmation states in which the person who answered "mine" is the app's owner."""


def latest_answers(confirmations: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The newest answer per app key (``confirmations`` lists the newest first)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for answer in confirmations:
        latest.setdefault(str(answer["app_key"]), answer)
    return latest


def ownership(app: Mapping[str, Any], answer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``ownership`` block of one app of the report model.

    ``app`` carries the policy fields (``owner``, ``team``, ``purpose``, ``renewal_date``),
    ``likely_owner`` and ``confirmation``; ``answer`` is the app's newest owner answer, if any.
    """
    state = app["confirmation"]["state"]
    mine = answer is not None and answer["answer"] == "mine"
    owner, source = None, None
    if state in CONFIRMED_STATES and app["confirmation"]["owner"]:
        owner, source = app["confirmation"]["owner"], "confirmed"
    elif app["owner"]:
        owner, source = app["owner"], "policy"
    else:
        suggested = answer.get("suggested_owner") if answer is not None else None
        owner = suggested or app["likely_owner"]
        source = "suggested" if owner else None
    return {
        "owner": owner,
        "owner_source": source,
        "owner_source_text": words.label("owner_source", source) if source else None,
        "team": app["team"],
        # What the owner said overrides the policy's words: they are the newer account.
        "purpose": (answer["purpose"] if mine and answer and answer["purpose"] else None)
        or app["purpose"],
        "data_held": answer["data_held"] if mine and answer else None,
        "renewal_date": (answer["renewal"] if mine and answer and answer["renewal"] else None)
        or app["renewal_date"],
        "answer": answer["answer"] if answer else None,
        "answer_text": words.label("answer", str(answer["answer"])) if answer else None,
        "answered_by": answer["owner"] if answer else None,
        "answered_at": answer["answered"] if answer else None,
        "note": answer["note"] if answer else None,
    }
