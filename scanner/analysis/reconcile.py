"""Hold the inventory against the sanctioned list and raise explainable findings.

Pure functions: ``reconcile(apps, entries, context)`` returns ``Finding`` records, each with a
severity from ``SEVERITY`` (one readable table in ``detections.base``; the config's
``[policy.severity]`` overrides any row), the reasons in plain words, the evidence, and what to
do about it. The policy checks are here; consent phishing, leavers, SSO coverage and the
portfolio (spend, renewals, overlap, alternatives) are in ``scanner.analysis.detections``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta

from scanner.analysis.detections import consent, coverage, leavers, portfolio
from scanner.analysis.detections.base import SEVERITY, Context, Rule, Subject
from scanner.analysis.risk import ScopeInfo, held_permissions
from scanner.analysis.sanctions import match
from scanner.core.errors import ConfigError
from scanner.core.models import SEVERITIES, Finding, InventoryApp, SanctionEntry
from scanner.core.words import plural

__all__ = ["SEVERITY", "Context", "check_severity_overrides", "reconcile"]

BASIC_SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "offline_access",
        "User.Read",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
        "sso",
    }
)
"""Sign-in basics every SSO app asks for; never counted as over-scoping."""

REACH: dict[str, str] = {
    # What an application permission reaches with no user signed in, by its resource: Graph
    # names permissions {resource}.{operation}.{constraint}, and an application permission
    # (an app role, granted only by an administrator) applies to every user's data of that
    # resource in the tenant (https://learn.microsoft.com/en-us/graph/permissions-overview,
    # "Application permissions" and "Permissions naming pattern").
    "mail": "every mailbox",
    "mailboxsettings": "every mailbox",
    "full_access_as_app": "every mailbox",
    "calendars": "every calendar",
    "contacts": "every user's contacts",
    "files": "every user's files",
    "sites": "every SharePoint site",
    "notes": "every OneNote notebook",
    "tasks": "every user's tasks",
    "chat": "every chat",
    "chatmessage": "every chat",
    "channelmessage": "every Teams channel",
    "user": "every user",
    "group": "every group",
    "groupmember": "every group",
    "directory": "the whole directory",
    "application": "every app registration",
    "rolemanagement": "every directory role",
}
"""Permission family -> what its application form reaches; anything else: the organisation."""


def check_severity_overrides(overrides: Mapping[str, str]) -> None:
    for key, value in overrides.items():
        if key not in SEVERITY:
            raise ConfigError(
                f"policy.severity.{key}: unknown row (known: {', '.join(sorted(SEVERITY))})"
            )
        if value not in SEVERITIES:
            raise ConfigError(
                f"policy.severity.{key}: {value!r} is not one of {', '.join(SEVERITIES)}"
            )


def reconcile(
    apps: Sequence[InventoryApp], entries: Sequence[SanctionEntry], ctx: Context
) -> list[Finding]:
    findings: list[Finding] = []
    known = portfolio.peers(apps, entries)
    for app in apps:
        if app.app.first_party:
            continue
        findings.extend(_app_findings(Subject(app, match(app, entries), ctx, known)))
    return findings


def _app_findings(subject: Subject) -> Iterator[Finding]:
    for rule in _POLICY_RULES:
        yield from rule(subject)
    if subject.app.app.internal:
        return  # internal apps: recorded, never flagged beyond the policy and leavers
    for rule in _RULES:
        yield from rule(subject)


def _lookalike(s: Subject) -> Iterator[Finding]:
    app = s.app
    if app.app.lookalike_of:
        yield s.finding(
            "lookalike",
            "lookalike",
            [
                f"'{app.name}' imitates {app.app.lookalike_of} but is not published by its "
                f"vendor ({_publisher(app)})",
                *[f"{e.rule}: {e.value}" for e in app.app.evidence],
            ],
            "Treat as consent phishing: revoke its grants, block the app, and tell the "
            f"{s.users} who consented.",
            imitates=app.app.lookalike_of,
            users=len(app.users),
        )


def _banned(s: Subject) -> Iterator[Finding]:
    if s.entry is not None and s.entry.status == "banned":
        alt = portfolio.alternative_for(s)
        yield s.finding(
            "banned",
            "banned",
            [
                f"{s.app.name} is banned by the technology policy ({s.entry.origin})",
                f"{s.users} still use it or hold grants",
                *([f"policy note: {s.entry.notes}"] if s.entry.notes else []),
            ],
            "Revoke its grants and block sign-in; offer "
            + (f"{alt.app}, the approved alternative." if alt else "the sanctioned alternative."),
            users=len(s.app.users),
        )


def _unsanctioned(s: Subject) -> Iterator[Finding]:
    app = s.app
    if s.status is not None or app.app.lookalike_of:
        return
    row = "unsanctioned"
    if app.risk_level in ("critical", "high"):
        row = "unsanctioned_high_risk"
    elif app.is_marketing:
        row = "unsanctioned_marketing"
    reasons = [f"{app.name} is not on the sanctioned list", f"{s.users} {s.use} it"]
    if app.is_marketing:
        reasons.append(f"marketing tool: {app.marketing_reason}")
    if app.risk_level in ("critical", "high"):
        reasons.append(f"risk {app.risk_score}/100 ({app.risk_level})")
    yield s.finding(
        "unsanctioned",
        row,
        reasons,
        "Ask the team that uses it to request a review, then sanction, tolerate or ban it "
        "(shadowit sanction).",
        users=len(app.users),
        marketing=app.is_marketing,
    )


def _admin_consent(s: Subject) -> Iterator[Finding]:
    """Consent for the whole organisation: a delegated admin consent, or application
    (app-only) permissions, which only an administrator can grant and which reach every
    user's data with nobody signed in."""
    application = [scope for scope, app_only in _held(s.app) if app_only]
    if not (s.app.admin_consent or application) or s.status in ("sanctioned", "tolerated"):
        return
    reasons = [
        f"application permission {scope} on {_reach(scope)}, granted by an admin"
        for scope in application
    ]
    if s.app.admin_consent:
        reasons.insert(0, f"an administrator consented to {s.app.name} for the whole organisation")
    reasons.append("the app is not sanctioned")
    fix = (
        "Review the admin consent in Entra ID (Enterprise applications > Permissions) and "
        "remove it unless the app is approved."
    )
    if application:
        fix = (
            "Review the app's application permissions in Entra ID (Enterprise applications > "
            "Permissions, Admin consent) and remove them unless the app is approved; they act "
            "with no user signed in."
        )
    yield s.finding(
        "admin_consent",
        "admin_consent",
        reasons,
        fix,
        **({"application_permissions": application} if application else {}),
    )


def _risky_scopes(s: Subject) -> Iterator[Finding]:
    held = [
        (scope, app_only, s.ctx.scopes.held(scope, app_only)) for scope, app_only in _held(s.app)
    ]
    risky = [(scope, a, info) for scope, a, info in held if info.level in ("critical", "high")]
    names = list(dict.fromkeys(scope for scope, _, _ in risky))
    if not risky or (s.entry and set(names) <= set(s.entry.approved_scopes)):
        return
    worst = "critical" if any(i.level == "critical" for _, _, i in risky) else "high"
    yield s.finding(
        "risky_scopes",
        f"risky_scopes_{worst}",
        [_scope_reason(scope, app_only, info) for scope, app_only, info in risky],
        "Check the app needs this access; reduce the scopes or revoke the grants.",
        scopes=names,
    )


def _scope_reason(scope: str, app_only: bool, info: ScopeInfo) -> str:
    if app_only:
        return f"{scope} (application permission): {info.meaning} ({info.level})"
    return f"{scope}: {info.meaning} ({info.level})"


def _over_scoped(s: Subject) -> Iterator[Finding]:
    entry = s.entry
    if not (entry and entry.status in ("sanctioned", "tolerated") and entry.approved_scopes):
        return
    approved = set(entry.approved_scopes) | BASIC_SCOPES
    extra = sorted(scope for scope in s.app.scopes if scope not in approved)
    if extra:
        high = any(
            s.ctx.scopes.held(scope, app_only).level in ("critical", "high")
            for scope, app_only in _held(s.app)
            if scope in extra
        )
        yield s.finding(
            "over_scoped",
            "over_scoped_high" if high else "over_scoped",
            [f"granted beyond the approved scopes: {', '.join(extra)}"],
            f"Ask {entry.owner or 'the owner'} whether these are needed; approve them in the "
            "sanctioned list or revoke them.",
            extra_scopes=extra,
            approved=list(entry.approved_scopes),
        )


def _stale_sanction(s: Subject) -> Iterator[Finding]:
    entry = s.entry
    if entry and entry.review_by and entry.review_by < s.ctx.now.date():
        yield s.finding(
            "stale_sanction",
            "stale_sanction",
            [f"the sanction's review date {entry.review_by.isoformat()} has passed"],
            f"{entry.owner or 'The owner'} should re-review the app and set a new review_by date.",
            review_by=entry.review_by.isoformat(),
        )


def _unverified_publisher(s: Subject) -> Iterator[Finding]:
    app = s.app
    reported = s.ctx.publisher_sources.intersection(app.sources)
    if app.scopes and not app.publisher_verified and reported and not app.app.lookalike_of:
        yield s.finding(
            "unverified_publisher",
            "unverified_publisher",
            [f"{app.name} has no verified publisher in Entra ID ({_publisher(app)})"],
            "Prefer apps from verified publishers; confirm the vendor before allowing consent.",
        )


def _dormant(s: Subject) -> Iterator[Finding]:
    dormant = _dormant_since(s.app, s.ctx)
    if dormant is not None and s.ctx.sign_ins_missing.intersection(s.app.sources):
        # Sign-ins not collected: the newest one may be among those not read, so the
        # condition cannot be evaluated. An existing finding is kept as it was (the pipeline
        # protects it); none is opened on stored data alone.
        return
    if dormant is not None:
        yield s.finding(
            "dormant",
            "dormant",
            [
                f"{plural(len(s.app.users), 'grant') if s.app.users else 'some grants'} "
                f"but no sign-in since {dormant}"
                f" ({s.ctx.dormant_days}+ days)"
            ],
            "Revoke the unused grants; ask the owner if the tool is still needed.",
            last_sign_in=dormant,
        )


def _new_app(s: Subject) -> Iterator[Finding]:
    app = s.app
    if app.key in s.ctx.new_app_keys:
        yield s.finding(
            "new_app",
            "new_app_marketing" if app.is_marketing else "new_app",
            [
                f"first seen {app.first_seen.date().isoformat()} via {', '.join(app.sources)}",
                f"{s.users} {s.use} it",
            ],
            "Confirm who owns it and whether it is needed.",
        )


def _owner_unconfirmed(s: Subject) -> Iterator[Finding]:
    app = s.app
    if app.is_marketing and app.key not in s.ctx.confirmed_owners and s.status != "banned":
        likely = (s.entry.owner if s.entry else None) or app.first_user or app.top_user
        yield s.finding(
            "owner_unconfirmed",
            "owner_unconfirmed",
            [
                "no marketing owner has confirmed this tool",
                *([f"likely owner: {likely}"] if likely else []),
            ],
            "Send an ownership confirmation request (shadowit confirm send).",
            likely_owner=likely,
        )


_POLICY_RULES: tuple[Rule, ...] = (
    _lookalike,
    _banned,
    leavers.leaver_access,
    leavers.orphaned_app,
    portfolio.renewal_due,
)
"""Rules that apply to every app, internal ones included."""
_RULES: tuple[Rule, ...] = (
    _unsanctioned,
    _admin_consent,
    _risky_scopes,
    _over_scoped,
    _stale_sanction,
    _unverified_publisher,
    _dormant,
    _new_app,
    _owner_unconfirmed,
    consent.consent_phishing,
    coverage.no_sso,
    portfolio.unused_spend,
    portfolio.has_alternative,
    portfolio.overlap,
)
"""The rest, in the order their findings are listed."""


def _dormant_since(app: InventoryApp, ctx: Context) -> str | None:
    has_grants = bool(app.scopes) or any(k in ("oauth", "saml", "sso") for k in app.kinds)
    if not has_grants:
        return None
    cutoff = ctx.now - timedelta(days=ctx.dormant_days)
    last = app.last_sign_in
    if last is not None:
        return last.date().isoformat() if last < cutoff else None
    # Never seen in sign-ins: dormant once we have known it long enough.
    return "never (no sign-in recorded)" if app.first_seen < cutoff else None


def _held(app: InventoryApp) -> tuple[tuple[str, bool], ...]:
    """(scope, app_only) for each way the app holds each scope (see ``held_permissions``)."""
    consents = ((scope, consent) for scope, consent, _count in app.scope_grants)
    return held_permissions(app.scopes, consents, app.app_only)


def _reach(scope: str) -> str:
    family = scope.rsplit("/", 1)[-1].split(".", 1)[0].casefold()
    return REACH.get(family, "the whole organisation")


def _publisher(app: InventoryApp) -> str:
    return f"publisher: {app.publisher}" if app.publisher else "no publisher stated"


def days_until(day: date, now: datetime) -> int:
    return (day - now.date()).days
