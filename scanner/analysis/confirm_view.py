"""The report's view of ownership confirmation: each app's state, the pending requests, what
IT was asked to do (``scanner.analysis.confirm`` decides; this module only reads)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scanner.analysis.confirm import Attestation, ConfirmRequest, attestations, requests
from scanner.store import confirmations as stored
from scanner.store.database import Store, iso


@dataclass(frozen=True)
class ReportView:
    """Confirmation state for the report model."""

    by_app: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    it_requests: list[dict[str, Any]] = field(default_factory=list)
    confirmations: list[dict[str, Any]] = field(default_factory=list)


def report_view(
    store: Store,
    apps: Sequence[Mapping[str, Any]],
    review_period_days: int,
    expiry_days: int,
    now: datetime,
) -> ReportView:
    """State per app, pending requests, and what IT was asked to do, for ``apps`` (the model's)."""
    if not stored.has_confirmations(store):
        return ReportView()
    review = timedelta(days=review_period_days)
    answers = attestations(store)
    latest = {a.app_key: a for a in reversed(answers)}  # newest wins
    all_requests = requests(store)
    by_id = {r.id: r for r in all_requests}
    pending = {r.app_key: r for r in all_requests if r.status == "pending"}
    expired = {r.app_key: r for r in all_requests if r.status == "expired"}
    view = ReportView()
    for app in apps:
        key = app["key"]
        state, owner, answered = _state(
            app, latest.get(key), pending.get(key), expired.get(key), now - review
        )
        view.by_app[key] = {"state": state, "owner": owner, "answered": answered}
    names = {a["key"]: a for a in apps}
    for r in pending.values():
        sent = r.last_sent
        view.pending.append(
            {
                "id": r.id,
                "app": r.app_name,
                "app_key": r.app_key,
                "owner": r.owner,
                "reason": r.reason,
                "created": iso(r.created),
                "last_sent": iso(sent),
                "reminders": r.reminders,
                "link_expires": iso(sent + timedelta(days=expiry_days)) if sent else None,
                "rerouted_from": by_id[r.routed_from].owner if r.routed_from in by_id else None,
            }
        )
    view.pending.sort(key=lambda p: (p["app"].casefold(), p["created"] or ""))
    for a in latest.values():
        listed = names.get(a.app_key)
        if listed is None or a.app_key in pending:
            continue
        kind = _it_kind(a, listed)
        if kind:
            view.it_requests.append(
                {
                    "kind": kind,
                    "app": a.app_name,
                    "app_key": a.app_key,
                    "requested_by": a.owner,
                    "answered": iso(a.answered),
                    "purpose": a.purpose,
                    "data_held": a.data_held,
                    "note": a.note,
                }
            )
    view.it_requests.sort(key=lambda r: (r["kind"], r["app"].casefold()))
    view.confirmations.extend(
        {
            "app": a.app_name,
            "app_key": a.app_key,
            "owner": a.owner,
            "answer": a.answer,
            "answered": iso(a.answered),
            "purpose": a.purpose,
            "data_held": a.data_held,
            "renewal": a.renewal,
            "suggested_owner": a.suggested_owner,
            "note": a.note,
            "request_id": a.request_id,
        }
        for a in answers
    )
    return view


def _state(
    app: Mapping[str, Any],
    answer: Attestation | None,
    pending: ConfirmRequest | None,
    expired: ConfirmRequest | None,
    review_cutoff: datetime,
) -> tuple[str, str | None, str | None]:
    if pending is not None:
        return ("rerouted" if pending.routed_from else "requested"), pending.owner, None
    if answer is not None:
        when = iso(answer.answered)
        if answer.answer == "mine":
            state = "confirmed" if answer.answered >= review_cutoff else "review_due"
            return state, answer.owner, when
        states = {
            "not_ours": "disowned",
            "stopped": "retire_requested",
            "sanction_request": "sanction_requested",
        }
        return states[answer.answer], answer.owner, when
    if expired is not None:
        return "no_answer", expired.owner, None
    askable = (
        app.get("is_marketing")
        and not app.get("lookalike_of")
        and app.get("sanction_status") not in ("first_party", "internal", "banned")
    )
    return ("unconfirmed" if askable else "not_applicable"), None, None


def _it_kind(a: Attestation, app: Mapping[str, Any]) -> str | None:
    if a.answer == "stopped":
        return "revoke"
    if a.answer == "sanction_request" and app.get("sanction_status") in (
        "unsanctioned",
        "tolerated",
    ):
        return "sanction_review"
    if a.answer == "not_ours":
        return "find_owner"
    return None
