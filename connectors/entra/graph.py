"""What the connector asks of Microsoft Graph: permissions, fields, page sizes, audit activities,
and how Graph words its errors."""

from __future__ import annotations

from scanner.net.http import HttpStatusError

# Least-privileged application permissions per collection (each Graph API page lists them,
# e.g. https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list).
USER_READ = "User.Read.All"
APPLICATION_READ = "Application.Read.All"
DIRECTORY_READ = "Directory.Read.All"
AUDIT_READ = "AuditLog.Read.All"

# Tenants that own Microsoft's first-party apps (appOwnerOrganizationId); their service
# principals hold no third-party app permissions worth listing.
MICROSOFT_TENANTS = frozenset(
    {"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"}
)
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"
"""appRoleId of an assignment without a role ("default access"), not a permission."""

# $select trimmed to the fields we use. Users: department, userType and accountEnabled are
# "returned only on $select" (https://learn.microsoft.com/en-us/graph/api/user-list).
# otherMails and proxyAddresses name the same person ("SMTP:" the primary address, "smtp:" the
# others): https://learn.microsoft.com/en-us/graph/api/resources/user
USER_FIELDS = (
    "id,userPrincipalName,mail,displayName,department,jobTitle,accountEnabled,userType,"
    "otherMails,proxyAddresses"
)
SP_FIELDS = (
    "id,appId,displayName,appDisplayName,publisherName,verifiedPublisher,"
    "appOwnerOrganizationId,servicePrincipalType,homepage,info,replyUrls,tags,accountEnabled,"
    "preferredSingleSignOnMode"
)
SP_INDEX_FIELDS = "id,appId,displayName,appOwnerOrganizationId,servicePrincipalType"
# Largest pages: users and servicePrincipals 999 (default 100); signIns 1,000
# (https://learn.microsoft.com/en-us/graph/api/user-list,
# https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list,
# https://learn.microsoft.com/en-us/graph/api/signin-list). oauth2PermissionGrants "supports the
# OData query parameters" (https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-list)
# and the beta activity report "$top, $filter and $orderby"
# (https://learn.microsoft.com/en-us/graph/api/reportroot-list-serviceprincipalsigninactivities),
# neither with a documented maximum; directory reads reject a $top above 999 ("must be between 1
# and 999 inclusive"), so both ask for 999 instead of the default page of 100. A report that
# refuses it answers 400, which becomes a warning for that stream. appRoleAssignments and
# directoryAudits pages are usually one page per app or per night, so we leave their size to Graph.
DIRECTORY_PAGE = 999
ACTIVITY_PAGE = 999
SIGNIN_PAGE = 1000
CONSENT_ACTIVITY = "Consent to application"
GRANT_ACTIVITIES = (
    "Add delegated permission grant",
    "Remove delegated permission grant",
    "Add app role assignment to service principal",
    "Remove app role assignment from service principal",
)
"""Audit activities that change an app's grants (category ApplicationManagement, service Core
Directory: https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-audit-activities).
The grant and app-role events name the resource (e.g. Microsoft Graph) as the target and the
client in the ``ServicePrincipal.ObjectID`` modified property."""


def _graph_error(err: HttpStatusError) -> tuple[str, str]:
    """``(code, message)`` of a Graph error body (``{"error": {"code", "message"}}``)."""
    body = err.body if isinstance(err.body, dict) else {}
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    return str(error.get("code") or ""), str(error.get("message") or "")


def _expired_delta(err: HttpStatusError) -> str | None:
    """The error code when a stored delta link has expired (syncStateNotFound, resyncRequired).

    https://learn.microsoft.com/en-us/graph/delta-query-overview
    """
    code, _message = _graph_error(err)
    if err.status in (400, 410) and "sync" in code.lower():
        return code
    return None
