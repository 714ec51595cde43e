"""What to do about an unconfirmed owner once the owner has been asked or has answered.

An ``owner_unconfirmed`` finding's remediation is written at scan time ("send an ownership
confirmation request"); a report rendered after a request went out or an answer came in says
the next step for the confirmation state instead (``scanner.analysis.confirm_view``), so
nobody is told to send a request that is already out or answered.
"""

from __future__ import annotations

import shlex

SEND = "Send an ownership confirmation request (shadowit confirm send)."
"""The advice before anyone was asked (``scanner.analysis.reconcile``)."""


def sanction_line(
    app: str,
    *,
    status: str | None = None,
    owner: str | None = None,
    review_by: str | None = None,
    config: str = "config.toml",
) -> str:
    """A copyable ``shadowit sanction`` command. App and owner names come from providers and
    from answers typed into the confirmation page, so every value is shell-quoted and the app
    comes after ``--``: a pasted line runs nothing else, and a name like ``--owner=x`` is not
    read as an option."""
    argv = ["shadowit", "sanction", "--config", config]
    for option, value in (("--status", status), ("--owner", owner), ("--review-by", review_by)):
        if value:
            argv += [option, value]
    return shlex.join([*argv, "--", app])


def owner_advice(app: str, state: str, asked: str | None) -> str | None:
    """The next step for ``app`` in confirmation ``state`` (``asked``: who was asked or
    answered); None keeps the scan's advice (nobody asked yet)."""
    who = asked or "the owner"
    command = sanction_line(app, status="sanctioned", owner=asked or "OWNER")
    advice = {
        "confirmed": f"Nothing to send: {who} confirmed it; the next scan closes this finding.",
        "review_due": (
            f"Ask {who} to confirm again: the last confirmation is older than the review "
            "period (shadowit confirm send)."
        ),
        "requested": (
            f"Wait for {who}'s answer to the request already sent; shadowit confirm send "
            "reminds them when a reminder is due."
        ),
        "rerouted": (
            f"Wait for {who}'s answer: the request was passed on to them (shadowit confirm send "
            "delivers it)."
        ),
        "no_answer": (
            f"{who} never answered the request and its reminders: ask them directly, or name "
            "the owner in the sanctioned list."
        ),
        "disowned": (
            f"{who} says it is not theirs: find the owner among its users, or revoke its grants "
            "if nobody needs it."
        ),
        "retire_requested": (
            f"{who} asks to retire it: revoke its grants and cancel any subscription."
        ),
        "sanction_requested": f"{who} asks to sanction it: review it, then run `{command}`.",
    }
    return advice.get(state)
