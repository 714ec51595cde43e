"""``no_sso``: an app the company adopted that people do not sign in to through its IdP.

An app is behind SSO when an identity provider fronts it: a SAML, OIDC or password-SSO app in
Entra ID or Okta (every Okta app), a SAML app Google signs people in to, or sign-ins into it in
an IdP's sign-in log (Entra sign-ins, Okta SSO events, Google SAML events): ``InventoryApp.sso``.
One reached only through OAuth consent, expense lines or usage exports has its own accounts:
disabling a leaver in the directory does not end their access. Only sanctioned and tolerated
apps are judged: an unsanctioned one has its own finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.analysis.detections.base import Subject
from scanner.core.models import Finding

_HOW = {
    "grant": "OAuth consent",
    "expense": "expense lines",
    "usage": "usage exports",
    "sign_in": "sign-ins",
    "listing": "an app listing",
    "activity": "the app's last-use report",
    "assignment": "app assignments",
}


def no_sso(s: Subject) -> Iterator[Finding]:
    app = s.app
    if s.status not in ("sanctioned", "tolerated") or app.sso:
        return
    if not app.users and not app.spend:
        return  # nobody uses or pays for it: nothing to put behind SSO yet
    seen = sorted({_HOW.get(kind, kind) for _source, kind, _n in app.evidence})
    yield s.finding(
        "no_sso",
        "no_sso",
        [
            f"{app.name} is {s.status} but no SAML or OIDC app for it exists in Entra ID or "
            "Okta, and no identity provider's sign-in log shows people signing in to it",
            f"seen through {', '.join(seen) or 'its listing only'}; {s.users} {s.use} it",
            "people sign in with the vendor's own accounts, so disabling a leaver in the "
            "directory does not end their access",
        ],
        "Set up SAML or OIDC single sign-on for it in Entra ID or Okta (the vendor's SSO plan "
        "may cost extra), then turn off password sign-in at the vendor.",
        seen_through=seen,
    )
