"""Report rendering for a large inventory, against the target of issue 8.

    .venv/bin/python -m bench.bench_report [--apps 5000] [--users 50000] [--seed 8] [--browser]

Builds a synthetic report model (``--apps`` apps used by ``--users`` people, long-tailed: a few
apps have thousands of users, most have a handful; scopes, departments, findings and history
like a real tenant's) and times each format's render. ``report.html`` must render in under
10 s; the other formats are printed for information. With ``--browser`` (and a chromium at
/usr/bin/chromium) it also times the page in a real browser until its tables are built, and
a search and a sort on the full apps table. Prints each figure with its target and PASS or
MISS; exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from reports.html import HtmlReport
from reports.json_report import JsonReport
from reports.tables import CsvReport, XlsxReport

HTML_TARGET_S = 10.0
BROWSER_TARGET_S = 5.0
INTERACTION_TARGET_S = 1.0
CATEGORIES = (
    "marketing_automation",
    "email_marketing",
    "social_media",
    "seo",
    "design",
    "video",
    "crm",
    "surveys_forms",
    "web_analytics",
    "ai_writing",
    "project_management",
    "developer_tools",
    None,
)
STATUSES = ("unsanctioned",) * 6 + ("sanctioned", "sanctioned", "tolerated", "banned")
DEPARTMENTS = (
    "Marketing",
    "Sales",
    "Engineering",
    "Finance",
    "HR",
    "Support",
    "Legal",
    "Operations",
)
SCOPES = (
    ("openid", "low", "sign the user in"),
    ("profile", "low", "see the user's basic profile"),
    ("User.Read", "low", "sign the user in and read their profile"),
    ("Mail.Read", "high", "read all of the user's mail"),
    ("Mail.Send", "critical", "send mail as the user"),
    ("Files.Read.All", "high", "read every file the user can open, including shared ones"),
    ("Calendars.Read", "medium", "read the user's calendars"),
    ("Contacts.Read", "medium", "read the user's contacts"),
    (
        "https://www.googleapis.com/auth/drive",
        "high",
        "see, edit, create and delete all Google Drive files",
    ),
    ("offline_access", "low", "keep access while the user is away (refresh token)"),
)
KINDS = (
    ("unsanctioned", "high"),
    ("risky_scopes", "medium"),
    ("owner_unconfirmed", "low"),
    ("dormant", "low"),
    ("over_scoped", "high"),
)


def synthetic_model(apps: int, users: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    people = [f"person{i:05d}@bench.example" for i in range(users)]
    department = {p: rng.choice(DEPARTMENTS) for p in people}
    app_rows: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for i in range(apps):
        row, opened = synthetic_app(i, rng, people, department)
        findings.extend(opened)
        app_rows.append(row)
    return {
        "schema_version": "1.0",
        "generated_at": "2026-11-20T06:05:00Z",
        "organisation": "Bench Co",
        "redacted": False,
        "scan": synthetic_scan(),
        "previous_scan": 29,
        "summary": synthetic_summary(app_rows, findings),
        "changes": {
            "since_scan": 29,
            "scan": 30,
            "new_apps": [a["name"] for a in app_rows[:60]],
            "gone_apps": [],
            "new_users": [],
            "scope_escalations": [],
            "findings_opened": [f"{f['app']}: {f['kind']}" for f in findings[:80]],
            "findings_resolved": [],
        },
        "history": [
            {
                "scan_id": n,
                "started": f"2026-10-{n:02d}T06:00:00Z",
                "apps": apps - 30 + n,
                "unsanctioned_marketing": 300 + n * 3,
                "open_findings": len(findings) - 300 + n * 10,
            }
            for n in range(1, 31)
        ],
        "apps": app_rows,
        "findings": findings,
    }


def risk_level(score: int) -> str:
    if score >= 75:
        return "critical"
    if score >= 55:
        return "high"
    return "medium" if score >= 30 else "low"


def synthetic_app(
    i: int, rng: random.Random, people: list[str], department: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """App ``i``'s row and its open findings (the draws from ``rng`` in a fixed order)."""
    size = min(len(people), int(rng.paretovariate(1.1) * 3))
    holders = rng.sample(people, size)
    depts = Counter(department[p] for p in holders).most_common()
    status = rng.choice(STATUSES)
    score = rng.randrange(0, 100)
    marketing = bool(depts) and depts[0][0] == "Marketing"
    key = f"name:bench-app-{i}"
    name = f"Bench App {i:05d}"
    scopes = rng.sample(SCOPES, rng.randrange(1, len(SCOPES)))
    open_kinds = rng.sample(KINDS, rng.randrange(0, 4))
    findings = [app_finding(key, name, size, kind, severity) for kind, severity in open_kinds]
    row = {
        "key": key,
        "name": name,
        "vendor": f"Vendor {i % 900}",
        "category": rng.choice(CATEGORIES),
        "domain": f"bench-app-{i}.example",
        "first_party": False,
        "internal": False,
        "lookalike_of": None,
        "matched_by": [{"rule": "catalog_name", "value": name.lower(), "score": 1.0}],
        "sources": rng.sample(["entra", "google", "okta"], rng.randrange(1, 3)),
        "client_ids": [f"client-{i}"],
        "raw_names": [name],
        "kinds": ["oauth"],
        "users": size,
        "user_list": sorted(holders),
        "departments": [{"department": d, "users": n} for d, n in depts],
        "marketing_users": dict(depts).get("Marketing", 0),
        "is_marketing": marketing,
        "marketing_reason": "most users are in Marketing" if marketing else "not a marketing tool",
        "sanction_status": status,
        "owner": None,
        "team": None,
        "purpose": None,
        "risk_score": score,
        "risk_level": risk_level(score),
        "risk_reasons": [f"risk {score}/100"],
        "scopes": [
            {"scope": s, "level": lv, "meaning": m, "consent": ["user"], "grants": size}
            for s, lv, m in scopes
        ],
        "admin_consent": False,
        "app_only": False,
        "publisher": None,
        "publisher_verified": False,
        "first_seen": "2026-10-01 06:00:00+00:00",
        "last_seen": "2026-11-20 06:00:00+00:00",
        "last_sign_in": "2026-11-19 03:00:00+00:00",
        "sign_ins_30d": size * 3,
        "spend": 0.0,
        "spend_currency": None,
        "likely_owner": holders[0] if holders else None,
        "confirmation": {"state": "unconfirmed", "owner": None, "answered": None},
        "findings": [
            {"id": f"{key}:{k}", "kind": k, "severity": s, "status": "open"} for k, s in open_kinds
        ],
    }
    return row, findings


def app_finding(key: str, name: str, size: int, kind: str, severity: str) -> dict[str, Any]:
    return {
        "id": f"{key}:{kind}",
        "app": name,
        "app_key": key,
        "kind": kind,
        "severity": severity,
        "status": "open",
        "reasons": [f"{name} is flagged: {kind}", f"{size} people use it"],
        "remediation": "Ask the team that uses it to request a review.",
        "opened": "2026-11-19T06:00:00Z",
        "resolved": None,
        "decided_by": None,
        "decision_reason": None,
        "decided_until": None,
    }


def synthetic_scan() -> dict[str, Any]:
    return {
        "id": 30,
        "started": "2026-11-20T06:00:00Z",
        "finished": "2026-11-20T06:04:00Z",
        "full": False,
        "sources": [
            {
                "source": s,
                "status": "ok",
                "records": 100_000,
                "skipped": [],
                "warnings": [],
                "error": None,
            }
            for s in ("entra", "google", "okta")
        ],
    }


def synthetic_summary(
    app_rows: list[dict[str, Any]], findings: list[dict[str, Any]]
) -> dict[str, Any]:
    severities = Counter(f["severity"] for f in findings)
    third = app_rows
    return {
        "apps": len(app_rows),
        "third_party_apps": len(third),
        "marketing_apps": sum(a["is_marketing"] for a in app_rows),
        "unsanctioned": sum(a["sanction_status"] == "unsanctioned" for a in app_rows),
        "unsanctioned_marketing": sum(
            a["sanction_status"] == "unsanctioned" and a["is_marketing"] for a in app_rows
        ),
        "open_findings": len(findings),
        "findings_by_severity": {
            s: severities.get(s, 0) for s in ("critical", "high", "medium", "low", "info")
        },
        "apps_by_status": dict(Counter(a["sanction_status"] for a in app_rows).most_common()),
        "apps_by_category": dict(
            Counter(a["category"] or "uncategorised" for a in third).most_common()
        ),
        "apps_by_risk": {
            lvl: sum(a["risk_level"] == lvl for a in third)
            for lvl in ("critical", "high", "medium", "low")
        },
    }


def verdict(label: str, seconds: float, target: float | None) -> bool:
    if target is None:
        print(f"{label:<44} {seconds:7.2f} s   (for information)")
        return True
    ok = seconds < target
    print(f"{label:<44} {seconds:7.2f} s   target < {target:.0f} s   {'PASS' if ok else 'MISS'}")
    return ok


def time_formats(model: dict[str, Any], out: Path) -> bool:
    ok = True
    for fmt, target in (
        (HtmlReport(), HTML_TARGET_S),
        (JsonReport(), None),
        (CsvReport(), None),
        (XlsxReport(), None),
    ):
        start = time.perf_counter()
        written = fmt.render(model, out)
        elapsed = time.perf_counter() - start
        size = sum(p.stat().st_size for p in written) / 1e6
        ok &= verdict(f"render {fmt.name} ({size:.1f} MB)", elapsed, target)
    return ok


def time_browser(html: Path) -> bool:
    """Open the page in chromium; time until the tables are built, a search and a sort."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import LAUNCH_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        print("browser: no chromium binary, skipped (apt-get install -y chromium)")
        return True
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        start = time.perf_counter()
        page.goto(html.as_uri())
        page.wait_for_selector("html[data-ready=true]", timeout=60_000)
        ok = verdict(
            "browser: open until tables are built", time.perf_counter() - start, BROWSER_TARGET_S
        )
        start = time.perf_counter()
        page.click('#apps-table th[data-key="users"]')
        page.locator("#apps-table tbody tr.row").first.wait_for()
        ok &= verdict(
            "browser: sort 5,000 apps by users", time.perf_counter() - start, INTERACTION_TARGET_S
        )
        start = time.perf_counter()
        page.check("#marketing-only")
        page.locator("#apps-table tbody tr.row").first.wait_for()
        ok &= verdict(
            "browser: marketing filter", time.perf_counter() - start, INTERACTION_TARGET_S
        )
        browser.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=5000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--browser", action="store_true", help="also time the page in chromium")
    args = parser.parse_args()
    start = time.perf_counter()
    model = synthetic_model(args.apps, args.users, args.seed)
    grants = sum(a["users"] for a in model["apps"])
    built = time.perf_counter() - start
    print(
        f"model: {args.apps} apps, {args.users} users, {grants} app-user pairs, "
        f"{len(model['findings'])} findings ({built:.1f} s to build)"
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        ok = time_formats(model, out)
        if args.browser:
            ok &= time_browser(out / "report.html")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
