"""Hold the inventory against the sanctioned list and raise explainable findings.

Pure functions: ``reconcile(apps, entries, context)`` returns ``Finding`` records, each with a
severity from ``SEVERITY`` (one readable table; the config's ``[policy.severity]`` overrides
any row), the reasons in plain words, the evidence, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from scanner.analysis.risk import ScopeTable
from scanner.analysis.sanctions import match
from scanner.core.errors import ConfigError
from scanner.core.models import SEVERITIES, Finding, InventoryApp, SanctionEntry, Severity

SEVERITY: dict[str, Severity] = {
    # kind (and variant)            severity
    "banned": "critical",
    "lookalike": "critical",
    "admin_consent": "high",
    "unsanctioned_high_risk": "high",
    "unsanctioned_marketing": "medium",
    "unsanctioned": "low",
    "risky_scopes_critical": "high",
    "risky_scopes_high": "medium",
    "over_scoped_high": "high",
    "over_scoped": "medium",
    "unverified_publisher": "medium",
    "stale_sanction": "medium",
    "dormant": "low",
    "new_app_marketing": "low",
    "new_app": "info",
    "owner_unconfirmed": "low",
}

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


@dataclass(frozen=True)
class Context:
    now: datetime
    scopes: ScopeTable
    dormant_days: int = 90
    new_app_keys: frozenset[str] = frozenset()
    confirmed_owners: Mapping[str, str] = field(default_factory=dict)
    severity: Mapping[str, str] = field(default_factory=dict)

    def level(self, row: str) -> Severity:
        value = self.severity.get(row) or SEVERITY[row]
        return value  # type: ignore[return-value]


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
    for app in apps:
        if app.app.first_party:
            continue
        findings.extend(_app_findings(app, match(app, entries), ctx))
    return findings


def _app_findings(
    app: InventoryApp, entry: SanctionEntry | None, ctx: Context
) -> Iterator[Finding]:
    def finding(kind: str, row: str, reasons: list[str], fix: str, **evidence: object) -> Finding:
        return Finding(app.key, app.name, kind, ctx.level(row), tuple(reasons), fix, dict(evidence))

    users = _people(len(app.users))
    status = entry.status if entry else None

    if app.app.lookalike_of:
        yield finding(
            "lookalike",
            "lookalike",
            [
                f"'{app.name}' imitates {app.app.lookalike_of} but is not published by its "
                f"vendor ({_publisher(app)})",
                *[f"{e.rule}: {e.value}" for e in app.app.evidence],
            ],
            "Treat as consent phishing: revoke its grants, block the app, and tell the "
            f"{users} who consented.",
            imitates=app.app.lookalike_of,
            users=len(app.users),
        )

    if status == "banned":
        assert entry is not None
        yield finding(
            "banned",
            "banned",
            [
                f"{app.name} is banned by the technology policy ({entry.origin})",
                f"{users} still use it or hold grants",
                *([f"policy note: {entry.notes}"] if entry.notes else []),
            ],
            "Revoke its grants and block sign-in; offer the sanctioned alternative.",
            users=len(app.users),
        )

    if app.app.internal:
        return

    risky = [(s, ctx.scopes.info(s)) for s in app.scopes]
    risky = [(s, info) for s, info in risky if info.level in ("critical", "high")]

    if status is None and not app.app.lookalike_of:
        row = "unsanctioned"
        if app.risk_level in ("critical", "high"):
            row = "unsanctioned_high_risk"
        elif app.is_marketing:
            row = "unsanctioned_marketing"
        reasons = [
            f"{app.name} is not on the sanctioned list",
            f"{users} {'uses' if len(app.users) == 1 else 'use'} it",
        ]
        if app.is_marketing:
            reasons.append(f"marketing tool: {app.marketing_reason}")
        if app.risk_level in ("critical", "high"):
            reasons.append(f"risk {app.risk_score}/100 ({app.risk_level})")
        yield finding(
            "unsanctioned",
            row,
            reasons,
            "Ask the team that uses it to request a review, then sanction, tolerate or ban it "
            "(shadowit sanction).",
            users=len(app.users),
            marketing=app.is_marketing,
        )

    if app.admin_consent and status not in ("sanctioned", "tolerated"):
        yield finding(
            "admin_consent",
            "admin_consent",
            [
                f"an administrator consented to {app.name} for the whole organisation",
                "the app is not sanctioned",
            ],
            "Review the admin consent in Entra ID (Enterprise applications > Permissions) and "
            "remove it unless the app is approved.",
        )

    if risky and not (entry and set(s for s, _ in risky) <= set(entry.approved_scopes)):
        worst = "critical" if any(i.level == "critical" for _, i in risky) else "high"
        yield finding(
            "risky_scopes",
            f"risky_scopes_{worst}",
            [f"{s}: {info.meaning} ({info.level})" for s, info in risky],
            "Check the app needs this access; reduce the scopes or revoke the grants.",
            scopes=[s for s, _ in risky],
        )

    if entry and entry.status in ("sanctioned", "tolerated") and entry.approved_scopes:
        approved = set(entry.approved_scopes) | BASIC_SCOPES
        extra = sorted(s for s in app.scopes if s not in approved)
        if extra:
            high = any(ctx.scopes.info(s).level in ("critical", "high") for s in extra)
            yield finding(
                "over_scoped",
                "over_scoped_high" if high else "over_scoped",
                [f"granted beyond the approved scopes: {', '.join(extra)}"],
                f"Ask {entry.owner or 'the owner'} whether these are needed; approve them in the "
                "sanctioned list or revoke them.",
                extra_scopes=extra,
                approved=list(entry.approved_scopes),
            )

    if entry and entry.review_by and entry.review_by < ctx.now.date():
        yield finding(
            "stale_sanction",
            "stale_sanction",
            [f"the sanction's review date {entry.review_by.isoformat()} has passed"],
            f"{entry.owner or 'The owner'} should re-review the app and set a new review_by date.",
            review_by=entry.review_by.isoformat(),
        )

    if (
        app.scopes
        and not app.publisher_verified
        and "entra" in app.sources
        and not app.app.lookalike_of
    ):
        yield finding(
            "unverified_publisher",
            "unverified_publisher",
            [f"{app.name} has no verified publisher in Entra ID ({_publisher(app)})"],
            "Prefer apps from verified publishers; confirm the vendor before allowing consent.",
        )

    dormant = _dormant_since(app, ctx)
    if dormant is not None:
        yield finding(
            "dormant",
            "dormant",
            [
                f"{len(app.users) or 'some'} grant(s) but no sign-in since {dormant}"
                f" ({ctx.dormant_days}+ days)"
            ],
            "Revoke the unused grants; ask the owner if the tool is still needed.",
            last_sign_in=dormant,
        )

    if app.key in ctx.new_app_keys:
        yield finding(
            "new_app",
            "new_app_marketing" if app.is_marketing else "new_app",
            [
                f"first seen {app.first_seen.date().isoformat()} via {', '.join(app.sources)}",
                f"{users} {'uses' if len(app.users) == 1 else 'use'} it",
            ],
            "Confirm who owns it and whether it is needed.",
        )

    if app.is_marketing and app.key not in ctx.confirmed_owners and status != "banned":
        likely = (entry.owner if entry else None) or app.first_user or app.top_user
        yield finding(
            "owner_unconfirmed",
            "owner_unconfirmed",
            [
                "no marketing owner has confirmed this tool",
                *([f"likely owner: {likely}"] if likely else []),
            ],
            "Send an ownership confirmation request (shadowit confirm send).",
            likely_owner=likely,
        )


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


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _publisher(app: InventoryApp) -> str:
    return f"publisher: {app.publisher}" if app.publisher else "no publisher stated"


def days_until(day: date, now: datetime) -> int:
    return (day - now.date()).days
