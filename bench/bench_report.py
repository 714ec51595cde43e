"""Report rendering for a large inventory, against the target of issue 8.

    .venv/bin/python -m bench.bench_report [--apps 5000] [--users 50000] [--seed 8] [--browser]

Builds a large report model from the demo's (``shadowit demo``, so every block is one a real
scan fills and the model validates against the current schema): ``--apps`` apps, each a renamed
copy of a demo app with its findings, used by ``--users`` people, long-tailed (a few apps have
thousands of users, most a handful); then times each format's render. ``report.html`` must
render in under 10 s; the other formats are printed for information. With ``--browser`` (and
a chromium at /usr/bin/chromium) it also times the page in a real browser until its tables are
built, and a search and a sort on the full apps table. Prints each figure with its target and
PASS or MISS; exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

from reports.html import HtmlReport
from reports.json_report import JsonReport, validate
from reports.tables import CsvReport, XlsxReport
from scanner.app.demo import run_demo
from scanner.core.config import ReportSettings

USERS_LISTED = ReportSettings().users_listed
"""The report model's default cap on each app's user list."""
HTML_TARGET_S = 10.0
BROWSER_TARGET_S = 5.0
INTERACTION_TARGET_S = 1.0
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


def demo_model() -> dict[str, Any]:
    """The report model of the shipped demo tenant (``shadowit demo``), as report.json holds it:
    valid for the current schema by construction, with every block a real scan fills."""
    with tempfile.TemporaryDirectory() as folder:
        run_demo(Path(folder))
        return cast(dict[str, Any], json.loads((Path(folder) / "report.json").read_text()))


def synthetic_model(
    apps: int, users: int, seed: int, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``apps`` apps used by ``users`` people, each a copy of one of the demo's apps (with its
    findings) given its own name, people and departments; validated against the schema."""
    base = base if base is not None else demo_model()
    rng = random.Random(seed)
    people = [f"person{i:05d}@bench.example" for i in range(users)]
    department = {p: rng.choice(DEPARTMENTS) for p in people}
    templates = [a for a in base["apps"] if not a["first_party"]] or base["apps"]
    findings_of: dict[str, list[dict[str, Any]]] = {}
    for finding in base["findings"]:
        findings_of.setdefault(finding["app_key"], []).append(finding)
    app_rows: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for i in range(apps):
        template = templates[i % len(templates)]
        row, opened, holders = scaled_app(
            i, template, findings_of.get(template["key"], []), rng, people
        )
        row.update(people_of(holders, department))
        app_rows.append(row)
        findings.extend(opened)
    model = {**copy.deepcopy(base), "apps": app_rows, "findings": findings}
    model["summary"] = {
        **model["summary"],
        "apps": len(app_rows),
        "third_party_apps": sum(not a["first_party"] for a in app_rows),
        "marketing_apps": sum(a["is_marketing"] for a in app_rows),
        "unsanctioned": sum(a["sanction_status"] == "unsanctioned" for a in app_rows),
        "open_findings": sum(f["open"] for f in findings),
        "findings_by_severity": dict(Counter(f["severity"] for f in findings if f["open"])),
        "apps_by_status": dict(Counter(a["sanction_status"] for a in app_rows)),
    }
    validate(model)
    return model


def scaled_app(
    i: int,
    template: dict[str, Any],
    template_findings: list[dict[str, Any]],
    rng: random.Random,
    people: list[str],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """App ``i``: ``template`` renamed, with a long-tailed number of people drawn from
    ``people`` (a few apps have thousands, most a handful), and those people; its user list
    names the first ``[report] users_listed`` of them, as the report model's does."""
    size = min(len(people), int(rng.paretovariate(1.1) * 3))
    holders = sorted(rng.sample(people, size))
    key, name, old_key = f"name:bench-app-{i}", f"Bench App {i:05d}", template["key"]
    row = copy.deepcopy(template)
    row.update(
        key=key,
        name=name,
        domain=f"bench-app-{i}.example",
        client_ids=[f"client-{i}"],
        raw_names=[name],
        users=size,
        people=size,
        user_list=holders[:USERS_LISTED],
        users_more=max(0, size - USERS_LISTED),
        sign_ins_30d=size * 3,
        likely_owner=holders[0] if holders else None,
    )
    for entry in row["findings"]:
        entry["id"] = entry["id"].replace(old_key, key, 1)
    opened = []
    for finding in template_findings:
        copied = copy.deepcopy(finding)
        copied.update(id=finding["id"].replace(old_key, key, 1), app=name, app_key=key)
        opened.append(copied)
    return row, opened, holders


def people_of(holders: list[str], department: dict[str, str]) -> dict[str, Any]:
    """The department counts and the marketing flag of an app used by ``holders``."""
    depts = Counter(department[p] for p in holders).most_common()
    marketing = bool(depts) and depts[0][0] == "Marketing"
    return {
        "departments": [{"department": d, "users": n} for d, n in depts],
        "marketing_users": dict(depts).get("Marketing", 0),
        "is_marketing": marketing,
        "marketing_reason": "most users are in Marketing" if marketing else "not a marketing tool",
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
        f"model: schema {model['schema_version']}, {args.apps} apps, {args.users} users, "
        f"{grants} app-user pairs, {len(model['findings'])} findings ({built:.1f} s to build, "
        "the demo scan included)"
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        ok = time_formats(model, out)
        if args.browser:
            ok &= time_browser(out / "report.html")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
