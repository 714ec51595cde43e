"""Leavers' leftover access: ``leaver_access`` and ``orphaned_app``.

A leaver is a person with no account in use in any directory that lists them (disabled,
suspended or deleted everywhere: ``people.Person.disabled``). Their grants and tokens outlive
the account at many vendors (a refresh token, an app-specific account), and an app whose
users, or whose owner, have all left has nobody to answer for it.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.analysis.detections.base import Subject, listed, people
from scanner.core.models import Finding


def leaver_access(s: Subject) -> Iterator[Finding]:
    app = s.app
    holders = app.disabled_holders
    if not holders:
        return
    risky = sorted(
        scope for scope in app.scopes if s.ctx.scopes.info(scope).level in ("critical", "high")
    )
    reasons = [
        f"{people(len(holders))} who left still {'holds' if len(holders) == 1 else 'hold'} "
        f"grants or tokens: {listed(holders)}",
        "their accounts are disabled, suspended or deleted in every directory, but the app's "
        "access was never revoked",
    ]
    if risky:
        reasons.append(f"that access includes {listed(risky, 3)}")
    yield s.finding(
        "leaver_access",
        "leaver_access_risky" if risky else "leaver_access",
        reasons,
        "Revoke the leavers' grants and tokens (Entra ID: Enterprise applications > "
        "Permissions; Google Admin: the user's Security > Connected applications; Okta: "
        "unassign the app), and have the app's owner move or delete the data they held.",
        leavers=list(holders),
    )


def orphaned_app(s: Subject) -> Iterator[Finding]:
    app = s.app
    # The policy's owner, else the person who confirmed owning it.
    owner = (s.entry.owner if s.entry else None) or s.ctx.confirmed_owners.get(app.key)
    owner = owner.lower() if owner else None
    owner_left = owner is not None and owner in s.ctx.leavers
    everyone_left = bool(app.users) and len(app.disabled_users) == len(app.users)
    if not (owner_left or everyone_left) or s.status == "banned":
        return
    reasons = []
    if owner_left:
        reasons.append(f"its owner, {owner}, has left")
    if everyone_left and len(app.users) == 1:
        reasons.append(f"its only user, {app.users[0]}, has left")
    elif everyone_left:
        reasons.append(f"all {len(app.users)} of its users have left: {listed(app.disabled_users)}")
    reasons.append("nobody in the organisation answers for it or its data now")
    yield s.finding(
        "orphaned_app",
        "orphaned_app",
        reasons,
        "Name a new owner (shadowit confirm send asks the fallback owner, confirm.fallback_owner, "
        "in place of a leaver), or revoke its grants and cancel it if nobody needs it.",
        owner_left=owner if owner_left else None,
        users_left=len(app.disabled_users),
    )
