"""Spend and renewals, overlap, and the approved alternative: the portfolio questions.

``unused_spend``: expense lines paid to an app nobody signed in to in the period.
``renewal_due``: a contract's notice deadline (``renewal_date`` less ``notice_days`` in the
sanctioned list) is close or has passed. ``overlap`` (info): several tools of one catalog
category are in use. ``has_alternative``: the policy names a sanctioned app as the approved
alternative (``alternative_of``) to this app or its category.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from scanner.analysis.detections.base import Peers, Subject, listed
from scanner.analysis.text import normalise_name
from scanner.core.models import Finding, InventoryApp, SanctionEntry


def peers(apps: Iterable[InventoryApp], entries: Sequence[SanctionEntry]) -> Peers:
    """The cross-app facts of a run: apps in use per category, alternatives per name."""
    banned = {normalise_name(e.app) for e in entries if e.status == "banned"}
    in_use: dict[str, list[str]] = {}
    for app in apps:
        third_party = not (app.app.first_party or app.app.internal or app.app.lookalike_of)
        if (
            third_party
            and app.users
            and app.app.category
            and normalise_name(app.name) not in banned
        ):
            in_use.setdefault(app.app.category, []).append(app.name)
    alternatives: dict[str, SanctionEntry] = {}
    for entry in entries:
        if entry.status == "sanctioned":
            for target in entry.alternative_of:
                alternatives.setdefault(normalise_name(target), entry)
    return Peers({c: tuple(sorted(n)) for c, n in in_use.items()}, alternatives)


def spend_text(app: InventoryApp) -> str:
    rows = app.spend_by_currency or ((app.spend_currency or "?", app.spend),)
    return " + ".join(f"{total:,.2f} {currency}" for currency, total in rows)


def unused_spend(s: Subject) -> Iterator[Finding]:
    app = s.app
    if app.spend <= 0 or s.ctx.sign_ins_missing.intersection(app.sources):
        return  # sign-ins not collected: "unused" cannot be told from "not read"
    cutoff = s.ctx.now - timedelta(days=s.ctx.dormant_days)
    if app.last_sign_in is not None and app.last_sign_in >= cutoff:
        return
    since = app.last_sign_in.date().isoformat() if app.last_sign_in else None
    yield s.finding(
        "unused_spend",
        "unused_spend",
        [
            f"{spend_text(app)} paid in expense lines",
            f"no sign-in, SSO or usage event in the last {s.ctx.dormant_days} days"
            + (f" (last {since})" if since else " (none recorded)"),
        ],
        "Ask whoever pays for it whether it is still needed; cancel the subscription or "
        "move its users to a tool the company already pays for.",
        spend=spend_text(app),
        last_sign_in=since,
    )


def renewal_due(s: Subject) -> Iterator[Finding]:
    entry = s.entry
    if entry is None or entry.renewal_date is None or entry.status == "banned":
        return
    today = s.ctx.now.date()
    notice = entry.notice_days or 0
    deadline = entry.renewal_date - timedelta(days=notice)
    cost = (
        f" at {entry.annual_cost:,.2f} {entry.cost_currency or ''} a year".rstrip()
        if entry.annual_cost is not None
        else ""
    )
    if entry.renewal_date < today:
        reasons = [f"the renewal date {entry.renewal_date.isoformat()} has passed"]
        fix = "Record the next renewal_date (and notice_days) in the sanctioned list."
        row = "renewal_due"
    elif (deadline - today).days <= s.ctx.renewal_window_days:
        reasons = [f"{s.app.name} renews on {entry.renewal_date.isoformat()}{cost}"]
        if notice:
            passed = deadline < today
            reasons.append(
                f"notice of {notice} days {'was' if passed else 'is'} due by {deadline.isoformat()}"
            )
        row = "renewal_due_notice_passed" if deadline < today else "renewal_due"
        fix = (
            f"{entry.owner or 'The owner'} should decide before {deadline.isoformat()} whether "
            "to renew, resize or cancel it (check its users and spend in this report)."
        )
    else:
        return
    yield s.finding(
        "renewal_due",
        row,
        reasons,
        fix,
        renewal_date=entry.renewal_date.isoformat(),
        notice_by=deadline.isoformat(),
        annual_cost=entry.annual_cost,
    )


def overlap(s: Subject) -> Iterator[Finding]:
    category = s.app.app.category
    if not category or not s.app.users or s.status == "banned":
        return
    tools = s.peers.in_use_by_category.get(category, ())
    if len(tools) < max(s.ctx.overlap_min_tools, 2) or s.app.name not in tools:
        return
    yield s.finding(
        "overlap",
        "overlap",
        [
            f"{len(tools)} {category.replace('_', ' ')} tools are in use: {listed(tools)}",
            f"{s.users} {s.use} {s.app.name}",
        ],
        "Consider consolidating on one of them; the sanctioned list can name it the approved "
        "alternative (alternative_of) so people are pointed to it.",
        category=category,
        tools=list(tools),
    )


def alternative_for(s: Subject) -> SanctionEntry | None:
    names = [s.app.name, *s.app.raw_names]
    keys = [normalise_name(n) for n in names]
    if s.app.app.category:
        keys.append(normalise_name(s.app.app.category))
    own = {normalise_name(n) for n in names}
    for key in keys:
        entry = s.peers.alternatives.get(key)
        if entry is not None and normalise_name(entry.app) not in own:
            return entry
    return None


def has_alternative(s: Subject) -> Iterator[Finding]:
    if s.status is not None or not s.app.users:
        return  # a banned app's finding names the alternative itself
    entry = alternative_for(s)
    if entry is None:
        return
    purpose = f" ({entry.purpose})" if entry.purpose else ""
    yield s.finding(
        "has_alternative",
        "has_alternative",
        [
            f"the policy names {entry.app}{purpose} as the approved tool in place of "
            f"{s.app.name} ({entry.origin or 'sanctioned list'})",
            f"{s.users} {s.use} {s.app.name}",
        ],
        f"Ask its users to use {entry.app}"
        + (f" (owner {entry.owner})" if entry.owner else "")
        + f", move their data, then revoke {s.app.name}'s grants.",
        alternative=entry.app,
        alternative_owner=entry.owner,
    )
