"""Build the shipped scope table, ``scanner/data/scopes.csv``.

Every Microsoft Graph delegated and application permission in the lists under
``scanner/data/microsoft`` (merill/microsoft-info) gets a sensitivity level and a plain-language
meaning by the rules in ``graph_level()`` / ``graph_meaning()``, with the curated overrides in
``CURATED``; the common Google OAuth scopes and the OpenID Connect scopes are curated too (the
tables are in ``tools/scopes_curated.py``).
The scanner only reads the CSV (``scanner.analysis.risk.ScopeTable``). Regenerate after changing
the rules:

    python -m tools.build_scopes > scanner/data/scopes.csv

(``tests/test_risk.py`` checks the shipped file is what this writes.)
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from scanner.analysis.risk import DATA_DIR, GOOGLE_PREFIX, LEVELS, SCOPE_COLUMNS
from tools.scopes_curated import CURATED, GOOGLE_SCOPES, OIDC_SCOPES

GRAPH_DELEGATED_FILE = DATA_DIR / "microsoft" / "GraphDelegateRoles.csv"
GRAPH_APPLICATION_FILE = DATA_DIR / "microsoft" / "GraphAppRoles.csv"
GRAPH_SOURCE = "Microsoft Graph permission list (merill/microsoft-info)"

_WRITE_WORDS = (
    "ReadWrite",
    "Write",
    "Manage",
    "Send",
    "FullControl",
    "Create",
    "Delete",
    "Update",
    "Remove",
    "Migrate",
    "Export",
    "Upload",
    "EnableDisable",
    "Invite",
    "Assign",
)
_ADMIN_RESOURCES = frozenset(
    {
        "Directory",
        "RoleManagement",
        "RoleAssignmentSchedule",
        "RoleEligibilitySchedule",
        "Application",
        "AppRoleAssignment",
        "DelegatedPermissionGrant",
        "Policy",
        "Domain",
        "User",
        "Group",
        "GroupMember",
        "Device",
        "DeviceManagementConfiguration",
        "DeviceManagementManagedDevices",
        "DeviceManagementRBAC",
        "DeviceManagementApps",
        "DeviceManagementServiceConfig",
        "Organization",
        "PrivilegedAccess",
        "PrivilegedAssignmentSchedule",
        "PrivilegedEligibilitySchedule",
        "UserAuthenticationMethod",
        "IdentityProvider",
        "IdentityRiskyUser",
        "IdentityRiskEvent",
        "AuditLog",
        "SecurityEvents",
        "SecurityActions",
        "SecurityAlert",
        "SecurityIncident",
        "ThreatHunting",
        "Synchronization",
        "CustomSecAttributeAssignment",
        "EntitlementManagement",
        "AdministrativeUnit",
        "TeamsAppInstallation",
        "ServicePrincipalEndpoint",
        "OnPremDirectorySynchronization",
        "Tenant",
    }
)
_CONTENT_RESOURCES = frozenset(
    {
        "Mail",
        "MailboxSettings",
        "MailboxFolder",
        "MailboxItem",
        "Files",
        "Sites",
        "Notes",
        "Chat",
        "ChatMessage",
        "ChannelMessage",
        "Calendars",
        "Contacts",
        "Tasks",
        "OnlineMeetings",
        "OnlineMeetingTranscript",
        "OnlineMeetingRecording",
        "OnlineMeetingArtifact",
        "CallRecords",
        "Calls",
        "People",
        "Team",
        "TeamMember",
        "Channel",
        "ChannelMember",
        "ExternalItem",
        "eDiscovery",
        "Bookings",
        "Presence",
        "InformationProtectionPolicy",
        "Mail-Advanced",
    }
)

GOOGLE_SOURCE = "https://developers.google.com/identity/protocols/oauth2/scopes"


def _words(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", camel).lower()


_VERBS = {
    "Read": "read",
    "ReadBasic": "read basic details of",
    "ReadWrite": "read and change",
    "ReadWriteBasic": "read and change basic details of",
    "Write": "change",
    "Manage": "manage",
    "Send": "send",
    "FullControl": "fully control",
    "Create": "create",
    "Delete": "delete",
    "DeleteRestore": "delete and restore",
    "Export": "export",
    "Upload": "upload",
    "Remove": "remove",
    "ReadUpdate": "read and update",
    "EnableDisable": "enable and disable",
    "AccessAsUser": "act as the user on",
}


_LEVEL_RULES: dict[tuple[str, bool, bool], str] = {
    # (resource group, writes, organisation-wide) -> level. Writing to the directory is critical
    # at any breadth; reading people's content is high once it spans more than the user's own.
    ("admin", True, True): "critical",
    ("admin", True, False): "critical",
    ("admin", False, True): "medium",
    ("admin", False, False): "low",
    ("content", True, True): "critical",
    ("content", True, False): "high",
    ("content", False, True): "high",
    ("content", False, False): "medium",
    ("other", True, True): "high",
    ("other", True, False): "medium",
    ("other", False, True): "medium",
    ("other", False, False): "low",
}


def graph_level(value: str, application: bool) -> str:
    """Sensitivity of a Graph permission by rule (``CURATED`` overrides it)."""
    parts = value.split(".")
    resource = parts[0]
    operation = ".".join(parts[1:])
    writes = any(w in operation for w in _WRITE_WORDS) or "AccessAsUser" in operation
    broad = application or ".All" in "." + operation or "Directory" in operation
    group = (
        "admin"
        if resource in _ADMIN_RESOURCES
        else "content"
        if resource in _CONTENT_RESOURCES
        else "other"
    )
    level = _LEVEL_RULES[(group, writes, broad)]
    if "Selected" in operation or "OwnedBy" in operation or "CreatedByApp" in operation:
        level = LEVELS[max(LEVELS.index(level) - 1, 0)]
    return level


def graph_meaning(value: str, application: bool) -> str:
    """Plain words for a Graph permission name: ``Mail.ReadWrite`` -> "read and change mail..."."""
    parts = value.split(".")
    if len(parts) < 2:
        return f"use {_words(value)}"
    resource = _words(parts[0])
    verb = _VERBS.get(parts[1], _words(parts[1]))
    qualifiers = [p for p in parts[2:] if p != "All"]
    scope = "all " if "All" in parts[2:] else ""
    text = f"{verb} {scope}{resource}"
    if qualifiers:
        text += f" ({', '.join(_words(q) for q in qualifiers)})"
    who = "for the whole organisation, with no user present" if application else "as the user"
    return f"{text}, {who}"


def build_rows() -> Iterator[dict[str, str]]:
    """Rows of the shipped ``scopes.csv``: Graph by rule + CURATED, Google and OIDC curated."""
    lists = {
        "delegated": _graph_values(GRAPH_DELEGATED_FILE),
        "application": _graph_values(GRAPH_APPLICATION_FILE),
    }
    every_graph_value = set(lists["delegated"]) | set(lists["application"])
    for kind, values in lists.items():
        application = kind == "application"
        for value in values:
            yield _graph_row(value, kind, application)
        for value in sorted(set(CURATED) - set(values) - set(OIDC_SCOPES)):
            # Curated rows the list lacks for this kind; Exchange ones are other Microsoft APIs.
            provider = "microsoft_graph" if value in every_graph_value else "microsoft"
            yield _graph_row(value, kind, application, provider=provider)
    for scope, (level, meaning) in OIDC_SCOPES.items():
        yield {
            "scope": scope,
            "kind": "delegated",
            "provider": "oidc",
            "level": level,
            "meaning": meaning,
            "source": "https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims",
        }
    for scope, (level, meaning) in GOOGLE_SCOPES.items():
        full = scope if "://" in scope else GOOGLE_PREFIX + scope
        yield {
            "scope": full,
            "kind": "delegated",
            "provider": "google",
            "level": level,
            "meaning": meaning,
            "source": GOOGLE_SOURCE,
        }


def _graph_values(path: Path) -> list[str]:
    values: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            value = (row.get("Value") or "").strip()
            if value and value not in OIDC_SCOPES and value not in values:
                values.append(value)
    return values


def _graph_row(
    value: str, kind: str, application: bool, provider: str = "microsoft_graph"
) -> dict[str, str]:
    if value in CURATED:
        level, as_user, app_only = CURATED[value]
        meaning = app_only if application else as_user
        source = f"curated; {GRAPH_SOURCE}" if provider == "microsoft_graph" else "curated"
    else:
        level = graph_level(value, application)
        meaning = graph_meaning(value, application)
        source = f"rule; {GRAPH_SOURCE}"
    return {
        "scope": value,
        "kind": kind,
        "provider": provider,
        "level": level,
        "meaning": meaning,
        "source": source,
    }


def render_scopes_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SCOPE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(build_rows())
    return out.getvalue()


if __name__ == "__main__":
    sys.stdout.write(render_scopes_csv())
