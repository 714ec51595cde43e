"""Sign-ins in the full documented shape of Graph's signIn resource, and their page bodies.

The properties and their types follow https://learn.microsoft.com/en-us/graph/api/resources/signin
(v1.0: status, deviceDetail, location with geoCoordinates, appliedConditionalAccessPolicies,
the risk properties) plus the beta properties a tenant's non-interactive listing returns
(authenticationDetails, authenticationRequirement;
https://learn.microsoft.com/en-us/graph/api/resources/signin?view=graph-rest-beta). The
documented example (tests' payload copy: ../shared/reference/payloads/graph-signIns.json) is
1,471 bytes compact; these come out at about 1.8 kB
(the example plus authenticationDetails), and real tenants average more.
``page_body`` is a list answer as Graph sends it (``@odata.context``, ``value``,
``@odata.nextLink``), as bytes, so a benchmark that starts from it includes decoding.
"""

from __future__ import annotations

from typing import Any

import orjson

OS = ("Windows 10", "Windows 11", "MacOs", "iOS 17", "Android 14")
BROWSERS = ("Edge 120.0.2210", "Chrome 121.0.6167", "Safari 17.2", "Firefox 122.0")
CITIES = (
    ("Redmond", "Washington", "US", 47.6805, -122.1209),
    ("Dublin", "Dublin", "IE", 53.3498, -6.2603),
    ("Berlin", "Berlin", "DE", 52.5200, 13.4050),
    ("Singapore", "Singapore", "SG", 1.3521, 103.8198),
)
POLICIES = (
    ("de7e60eb-ed89-4d73-8205-2227def6b7c9", "SharePoint limited access for guest workers"),
    ("6701123a-b4c6-48af-8565-565c8bf7cabc", "Require MFA for all users"),
)
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns"


def full_signin(base: dict[str, Any], roll: int, correlation: str) -> dict[str, Any]:
    """``base`` (the properties the scanner reads) with every other documented property."""
    city, state, country, lat, lon = CITIES[roll % len(CITIES)]
    failed = base["status"]["errorCode"] != 0
    mfa = roll % 3 == 0
    return {
        **base,
        "correlationId": correlation,
        "conditionalAccessStatus": "success" if mfa else "notApplied",
        "resourceId": "00000003-0000-0000-c000-000000000000",
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "status": {**base["status"], "additionalDetails": "MFA requirement satisfied by claim"}
        if mfa and not failed
        else {**base["status"], "additionalDetails": None},
        "deviceDetail": {
            "deviceId": "",
            "displayName": None,
            "operatingSystem": OS[(roll >> 3) % len(OS)],
            "browser": BROWSERS[(roll >> 5) % len(BROWSERS)],
            "isCompliant": None,
            "isManaged": None,
            "trustType": None,
        },
        "location": {
            "city": city,
            "state": state,
            "countryOrRegion": country,
            "geoCoordinates": {"altitude": None, "latitude": lat, "longitude": lon},
        },
        "appliedConditionalAccessPolicies": [
            {
                "id": policy_id,
                "displayName": name,
                "enforcedGrantControls": ["Mfa"] if mfa and n == 1 else [],
                "enforcedSessionControls": [],
                "result": "success" if mfa and n == 1 else "notEnabled",
            }
            for n, (policy_id, name) in enumerate(POLICIES)
        ],
        "authenticationDetails": [
            {
                "authenticationStepDateTime": base["createdDateTime"],
                "authenticationMethod": "Password",
                "authenticationMethodDetail": "Password in the cloud",
                "succeeded": not failed,
                "authenticationStepResultDetail": "Correct password" if not failed else None,
                "authenticationStepRequirement": "Primary authentication",
            }
        ],
        "authenticationRequirement": "multiFactorAuthentication" if mfa else "singleFactor",
    }


def page_body(items: list[dict[str, Any]], next_link: str | None) -> bytes:
    """One list answer as Graph sends it."""
    body: dict[str, Any] = {"@odata.context": CONTEXT, "value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return orjson.dumps(body)
