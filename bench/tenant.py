"""A deterministic, seeded, lazy synthetic Entra tenant for the benchmark.

Nothing here holds the tenant in memory: every collection is a ``Lazy`` sequence that builds
item ``i`` from ``(seed, i)`` when asked, in Microsoft Graph's documented shapes
(https://learn.microsoft.com/en-us/graph/api/resources/user,
https://learn.microsoft.com/en-us/graph/api/resources/serviceprincipal,
https://learn.microsoft.com/en-us/graph/api/resources/oauth2permissiongrant,
https://learn.microsoft.com/en-us/graph/api/resources/approleassignment,
https://learn.microsoft.com/en-us/graph/api/resources/signin). The same seed always gives the
same tenant, so two runs of the benchmark measure the same work.

Sign-ins are ordered newest first (as Graph lists them) and evenly spaced in time, so a
``createdDateTime ge X`` filter is a binary search on the index, and ``grow_signins()`` adds
1 % newer events for the incremental scan without touching the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from bench.signin_shape import full_signin

MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
"""appOwnerOrganizationId of Microsoft's first-party apps."""
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
"""Microsoft Graph's well-known appId: the resource of delegated grants."""
GRAPH_ROLES = (
    ("df021288-bdef-4463-88db-98f22de89214", "User.Read.All"),
    ("810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Mail.Read"),
    ("75359482-378d-4052-8f01-80520e7db3cd", "Files.ReadWrite.All"),
    ("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All"),
)
DELEGATED_SCOPES = (
    "openid profile email offline_access",
    "User.Read",
    "User.Read Mail.Read",
    "openid profile email User.Read Calendars.Read",
    "Files.ReadWrite.All offline_access",
    "Mail.ReadWrite Mail.Send",
)
DEPARTMENTS = ("Marketing", "Sales", "Engineering", "Finance", "People", "Support", "Legal")
VENDORS = (
    "Acme Analytics",
    "Brightwave",
    "Cloudnote",
    "Dataloom",
    "Everpath",
    "Flowmatic",
    "Gridly",
    "Hivecast",
)
LOOKBACK = timedelta(days=29)
"""Sign-ins span the last 29 days: inside the connector's 30-day first-scan look-back."""
GROWTH = 0.01
"""The incremental scan sees 1 % new sign-ins."""


@dataclass(frozen=True)
class Size:
    """How big a tenant is."""

    name: str
    users: int
    apps: int
    grants: int
    signins: int
    assigned_share: float = 0.2
    """Share of third-party service principals holding application permissions."""


SIZES = {
    "small": Size("small", users=500, apps=100, grants=1_500, signins=10_000),
    "medium": Size("medium", users=10_000, apps=1_000, grants=30_000, signins=200_000),
    "large": Size("large", users=100_000, apps=5_000, grants=300_000, signins=1_000_000),
}


def mix(seed: int, index: int, salt: int = 0) -> int:
    """A 64-bit hash of (seed, index, salt): splitmix64, so item i never depends on item i-1."""
    z = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + salt * 0x94D049BB133111EB) & (
        (1 << 64) - 1
    )
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    return z ^ (z >> 31)


def guid(seed: int, kind: int, index: int) -> str:
    """A stable GUID for item ``index`` of collection ``kind``; ``parse_guid`` inverts it."""
    head = mix(seed, index, kind) & 0xFFFFFFFF
    return f"{head:08x}-{kind:04x}-4{seed % 0xFFF:03x}-8000-{index:012x}"


def parse_guid(value: str, kind: int) -> int | None:
    """The index of a GUID made by ``guid(seed, kind, i)``, or None if it is not one."""
    parts = value.split("-")
    if len(parts) != 5 or parts[1] != f"{kind:04x}":
        return None
    try:
        return int(parts[4], 16)
    except ValueError:
        return None


class Lazy(Sequence[dict[str, Any]]):
    """A read-only sequence of ``length`` items made on demand by ``make(i)``."""

    def __init__(self, length: int, make: Callable[[int], dict[str, Any]]) -> None:
        self._length = length
        self._make = make

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._make(i) for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._make(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._make(i) for i in range(self._length))


USER, SP, APP, GRANT, ASSIGN, SIGNIN, CORRELATION = 1, 2, 3, 4, 5, 6, 7


@dataclass
class EntraTenant:
    """One seeded tenant; collections are views built from the seed, item by item."""

    size: Size
    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    signins_visible: int = 0
    """Sign-ins the provider shows now (``size.signins``, then more after ``grow_signins``)."""

    def __post_init__(self) -> None:
        self.signins_visible = self.signins_visible or self.size.signins
        total = int(self.size.signins * (1 + GROWTH)) + 1
        self._start = self.now - LOOKBACK
        # Spread base + growth evenly up to five minutes before now: the first scan sees the
        # oldest ``size.signins``, the second also the newest 1 %.
        self._step = (LOOKBACK - timedelta(minutes=5)).total_seconds() / total

    # -- sizes ------------------------------------------------------------------------------
    @property
    def third_party(self) -> int:
        """Service principals 1..apps are third-party; 0 is Microsoft Graph, then first-party."""
        return self.size.apps

    @property
    def first_party(self) -> int:
        return max(5, self.size.apps // 10)

    @property
    def service_principal_count(self) -> int:
        return 1 + self.third_party + self.first_party

    def grow_signins(self) -> int:
        """Show 1 % more (newer) sign-ins; return how many were added."""
        before = self.signins_visible
        self.signins_visible = int(self.size.signins * (1 + GROWTH))
        return self.signins_visible - before

    # -- collections ------------------------------------------------------------------------
    def users(self) -> Lazy:
        return Lazy(self.size.users, self.user)

    def service_principals(self) -> Lazy:
        return Lazy(self.service_principal_count, self.service_principal)

    def grants(self) -> Lazy:
        return Lazy(self.size.grants, self.grant)

    def signins(self) -> Lazy:
        """Newest first: index 0 is the newest visible event."""
        visible = self.signins_visible
        return Lazy(visible, lambda i: self.signin(visible - 1 - i))

    def signins_since(self, since: datetime | None) -> Lazy:
        """The visible sign-ins with ``createdDateTime >= since``, newest first."""
        visible = self.signins_visible
        if since is None:
            return self.signins()
        seconds = (since - self._start).total_seconds()
        first = max(0, min(visible, int(-(-seconds // self._step)))) if seconds > 0 else 0
        while first > 0 and self.signin_time(first - 1) >= since:
            first -= 1
        while first < visible and self.signin_time(first) < since:
            first += 1
        return Lazy(visible - first, lambda i: self.signin(visible - 1 - i))

    def assignments_of(self, sp_index: int) -> Lazy:
        """App-role assignments held by service principal ``sp_index`` (empty for most)."""
        if not self._is_third_party(sp_index):
            return Lazy(0, self.assignment_maker(sp_index))
        roll = mix(self.seed, sp_index, ASSIGN)
        held = 1 + roll % 3 if (roll >> 8) % 1000 < self.size.assigned_share * 1000 else 0
        return Lazy(held, self.assignment_maker(sp_index))

    def activities(self) -> Lazy:
        """Beta ``servicePrincipalSignInActivities``: the last sign-in of each third-party app."""
        return Lazy(self.third_party, lambda i: self.activity(i + 1))

    def assignments_total(self) -> int:
        return sum(len(self.assignments_of(i)) for i in range(self.service_principal_count))

    # -- items ------------------------------------------------------------------------------
    def user_id(self, index: int) -> str:
        return guid(self.seed, USER, index)

    def upn(self, index: int) -> str:
        return f"user{index:06d}@contoso.example"

    def user(self, index: int) -> dict[str, Any]:
        roll = mix(self.seed, index, USER)
        return {
            "id": self.user_id(index),
            "userPrincipalName": self.upn(index),
            "mail": self.upn(index),
            "displayName": f"User {index:06d}",
            "department": DEPARTMENTS[roll % len(DEPARTMENTS)],
            "jobTitle": "Specialist",
            "accountEnabled": roll % 50 != 0,
            "userType": "Guest" if roll % 97 == 0 else "Member",
        }

    def sp_id(self, index: int) -> str:
        return guid(self.seed, SP, index)

    def app_id(self, index: int) -> str:
        return GRAPH_APP_ID if index == 0 else guid(self.seed, APP, index)

    def _is_third_party(self, index: int) -> bool:
        return 1 <= index <= self.third_party

    def service_principal(self, index: int) -> dict[str, Any]:
        if index == 0:
            return {
                "id": self.sp_id(0),
                "appId": GRAPH_APP_ID,
                "displayName": "Microsoft Graph",
                "appOwnerOrganizationId": MICROSOFT_TENANT,
                "servicePrincipalType": "Application",
                "publisherName": "Microsoft Services",
                "accountEnabled": True,
                "tags": [],
                "replyUrls": [],
                "appRoles": [
                    {"id": rid, "value": value, "allowedMemberTypes": ["Application"]}
                    for rid, value in GRAPH_ROLES
                ],
            }
        roll = mix(self.seed, index, SP)
        third = self._is_third_party(index)
        vendor = VENDORS[roll % len(VENDORS)]
        name = f"{vendor} {index:05d}" if third else f"Microsoft Service {index:05d}"
        verified = third and roll % 3 == 0
        return {
            "id": self.sp_id(index),
            "appId": self.app_id(index),
            "displayName": name,
            "appDisplayName": name,
            "publisherName": vendor if third else "Microsoft Services",
            "verifiedPublisher": (
                {"displayName": vendor, "verifiedPublisherId": str(roll % 9_000_000)}
                if verified
                else {"displayName": None, "verifiedPublisherId": None}
            ),
            "appOwnerOrganizationId": guid(self.seed, 9, roll % 500) if third else MICROSOFT_TENANT,
            "servicePrincipalType": "Application",
            "homepage": f"https://app{index}.{vendor.split()[0].lower()}.example/"
            if third
            else None,
            "info": {"marketingUrl": None},
            "replyUrls": [f"https://app{index}.example/auth/callback"] if third else [],
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"] if third else [],
            "accountEnabled": True,
            "preferredSingleSignOnMode": "saml" if third and roll % 11 == 0 else None,
        }

    def popular_app(self, roll: int) -> int:
        """A third-party service principal index, skewed: a few apps get most of the traffic."""
        apps = self.third_party
        hot = max(1, apps // 20)
        if roll % 10 < 7:
            return 1 + (roll >> 4) % hot
        return 1 + (roll >> 4) % apps

    def grant(self, index: int) -> dict[str, Any]:
        roll = mix(self.seed, index, GRANT)
        client = self.popular_app(roll)
        admin = roll % 40 == 0
        user = (roll >> 20) % self.size.users
        return {
            "id": guid(self.seed, GRANT, index),
            "clientId": self.sp_id(client),
            "consentType": "AllPrincipals" if admin else "Principal",
            "principalId": None if admin else self.user_id(user),
            "resourceId": self.sp_id(0),
            "scope": " " + DELEGATED_SCOPES[(roll >> 12) % len(DELEGATED_SCOPES)],
        }

    def assignment_maker(self, sp_index: int) -> Callable[[int], dict[str, Any]]:
        def make(k: int) -> dict[str, Any]:
            role_id, _ = GRAPH_ROLES[(sp_index + k) % len(GRAPH_ROLES)]
            return {
                "id": f"asg{sp_index:06d}{k:02d}",
                "appRoleId": role_id,
                "createdDateTime": "2025-06-01T08:00:00Z",
                "deletedDateTime": None,
                "principalDisplayName": f"App {sp_index:05d}",
                "principalId": self.sp_id(sp_index),
                "principalType": "ServicePrincipal",
                "resourceDisplayName": "Microsoft Graph",
                "resourceId": self.sp_id(0),
            }

        return make

    def signin_time(self, ordinal: int) -> datetime:
        """Time of the ``ordinal``-th oldest sign-in."""
        return self._start + timedelta(seconds=ordinal * self._step)

    def signin(self, ordinal: int) -> dict[str, Any]:
        """The ``ordinal``-th oldest sign-in in the full documented shape (bench/signin_shape)."""
        roll = mix(self.seed, ordinal, SIGNIN)
        app = self.popular_app(roll)
        user = (roll >> 24) % self.size.users
        at = self.signin_time(ordinal)
        failed = roll % 23 == 0
        base = {
            "id": guid(self.seed, SIGNIN, ordinal),
            "createdDateTime": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}Z",
            "userDisplayName": f"User {user:06d}",
            "userPrincipalName": self.upn(user),
            "userId": self.user_id(user),
            "appId": self.app_id(app),
            "appDisplayName": self.service_principal_name(app),
            "ipAddress": f"10.{roll % 256}.{(roll >> 8) % 256}.{(roll >> 16) % 256}",
            "clientAppUsed": "Browser",
            "isInteractive": True,
            "resourceDisplayName": "Microsoft Graph",
            "status": {
                "errorCode": 50126 if failed else 0,
                "failureReason": "Invalid username or password." if failed else None,
            },
        }
        return full_signin(base, roll, guid(self.seed, CORRELATION, ordinal))

    def activity(self, sp_index: int) -> dict[str, Any]:
        last = self.signin_time(self.size.signins - 1 - mix(self.seed, sp_index, 10) % 1000)
        stamp = last.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": self.app_id(sp_index),
            "appId": self.app_id(sp_index),
            "lastSignInActivity": {"lastSignInDateTime": stamp},
            "delegatedClientSignInActivity": {"lastSignInDateTime": stamp},
            "applicationAuthenticationClientSignInActivity": {"lastSignInDateTime": None},
        }

    def service_principal_name(self, index: int) -> str:
        roll = mix(self.seed, index, SP)
        return f"{VENDORS[roll % len(VENDORS)]} {index:05d}"

    def sp_index(self, object_id: str) -> int | None:
        index = parse_guid(object_id, SP)
        if index is None or index >= self.service_principal_count:
            return None
        return index
