"""The benchmark's targets, lower bounds and floors, and each figure of one size.

Pure functions over counts and timings: bench/run.py measures, this module turns the
measurements into the figures bench/results.json holds (their definitions are in
bench/README.md, "How the figures are defined").
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench.tenant import EntraTenant

# Targets (issue 11).
REQUESTS_TARGET = 1.05
WALL_TARGET = 1.2
EVENTS_TARGET = 1_000_000 / 30.0
RSS_TARGET_MB = 400.0
INCREMENTAL_TARGET = 0.05
FLOOR_RATIO_TARGET = 1.5
"""Pipeline seconds / the floor script's (bench/floor.py) on the same pages (issue 23)."""

# Largest page the stand-in serves per collection, as Graph documents or defaults it
# (https://learn.microsoft.com/en-us/graph/api/user-list,
# https://learn.microsoft.com/en-us/graph/api/signin-list). The delta round's page size is the
# server's choice (100 here); the others accept $top up to 999.
PAGE_MAX = {"users": 999, "delta": 100, "grants": 999, "activity": 999, "signins": 1000}
AUDIT_ACTIVITIES = 5
"""Incremental scans read the directory audit once per activity (consent, and the four grant
and app-role activities): activityDisplayName filters support only eq and startswith."""
CONCURRENCY = 4
"""sources.entra.concurrency default: per-app calls in flight."""


# -- lower bounds and floors ---------------------------------------------------------------


def collection_of(endpoint: str) -> str:
    """Map a counted endpoint to the collection it reads."""
    table = (
        ("/oauth2/v2.0/token", "token"),
        ("/.well-known/openid-configuration", "token"),
        ("/servicePrincipals/delta", "service principals (delta)"),
        ("/v1.0/users/delta", "users (delta)"),
        ("/appRoleAssignments", "app-role assignments"),
        ("/oauth2PermissionGrants", "delegated grants"),
        ("/v1.0/users", "users"),
        ("/auditLogs/signIns", "sign-ins"),
        ("/auditLogs/directoryAudits", "directory audits"),
        ("/servicePrincipalSignInActivities", "sign-in activity"),
        ("/v1.0/servicePrincipals/{id}", "resource app roles"),
        ("/v1.0/servicePrincipals", "service principal index"),
    )
    return next((name for needle, name in table if needle in endpoint), endpoint)


def lower_bounds(tenant: EntraTenant, signins: int, full: bool) -> dict[str, int]:
    """Fewest requests any client needs per collection (items / largest page, at least 1).

    A full scan lists users, grants and app-role assignments; an incremental one follows the
    users and service principal delta links and reads the audit log once per activity (the
    benchmark's tenant changes no grant between its scans, so no per-app grant reads).
    """

    def pages(items: int, size: int) -> int:
        return max(1, math.ceil(items / size))

    third = tenant.third_party
    bounds = {
        "token": 2,  # msal: the authority's metadata, then one token
        "sign-ins": pages(signins, PAGE_MAX["signins"]),
        "sign-in activity": pages(third, PAGE_MAX["activity"]),
        "users (delta)": 1,  # full: a delta link "from now"; incremental: the changes
        "service principals (delta)": 1,
    }
    if full:
        bounds |= {
            "users": pages(tenant.size.users, PAGE_MAX["users"]),
            "directory audits": 1,  # consent times
            "delegated grants": pages(tenant.size.grants, PAGE_MAX["grants"]),
            "app-role assignments": third,  # one listing per third-party app
            "resource app roles": 1,  # Microsoft Graph's appRoles, read once
            "service principals (delta)": pages(tenant.service_principal_count, PAGE_MAX["delta"]),
        }
    else:
        bounds["directory audits"] = AUDIT_ACTIVITIES
    return bounds


def floors(bounds: dict[str, int], latency: float, period: float) -> dict[str, float]:
    """Seconds no client can beat: reports at 5 per ``period``; paging is one page at a time."""
    reports = bounds["sign-ins"] + bounds["sign-in activity"] + bounds["directory audits"]
    report_floor = max(reports * latency, ((reports - 1) // 5) * period + latency)
    per_app = bounds.get("app-role assignments", 0)
    directory = (
        sum(bounds.values()) - per_app - reports + math.ceil(per_app / CONCURRENCY)
    ) * latency
    return {
        "reports": report_floor,
        "directory": directory,
        "overlapped": max(report_floor, directory),
        "serial": report_floor + directory,
    }


def by_collection(endpoints: Counter[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for endpoint, n in endpoints.items():
        if not endpoint.startswith("429 "):
            counts[collection_of(endpoint)] += n
    return dict(counts)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- the figures of one size ---------------------------------------------------------------


def requests_figure(bounds: dict[str, int], counts: Counter[str], throttled: int) -> dict[str, Any]:
    """Requests of the full scan per collection against its lower bound."""
    made_by = by_collection(counts)
    made, bound = sum(made_by.values()), sum(bounds.values())
    return {
        "per_collection": {
            k: {"made": made_by.get(k, 0), "lower_bound": v} for k, v in bounds.items()
        },
        "made": made,
        "lower_bound": bound,
        "ratio": round(made / bound, 3),
        "throttled_429": throttled,
        "target": REQUESTS_TARGET,
        "verdict": verdict(made / bound <= REQUESTS_TARGET),
    }


def wall_figure(
    seconds: float, bounds: dict[str, int], latency: float, period: float
) -> dict[str, Any]:
    """Wall time of the full scan against the overlapped and serial floors."""
    floor = floors(bounds, latency, period)
    return {
        "seconds": round(seconds, 2),
        "floor_s": round(floor["overlapped"], 2),
        "floor_serial_s": round(floor["serial"], 2),
        "floor_reports_s": round(floor["reports"], 2),
        "ratio": round(seconds / floor["overlapped"], 3),
        "ratio_serial": round(seconds / floor["serial"], 3),
        "target": WALL_TARGET,
        "verdict": verdict(seconds / floor["overlapped"] <= WALL_TARGET),
        "unscaled_floor_s": round(floors(bounds, latency, 10.0)["overlapped"], 1),
    }


def throughput_figure(
    events: int, seconds: float, rss_mb: float, full_scan_rss_mb: float, bytes_per_event: int = 0
) -> dict[str, Any]:
    """Sign-ins per second of the unthrottled end-to-end scan, and its peak RSS."""
    rate = events / seconds
    return {
        "label": "end to end over loopback HTTPS: the whole --full scan (users, apps, "
        "grants, sign-ins, inventory, reconcile) / sign-ins",
        "events": events,
        "bytes_per_event": bytes_per_event,
        "seconds": round(seconds, 2),
        "events_per_s": round(rate),
        "projected_1m_s": round(1_000_000 / rate, 1),
        "peak_rss_mb": round(rss_mb, 1),
        "target_events_per_s": round(EVENTS_TARGET),
        "target_rss_mb": RSS_TARGET_MB,
        "verdict": verdict(rate >= EVENTS_TARGET and rss_mb <= RSS_TARGET_MB),
        "full_scan_peak_rss_mb": round(full_scan_rss_mb, 1),
    }


def incremental_figure(
    added: int,
    bounds: dict[str, int],
    counts: Counter[str],
    full_made: int,
    seconds: float,
    full_seconds: float,
) -> dict[str, Any]:
    """Requests and wall time of the incremental scan as shares of the full scan's."""
    made = sum(by_collection(counts).values())
    return {
        "new_events": added,
        "requests": made,
        "lower_bound": sum(bounds.values()),
        "requests_ratio": round(made / full_made, 3),
        "seconds": round(seconds, 2),
        "time_ratio": round(seconds / full_seconds, 3),
        "per_collection": by_collection(counts),
        "target": INCREMENTAL_TARGET,
        "verdict": verdict(
            made / full_made <= INCREMENTAL_TARGET and seconds / full_seconds <= INCREMENTAL_TARGET
        ),
    }


def store_figure(store_bytes: int, users: int) -> dict[str, Any]:
    """The store file (with its WAL) after the full scan, per 1,000 users."""
    return {
        "bytes": store_bytes,
        "kib_per_1000_users": round(store_bytes / 1024 / (users / 1000), 1),
    }
