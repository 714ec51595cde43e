"""Build the shipped scope table, ``scanner/data/scopes.csv``.

Every Microsoft Graph delegated and application permission in the lists under
``scanner/data/microsoft`` (merill/microsoft-info) gets a sensitivity level and a plain-language
meaning by the rules in ``graph_level()`` / ``graph_meaning()``, with the curated overrides in
``CURATED``; the common Google OAuth scopes and the OpenID Connect scopes are curated here too.
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

# Curated overrides: (level, meaning as the user / meaning app-only) for the permissions that
# matter most in consent-phishing and over-scoping; the rest follow the rules below.
CURATED: dict[str, tuple[str, str, str]] = {
    "openid": ("low", "sign the user in", "sign the user in"),
    "profile": ("low", "see the user's basic profile", "see users' basic profiles"),
    "email": ("low", "see the user's email address", "see users' email addresses"),
    "offline_access": (
        "low",
        "keep access while the user is away (refresh token)",
        "keep access while the user is away (refresh token)",
    ),
    "User.Read": (
        "low",
        "sign the user in and read their profile",
        "sign users in and read their profiles",
    ),
    "User.ReadBasic.All": (
        "low",
        "read names and emails of everyone in the directory",
        "read names and emails of everyone in the directory",
    ),
    "User.Read.All": (
        "medium",
        "read full profiles of everyone in the directory",
        "read full profiles of everyone in the directory",
    ),
    "User.ReadWrite.All": (
        "critical",
        "change the profile of any user",
        "change the profile of any user, with no user present",
    ),
    "Mail.Read": (
        "high",
        "read all of the user's mail",
        "read mail in every mailbox of the organisation",
    ),
    "Mail.ReadBasic": (
        "medium",
        "read the user's mail headers and metadata, not bodies",
        "read mail headers in every mailbox",
    ),
    "Mail.ReadBasic.All": (
        "medium",
        "read mail headers in every mailbox",
        "read mail headers in every mailbox",
    ),
    "Mail.ReadWrite": (
        "critical",
        "read, change and delete all of the user's mail",
        "read, change and delete mail in every mailbox",
    ),
    "Mail.Send": (
        "critical",
        "send mail as the user",
        "send mail as any user in the organisation",
    ),
    "Mail.Send.Shared": (
        "high",
        "send mail as the user or on behalf of mailboxes shared with them",
        "send mail from shared mailboxes",
    ),
    "Mail.Read.Shared": (
        "high",
        "read the user's mail and mailboxes shared with them",
        "read shared mailboxes",
    ),
    "Mail.ReadWrite.Shared": (
        "critical",
        "read, change and delete the user's mail and shared mailboxes",
        "read, change and delete shared mailboxes",
    ),
    "MailboxSettings.ReadWrite": (
        "high",
        "change the user's mailbox settings, including forwarding and auto-replies",
        "change mailbox settings of every user, including forwarding",
    ),
    "MailboxSettings.Read": (
        "low",
        "read the user's mailbox settings",
        "read mailbox settings of every user",
    ),
    "Files.Read": ("medium", "read the user's files", "read the user's files"),
    "Files.ReadWrite": (
        "high",
        "read, change and delete the user's files",
        "read, change and delete the user's files",
    ),
    "Files.Read.All": (
        "high",
        "read every file the user can open, including shared ones",
        "read every file in OneDrive and SharePoint",
    ),
    "Files.ReadWrite.All": (
        "critical",
        "read, change and delete every file the user can open",
        "read, change and delete every file in OneDrive and SharePoint",
    ),
    "Files.ReadWrite.AppFolder": (
        "low",
        "use its own folder in the user's OneDrive",
        "use its own folder in OneDrive",
    ),
    "Files.Read.Selected": ("low", "read files the user picks", "read files it was given"),
    "Files.ReadWrite.Selected": (
        "low",
        "read and change files the user picks",
        "read and change files it was given",
    ),
    "Sites.Read.All": (
        "high",
        "read every SharePoint site the user can open",
        "read every SharePoint site",
    ),
    "Sites.ReadWrite.All": (
        "critical",
        "read and change every SharePoint site the user can open",
        "read and change every SharePoint site",
    ),
    "Sites.Manage.All": (
        "critical",
        "create, change and delete SharePoint lists and libraries",
        "create, change and delete lists and libraries on every site",
    ),
    "Sites.FullControl.All": (
        "critical",
        "fully control every SharePoint site the user can open",
        "fully control every SharePoint site",
    ),
    "Sites.Selected": (
        "medium",
        "use SharePoint sites an admin picked",
        "use sites an admin picked",
    ),
    "Calendars.Read": (
        "medium",
        "read the user's calendar",
        "read calendars of every user",
    ),
    "Calendars.ReadWrite": (
        "high",
        "read, create and change events in the user's calendar",
        "read and change calendars of every user",
    ),
    "Contacts.Read": ("medium", "read the user's contacts", "read contacts of every user"),
    "Contacts.ReadWrite": (
        "high",
        "read and change the user's contacts",
        "read and change contacts of every user",
    ),
    "Notes.Read.All": (
        "high",
        "read every OneNote notebook the user can open",
        "read every OneNote notebook",
    ),
    "Notes.ReadWrite.All": (
        "critical",
        "read and change every OneNote notebook the user can open",
        "read and change every OneNote notebook",
    ),
    "Chat.Read": ("high", "read the user's Teams chats", "read every Teams chat"),
    "Chat.ReadWrite": (
        "high",
        "read and send the user's Teams chat messages",
        "read and send messages in every Teams chat",
    ),
    "Chat.Read.All": ("critical", "read every Teams chat", "read every Teams chat"),
    "ChannelMessage.Read.All": (
        "high",
        "read messages in every Teams channel the user is in",
        "read messages in every Teams channel",
    ),
    "Directory.Read.All": (
        "high",
        "read the whole directory: users, groups, apps and devices",
        "read the whole directory: users, groups, apps and devices",
    ),
    "Directory.ReadWrite.All": (
        "critical",
        "read and change the whole directory",
        "read and change the whole directory, with no user present",
    ),
    "Directory.AccessAsUser.All": (
        "critical",
        "do anything in the directory that the user can",
        "do anything in the directory that the user can",
    ),
    "Application.ReadWrite.All": (
        "critical",
        "create and change apps and their credentials",
        "create and change any app and its credentials (can escalate to any permission)",
    ),
    "AppRoleAssignment.ReadWrite.All": (
        "critical",
        "grant app permissions",
        "grant itself or any app any permission",
    ),
    "DelegatedPermissionGrant.ReadWrite.All": (
        "critical",
        "grant delegated permissions to apps",
        "grant any app delegated permissions for any user",
    ),
    "RoleManagement.ReadWrite.Directory": (
        "critical",
        "assign directory admin roles",
        "assign any directory admin role, including Global Administrator",
    ),
    "Group.ReadWrite.All": (
        "critical",
        "create and change groups and their content",
        "create and change every group and its content",
    ),
    "Group.Read.All": (
        "medium",
        "read groups and their content",
        "read every group and its content",
    ),
    "AuditLog.Read.All": (
        "medium",
        "read sign-in and audit logs",
        "read sign-in and audit logs",
    ),
    "People.Read": ("low", "read the people the user works with", "read people lists"),
    "Tasks.ReadWrite": (
        "medium",
        "read and change the user's tasks",
        "read and change every user's tasks",
    ),
    "EWS.AccessAsUser.All": (
        "critical",
        "use Exchange Web Services as the user: full mailbox access",
        "use Exchange Web Services as the user: full mailbox access",
    ),
    "full_access_as_app": (
        "critical",
        "full access to every mailbox through Exchange Web Services",
        "full access to every mailbox through Exchange Web Services",
    ),
    "IMAP.AccessAsUser.All": (
        "high",
        "read the user's mail over IMAP",
        "read the user's mail over IMAP",
    ),
    "POP.AccessAsUser.All": ("high", "read the user's mail over POP", "read mail over POP"),
    "SMTP.Send": ("high", "send mail as the user over SMTP", "send mail over SMTP"),
    "user_impersonation": (
        "high",
        "call the API as the user (for Azure Service Management: manage Azure resources)",
        "call the API as the user",
    ),
}

# Google OAuth scopes: https://developers.google.com/identity/protocols/oauth2/scopes
# (level, meaning). Keys without a scheme are under https://www.googleapis.com/auth/.
GOOGLE_SCOPES: dict[str, tuple[str, str]] = {
    "https://mail.google.com/": (
        "critical",
        "read, send, delete and manage all of the user's mail",
    ),
    "gmail.modify": ("critical", "read, send and change all of the user's mail (no purge)"),
    "gmail.readonly": ("high", "read all of the user's mail and settings"),
    "gmail.compose": ("high", "write drafts and send mail as the user"),
    "gmail.send": ("high", "send mail as the user"),
    "gmail.insert": ("medium", "add mail to the user's mailbox"),
    "gmail.labels": ("low", "see and change the user's mail labels"),
    "gmail.metadata": ("medium", "read mail headers and labels, not bodies"),
    "gmail.settings.basic": ("medium", "change the user's mail settings and filters"),
    "gmail.settings.sharing": (
        "critical",
        "set up mail forwarding and delegates for the user",
    ),
    "gmail.addons.current.message.readonly": ("medium", "read the message open in Gmail"),
    "gmail.addons.current.message.action": ("medium", "act on the message open in Gmail"),
    "gmail.addons.current.action.compose": ("medium", "write drafts from an add-on"),
    "drive": ("critical", "see, change, create and delete all of the user's Drive files"),
    "drive.readonly": ("high", "see and download all of the user's Drive files"),
    "drive.file": ("low", "only the Drive files the user opens or creates with the app"),
    "drive.appdata": ("low", "its own hidden settings folder in Drive"),
    "drive.appfolder": ("low", "its own folder in Drive"),
    "drive.install": ("low", "appear in Drive's Open with menu"),
    "drive.metadata": ("medium", "see and change details of all of the user's Drive files"),
    "drive.metadata.readonly": ("medium", "see names and details of all of the user's Drive files"),
    "drive.activity": ("medium", "see and add to the activity of Drive files"),
    "drive.activity.readonly": ("medium", "see the activity of Drive files"),
    "drive.photos.readonly": ("medium", "see the user's photos in Drive"),
    "drive.scripts": ("high", "change the behaviour of Apps Script scripts"),
    "documents": ("high", "see, change, create and delete all of the user's Google Docs"),
    "documents.readonly": ("medium", "see all of the user's Google Docs"),
    "spreadsheets": ("high", "see, change, create and delete all of the user's spreadsheets"),
    "spreadsheets.readonly": ("medium", "see all of the user's spreadsheets"),
    "presentations": ("high", "see, change, create and delete all of the user's Slides"),
    "presentations.readonly": ("medium", "see all of the user's Slides"),
    "forms.body": ("medium", "see and change the user's Google Forms"),
    "forms.body.readonly": ("low", "see the user's Google Forms"),
    "forms.responses.readonly": ("medium", "see responses to the user's Google Forms"),
    "calendar": ("high", "see, change, share and delete all of the user's calendars"),
    "calendar.readonly": ("medium", "see all of the user's calendars and events"),
    "calendar.events": ("high", "see and change events on all of the user's calendars"),
    "calendar.events.readonly": ("medium", "see events on all of the user's calendars"),
    "calendar.events.owned": ("medium", "see and change events on calendars the user owns"),
    "calendar.settings.readonly": ("low", "see the user's calendar settings"),
    "calendar.calendarlist.readonly": ("low", "see the list of the user's calendars"),
    "calendar.freebusy": ("low", "see when the user is free or busy"),
    "calendar.app.created": ("low", "manage calendars the app created"),
    "contacts": ("high", "see, change, download and delete the user's contacts"),
    "contacts.readonly": ("medium", "see and download the user's contacts"),
    "contacts.other.readonly": ("medium", "see people the user has emailed"),
    "directory.readonly": ("medium", "see the company directory"),
    "userinfo.email": ("low", "see the user's email address"),
    "userinfo.profile": ("low", "see the user's basic profile"),
    "plus.me": ("low", "know who the user is"),
    "tasks": ("medium", "see and change the user's tasks"),
    "tasks.readonly": ("low", "see the user's tasks"),
    "keep": ("high", "see, change and delete all of the user's Keep notes"),
    "keep.readonly": ("medium", "see all of the user's Keep notes"),
    "chat.messages": ("high", "see, send and delete the user's Chat messages"),
    "chat.messages.readonly": ("high", "see all of the user's Chat messages"),
    "chat.messages.create": ("medium", "send Chat messages as the user"),
    "chat.spaces": ("medium", "see and change the user's Chat spaces"),
    "chat.spaces.readonly": ("low", "see the user's Chat spaces"),
    "meetings.space.created": ("low", "create and manage Meet spaces"),
    "meetings.space.readonly": ("medium", "see Meet conferences, recordings and transcripts"),
    "photoslibrary.readonly": ("medium", "see the user's Google Photos"),
    "photoslibrary": ("high", "see, upload and organise the user's Google Photos"),
    "script.projects": ("high", "create and change Apps Script projects"),
    "script.external_request": ("medium", "let scripts call outside services"),
    "script.send_mail": ("high", "send mail as the user from a script"),
    "script.scriptapp": ("medium", "run scripts as the user when they are away"),
    "script.deployments": ("medium", "deploy Apps Script projects"),
    "cloud-platform": ("critical", "see, change and delete all of the user's Google Cloud data"),
    "cloud-platform.read-only": ("medium", "see the user's Google Cloud data"),
    "devstorage.full_control": ("critical", "manage Cloud Storage data and permissions"),
    "devstorage.read_only": ("medium", "read Cloud Storage data"),
    "bigquery": ("high", "see and change BigQuery data"),
    "admin.directory.user": ("critical", "create, change and delete the organisation's users"),
    "admin.directory.user.readonly": ("high", "see every user in the organisation"),
    "admin.directory.user.security": ("critical", "manage users' security settings and tokens"),
    "admin.directory.user.alias": ("high", "change user email aliases"),
    "admin.directory.group": ("critical", "create, change and delete groups and members"),
    "admin.directory.group.readonly": ("medium", "see every group and its members"),
    "admin.directory.group.member": ("high", "change group memberships"),
    "admin.directory.group.member.readonly": ("medium", "see group memberships"),
    "admin.directory.orgunit": ("high", "change organisational units"),
    "admin.directory.orgunit.readonly": ("low", "see organisational units"),
    "admin.directory.domain": ("high", "change the organisation's domains"),
    "admin.directory.domain.readonly": ("low", "see the organisation's domains"),
    "admin.directory.device.chromeos": ("high", "manage ChromeOS devices"),
    "admin.directory.device.mobile": ("high", "manage mobile devices, including wipe"),
    "admin.directory.device.mobile.action": ("high", "approve, block or wipe mobile devices"),
    "admin.directory.device.mobile.readonly": ("medium", "see mobile devices"),
    "admin.directory.rolemanagement": ("critical", "assign admin roles"),
    "admin.directory.rolemanagement.readonly": ("medium", "see admin roles"),
    "admin.directory.customer": ("high", "change the organisation's account settings"),
    "admin.directory.resource.calendar": ("medium", "manage rooms and resources"),
    "admin.directory.userschema": ("high", "change custom user attributes"),
    "admin.reports.audit.readonly": ("high", "read the organisation's audit logs"),
    "admin.reports.usage.readonly": ("medium", "read the organisation's usage reports"),
    "admin.datatransfer": ("critical", "move users' data to another account"),
    "admin.datatransfer.readonly": ("medium", "see data transfers"),
    "apps.licensing": ("high", "assign and remove Workspace licences"),
    "apps.groups.settings": ("high", "change group settings, including who can post"),
    "apps.alerts": ("medium", "see and change Workspace security alerts"),
    "ediscovery": ("critical", "search and export the organisation's Vault data"),
    "ediscovery.readonly": ("high", "see Vault matters and holds"),
    "cloud-identity.groups": ("high", "change Cloud Identity groups"),
    "cloud-identity.devices": ("high", "manage devices"),
    "youtube": ("high", "manage the YouTube account"),
    "youtube.force-ssl": ("high", "see, change and delete YouTube videos, ratings and comments"),
    "youtube.readonly": ("medium", "see the YouTube account"),
    "youtube.upload": ("medium", "upload YouTube videos"),
    "youtubepartner": ("high", "manage YouTube assets and content"),
    "yt-analytics.readonly": ("low", "see YouTube analytics reports"),
    "adwords": ("high", "see, change and create Google Ads campaigns and spend"),
    "analytics": ("medium", "see and change Google Analytics data"),
    "analytics.readonly": ("medium", "see Google Analytics data"),
    "analytics.edit": ("high", "change Google Analytics properties"),
    "analytics.manage.users": ("high", "manage who can use Google Analytics"),
    "analytics.manage.users.readonly": ("low", "see Google Analytics users"),
    "webmasters": ("medium", "see and change Search Console data"),
    "webmasters.readonly": ("low", "see Search Console data"),
    "content": ("high", "manage Merchant Center product data"),
    "dfp": ("high", "manage Ad Manager"),
    "dfareporting": ("medium", "see and change Campaign Manager reports"),
    "doubleclicksearch": ("medium", "see and change Search Ads 360 data"),
    "tagmanager.edit.containers": ("high", "change Tag Manager containers (runs code on the site)"),
    "tagmanager.publish": ("high", "publish Tag Manager containers (runs code on the site)"),
    "tagmanager.readonly": ("low", "see Tag Manager containers"),
    "business.manage": ("medium", "manage Google Business Profile listings"),
    "classroom.courses": ("medium", "manage Classroom classes"),
    "classroom.rosters.readonly": ("medium", "see Classroom rosters"),
    "androidpublisher": ("high", "manage apps in Google Play"),
}
OIDC_SCOPES: dict[str, tuple[str, str]] = {
    "openid": ("low", "sign the user in"),
    "email": ("low", "see the user's email address"),
    "profile": ("low", "see the user's basic profile"),
}
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
