"""What the catalog says about an app's vendor, as lines for the report and the risk score.

The facts come from the catalog entry (``scanner/data/catalog.csv``), each with the source it
cites: the second-factor methods the vendor offers (2factorauth/twofactorauth), whether SSO costs
extra (robchahin/sso-wall-of-shame) and whether the app is a generative-AI tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scanner.analysis.catalog import AI_CATEGORIES
from scanner.core.models import CatalogEntry

VendorFact = tuple[str, str, str]
"""(fact, what it says, source): ``("mfa", "offers TOTP, SMS", "2factorauth/...")``. Facts:
``mfa``, ``no_mfa``, ``sso``, ``sso_paid``, ``ai``."""

_METHOD_NAMES = {
    "totp": "authenticator app (TOTP)",
    "sms": "SMS",
    "call": "phone call",
    "email": "email code",
    "u2f": "security key (U2F/WebAuthn)",
    "custom-software": "the vendor's own app",
    "custom-hardware": "the vendor's own token",
}

DATA_SCOPE_RE = re.compile(
    r"^(?:https://graph\.microsoft\.com/)?(?:mail|files|sites|notes)\."
    r"|^https://mail\.google\.com/|^https://www\.googleapis\.com/auth/(?:gmail|drive)",
    re.IGNORECASE,
)
"""Scopes that reach mail or files: Graph ``Mail.*``, ``Files.*``, ``Sites.*``, ``Notes.*``;
Google ``mail.google.com``, ``gmail.*``, ``drive*``. Not ``email`` (the address only)."""


def vendor_facts(entry: CatalogEntry | None) -> tuple[VendorFact, ...]:
    """The catalog's facts about ``entry``'s vendor, each with its source; () when unknown."""
    if entry is None:
        return ()
    facts: list[VendorFact] = []
    docs = f"; {entry.mfa_docs}" if entry.mfa_docs else ""
    if entry.mfa == ("none",):
        facts.append(("no_mfa", "the vendor offers no second factor", entry.mfa_source or ""))
    elif entry.mfa:
        methods = ", ".join(_METHOD_NAMES.get(m, m) for m in entry.mfa)
        facts.append(("mfa", f"offers {methods}{docs}", entry.mfa_source or ""))
    if entry.sso == "paid":
        facts.append(("sso_paid", entry.sso_note or "SSO costs extra", entry.sso_source or ""))
    elif entry.sso in ("yes", "no"):
        what = "offers SSO" if entry.sso == "yes" else "offers no SSO"
        note = f": {entry.sso_note}" if entry.sso_note else ""
        facts.append(("sso", f"{what}{note}", entry.sso_source or entry.source))
    if entry.category in AI_CATEGORIES:
        facts.append(("ai", f"generative-AI tool ({entry.category})", entry.source))
    return tuple(facts)


def data_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes among ``scopes`` that read or write mail or files."""
    return sorted(s for s in scopes if DATA_SCOPE_RE.match(s.strip()))
