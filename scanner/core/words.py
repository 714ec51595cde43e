"""Words, not codes: what a person reads for each code the store and the model keep.

One table for every place a person reads (the HTML report, the console, emails,
notifications); the codes stay in report.json, the CSVs' code columns and the store.
``label(topic, code)`` falls back to the code with spaces, so a new code never shows an
underscore; ``plural(n, "app")`` says "1 app", "2 apps".
"""

from __future__ import annotations

from collections.abc import Mapping

FINDING_KINDS: Mapping[str, str] = {
    "unsanctioned": "unsanctioned",
    "over_scoped": "more access than approved",
    "risky_scopes": "risky permissions",
    "admin_consent": "consented for everyone",
    "dormant": "unused for a long time",
    "stale_sanction": "sanction review overdue",
    "lookalike": "lookalike app",
    "unverified_publisher": "unverified publisher",
    "new_app": "new app",
    "owner_unconfirmed": "owner not confirmed",
    "banned": "banned app",
    "consent_phishing": "possible consent phishing",
    "leaver_access": "leavers still hold access",
    "orphaned_app": "no owner or user left",
    "no_sso": "outside SSO",
    "unused_spend": "paid for but unused",
    "renewal_due": "renewal coming up",
    "overlap": "several tools for one job",
    "has_alternative": "an approved alternative exists",
}

CONFIRMATION_STATES: Mapping[str, str] = {
    "confirmed": "confirmed",
    "review_due": "confirmation due again",
    "requested": "asked, no answer yet",
    "rerouted": "passed on to another owner",
    "no_answer": "asked, never answered",
    "disowned": "owner says not theirs",
    "retire_requested": "owner asks to retire it",
    "sanction_requested": "owner asks to sanction it",
    "unconfirmed": "not asked yet",
    "not_applicable": "no confirmation needed",
}

SANCTION_STATUSES: Mapping[str, str] = {
    "sanctioned": "sanctioned",
    "tolerated": "tolerated",
    "banned": "banned",
    "unsanctioned": "not sanctioned",
    "first_party": "the provider's own app",
    "internal": "built in-house",
}

FINDING_STATUSES: Mapping[str, str] = {
    "open": "open",
    "acknowledged": "acknowledged",
    "accepted": "risk accepted",
    "resolved": "resolved",
}

ACCESS: Mapping[str, str] = {
    "oauth": "holds permissions",
    "sso": "signed in through SSO",
    "sso_only": "seen only in sign-in logs",
    "listed_only": "listed, no permissions",
    "spend_only": "seen only in expenses",
    "usage_only": "seen only in usage files",
    "files_only": "seen only in imported files",
}

ANSWERS: Mapping[str, str] = {
    # An owner's answer on the confirmation page (scanner.analysis.confirm.ANSWERS), as the
    # page's buttons say it.
    "mine": "Yes, my team owns it",
    "not_ours": "Not ours",
    "stopped": "We stopped using it",
    "sanction_request": "Please sanction it",
}

IT_REQUESTS: Mapping[str, str] = {
    "revoke": "revoke access",
    "sanction_review": "review to sanction",
    "sanction": "review to sanction",
    "find_owner": "find the owner",
}
"""What an owner's answer asks of IT (``scanner.analysis.confirm_view``)."""

OWNER_SOURCES: Mapping[str, str] = {
    "confirmed": "confirmed by the owner",
    "policy": "from the sanctioned list",
    "suggested": "suggested (the first or most active user; not confirmed)",
}
"""Where the owner a report shows comes from (``reports.ownership``)."""

TOPICS: Mapping[str, Mapping[str, str]] = {
    "finding_kind": FINDING_KINDS,
    "confirmation": CONFIRMATION_STATES,
    "sanction": SANCTION_STATUSES,
    "finding_status": FINDING_STATUSES,
    "access": ACCESS,
    "answer": ANSWERS,
    "it_request": IT_REQUESTS,
    "owner_source": OWNER_SOURCES,
}


def label(topic: str, code: str | None) -> str:
    """The words for ``code`` in ``topic`` (a key of ``TOPICS``); unknown codes read with
    spaces for underscores, None reads as an empty string."""
    if code is None:
        return ""
    return TOPICS[topic].get(code, code.replace("_", " "))


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 app``, ``2 apps``, ``0 apps``; ``many`` for irregular nouns (``person``/``people``)."""
    return f"{count:,} {noun if count == 1 else (many or noun + 's')}"
