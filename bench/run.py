"""Scan a synthetic tenant on loopback with the real ``shadowit scan`` and print its figures.

    python -m bench.run --sizes small,medium [--time-scale 20] [--latency 0.03] [--profile]

For each size: serve the seeded tenant (bench/tenant.py) from the Graph stand-in with modelled
throttling (bench/servers.py), then, each in a child process so wall time and peak RSS are its
own:

1. a full ``shadowit scan --full --no-report`` (requests per collection, wall time vs floor);
2. an incremental scan after 1 % new sign-ins (requests and time vs the full scan);
3. an end-to-end HTTP throughput scan into a fresh store with no latency and no throttling
   (sign-ins per second of the whole scan over loopback HTTPS; peak RSS);
4. the same Entra listing with msgraph-sdk (bench/sdk_listing.py), as time and memory ratios.

Once per run, bench/pipeline.py measures the pipeline target itself in-process without HTTP:
1,000,000 Graph-shaped sign-ins through parse -> store -> resolve -> reconcile, its peak RSS
read in a child process.

Every figure is printed with its target and PASS or MISS and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.servers import DEFAULT_LATENCY, BenchGraph
from bench.tenant import SIZES, EntraTenant
from connectors.testing.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]

CLIENT_ID = "6a1f0c3e-2b4d-4e8f-9a7c-1d2e3f4a5b6c"
SECRET_ENV = "SHADOWIT_BENCH_ENTRA_SECRET"  # noqa: S105 - a variable name
RESULTS = ROOT / "bench" / "results.json"
DEFAULT_SCALE = {"small": 50.0, "medium": 20.0, "large": 100.0}
"""Limit windows divided by this: Graph's 10 s report window becomes 0.2 s at 50."""

# Targets (issue 11).
REQUESTS_TARGET = 1.05
WALL_TARGET = 1.2
EVENTS_TARGET = 1_000_000 / 30.0
RSS_TARGET_MB = 400.0
INCREMENTAL_TARGET = 0.05

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


@dataclass
class Child:
    wall: float
    rss_mb: float
    code: int
    out: str
    err: str


def run_child(cmd: list[str], cwd: Path, env: dict[str, str]) -> Child:
    """Run ``cmd``; its own wall time and peak RSS (os.wait4 rusage, KiB on Linux)."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        return Child(
            wall,
            usage.ru_maxrss / 1024.0,
            proc.returncode,
            out_file.read().decode("utf-8", "replace"),
            err_file.read().decode("utf-8", "replace"),
        )


def write_config(folder: Path, url: str, ca_path: str, tenant: str, reports_period: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = f"""\
[organisation]
name = "Contoso (benchmark)"
own_domains = ["contoso.example"]

[store]
path = "shadowit.db"

[report]
out = "reports"
formats = ["json"]

[sources.entra]
tenant_id = "{tenant}"
client_id = "{CLIENT_ID}"
client_secret_env = "{SECRET_ENV}"
authority_host = "{url}"
graph_url = "{url}"
ca_bundle = "{ca_path}"
concurrency = {CONCURRENCY}
reports_calls = 5
reports_period = {reports_period!r}
"""
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scan_cmd(config: Path, *extra: str, profile: Path | None = None) -> list[str]:
    entry = ["-c", "import sys; from scanner.app.cli import main; sys.exit(main())"]
    if profile:
        entry = [
            "-m",
            "cProfile",
            "-o",
            str(profile),
            str(Path(sys.executable).parent / "shadowit"),
        ]
    return [sys.executable, *entry, "scan", "--config", str(config), "--no-report", *extra]


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


# -- one size ------------------------------------------------------------------------------


def run_size(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    size = SIZES[name]
    scale = args.time_scale or DEFAULT_SCALE[name]
    period = 10.0 / scale
    tenant = EntraTenant(size, seed=args.seed)
    secret = "bench-" + secrets.token_hex(12)
    env = {**os.environ, SECRET_ENV: secret, "PYTHONPATH": str(ROOT)}
    result: dict[str, Any] = {
        "size": name,
        "users": size.users,
        "apps": tenant.service_principal_count,
        "grants": size.grants,
        "signins": size.signins,
        "time_scale": scale,
        "latency_s": args.latency,
    }
    folder = work / name
    graph = BenchGraph(tenant, time_scale=scale, latency=args.latency)
    graph.add_client(CLIENT_ID, secret=secret)
    with LoopbackServer(graph, tls=True) as server:
        assert server.ca_path is not None
        config = write_config(folder / "scan", server.url, server.ca_path, graph.tenant, period)
        say(f"[{name}] full scan (time scale {scale:g}, latency {args.latency * 1000:.0f} ms)")
        full = run_child(scan_cmd(config, "--full"), folder / "scan", env)
        check(full, "full scan")
        full_counts = Counter(graph.endpoints)
        full_throttled = graph.throttled
        db = folder / "scan" / "shadowit.db"
        store_bytes = sum(p.stat().st_size for p in db.parent.glob("shadowit.db*"))

        graph.reset_counts()
        added = tenant.grow_signins()
        say(f"[{name}] incremental scan after {added} new sign-ins")
        inc = run_child(scan_cmd(config), folder / "scan", env)
        check(inc, "incremental scan")
        inc_counts = Counter(graph.endpoints)

    # Throughput: the same tenant, no latency, no throttling, a fresh store.
    quick = EntraTenant(size, seed=args.seed)
    fast = BenchGraph(quick, latency=0.0, throttle=False)
    fast.add_client(CLIENT_ID, secret=secret)
    with LoopbackServer(fast, tls=True) as server:
        assert server.ca_path is not None
        config = write_config(folder / "fast", server.url, server.ca_path, fast.tenant, 0.001)
        (folder / "fast" / "shadowit.db").unlink(missing_ok=True)
        say(f"[{name}] throughput scan (no latency, no throttling)")
        profile = folder / "scan.prof" if args.profile else None
        thr = run_child(scan_cmd(config, "--full", profile=profile), folder / "fast", env)
        check(thr, "throughput scan")
        if profile:
            result["profile"] = top_of_profile(profile)
        # The SDK lists on the same unthrottled stand-in: throttled, its retry handler waits
        # 3 s and more per 429 in real time (it reads Retry-After with int(), and Graph's
        # fractional values fail), which no time scale shrinks; see bench/README.md.
        sdk: dict[str, Any] | None = None
        if not args.no_sdk and name in args.sdk_sizes.split(","):
            fast.reset_counts()
            say(f"[{name}] msgraph-sdk listing (same stand-in)")
            sdk = run_sdk(server.url, server.ca_path, fast.tenant, env, folder)
            if sdk is not None:
                sdk["requests"] = sum(fast.endpoints.values())

    full_bounds = lower_bounds(tenant, size.signins, full=True)
    inc_bounds = lower_bounds(tenant, added + 1, full=False)
    full_by = by_collection(full_counts)
    made, bound = sum(full_by.values()), sum(full_bounds.values())
    floor = floors(full_bounds, args.latency, period)
    rate = size.signins / thr.wall
    inc_made = sum(by_collection(inc_counts).values())
    result.update(
        requests={
            "per_collection": {
                k: {"made": full_by.get(k, 0), "lower_bound": v} for k, v in full_bounds.items()
            },
            "made": made,
            "lower_bound": bound,
            "ratio": round(made / bound, 3),
            "throttled_429": full_throttled,
            "target": REQUESTS_TARGET,
            "verdict": verdict(made / bound <= REQUESTS_TARGET),
        },
        wall={
            "seconds": round(full.wall, 2),
            "floor_s": round(floor["overlapped"], 2),
            "floor_serial_s": round(floor["serial"], 2),
            "floor_reports_s": round(floor["reports"], 2),
            "ratio": round(full.wall / floor["overlapped"], 3),
            "ratio_serial": round(full.wall / floor["serial"], 3),
            "target": WALL_TARGET,
            "verdict": verdict(full.wall / floor["overlapped"] <= WALL_TARGET),
            "unscaled_floor_s": round(floors(full_bounds, args.latency, 10.0)["overlapped"], 1),
        },
        throughput={
            "label": "end to end over loopback HTTPS: the whole --full scan (users, apps, "
            "grants, sign-ins, inventory, reconcile) / sign-ins",
            "events": size.signins,
            "seconds": round(thr.wall, 2),
            "events_per_s": round(rate),
            "projected_1m_s": round(1_000_000 / rate, 1),
            "peak_rss_mb": round(thr.rss_mb, 1),
            "target_events_per_s": round(EVENTS_TARGET),
            "target_rss_mb": RSS_TARGET_MB,
            "verdict": verdict(rate >= EVENTS_TARGET and thr.rss_mb <= RSS_TARGET_MB),
            "full_scan_peak_rss_mb": round(full.rss_mb, 1),
        },
        incremental={
            "new_events": added,
            "requests": inc_made,
            "lower_bound": sum(inc_bounds.values()),
            "requests_ratio": round(inc_made / made, 3),
            "seconds": round(inc.wall, 2),
            "time_ratio": round(inc.wall / full.wall, 3),
            "per_collection": by_collection(inc_counts),
            "target": INCREMENTAL_TARGET,
            "verdict": verdict(
                inc_made / made <= INCREMENTAL_TARGET and inc.wall / full.wall <= INCREMENTAL_TARGET
            ),
        },
        store={
            "bytes": store_bytes,
            "kib_per_1000_users": round(store_bytes / 1024 / (size.users / 1000), 1),
        },
    )
    if sdk is not None:
        sdk["compared_with"] = "throughput scan (same stand-in; it also lists users and stores)"
        sdk["time_ratio_vs_shadowit"] = round(sdk["seconds_wall"] / thr.wall, 3)
        sdk["memory_ratio_vs_shadowit"] = round(sdk["peak_rss_mb"] / thr.rss_mb, 3)
        result["msgraph_sdk"] = sdk
    elif not args.no_sdk and name in args.sdk_sizes.split(","):
        result["msgraph_sdk"] = {"measured": False, "reason": SDK_REASON[0]}
    return result


SDK_REASON = ["msgraph-sdk is not installed (pip install -e '.[bench]')"]


def run_sdk(
    url: str, ca_path: str, tenant: str, env: dict[str, str], folder: Path
) -> dict[str, Any] | None:
    try:
        import msgraph  # noqa: F401
    except ImportError:
        return None
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "sdk_listing.py"),
        "--graph",
        url,
        "--ca",
        ca_path,
        "--tenant",
        tenant,
        "--client",
        CLIENT_ID,
        "--secret-env",
        SECRET_ENV,
        "--since",
        since,
    ]
    child = run_child(cmd, folder, env)
    if child.code != 0:
        SDK_REASON[0] = "msgraph-sdk failed: " + child.err.strip().splitlines()[-1][:300]
        say("  " + SDK_REASON[0])
        return None
    counts = json.loads(child.out.strip().splitlines()[-1])
    return {
        "measured": True,
        **counts,
        "seconds_wall": round(child.wall, 2),
        "peak_rss_mb": round(child.rss_mb, 1),
    }


def run_pipeline(events: int, work: Path, seed: int) -> dict[str, Any]:
    """bench/pipeline.py in a child process: the in-process figure and its own peak RSS."""
    folder = work / "pipeline"
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "bench.pipeline",
        "--events",
        str(events),
        "--seed",
        str(seed),
        "--db",
        str(folder / "pipeline.db"),
    ]
    child = run_child(cmd, folder, {**os.environ, "PYTHONPATH": str(ROOT)})
    check(child, "pipeline")
    figures = json.loads(child.out.strip().splitlines()[-1])
    rate = events / figures["seconds"]
    scanner_s = max(figures["seconds"] - figures["generate_estimate_s"], 0.001)
    return {
        "label": "in-process, no HTTP: Graph-shaped sign-in dicts made lazily -> parse_signin "
        "-> Store.ingest (Checkpoint every 1,000) -> inventory.build -> reconcile",
        **figures,
        "events_per_s": round(rate),
        "events_per_s_without_generator": round(events / scanner_s),
        "projected_1m_s": round(1_000_000 / rate, 1),
        "wall_with_interpreter_s": round(child.wall, 2),
        "peak_rss_mb": round(child.rss_mb, 1),
        "target_events_per_s": round(EVENTS_TARGET),
        "target_rss_mb": RSS_TARGET_MB,
        "verdict": verdict(rate >= EVENTS_TARGET and child.rss_mb <= RSS_TARGET_MB),
    }


def top_of_profile(path: Path, limit: int = 12) -> list[dict[str, Any]]:
    import pstats

    stats = pstats.Stats(str(path))
    rows = []
    for func, (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, cumtime, calls, func))
    rows.sort(reverse=True)
    return [
        {
            "function": f"{Path(f[0]).name}:{f[1]}:{f[2]}",
            "self_s": round(t, 2),
            "cumulative_s": round(c, 2),
            "calls": n,
        }
        for t, c, n, f in rows[:limit]
    ]


def check(child: Child, what: str) -> None:
    if child.code not in (0, 3):
        tail = "\n".join(child.err.strip().splitlines()[-15:])
        raise SystemExit(f"{what} failed with exit {child.code}:\n{tail}")


def say(message: str) -> None:
    print(message, flush=True)


# -- output --------------------------------------------------------------------------------


def table(results: list[dict[str, Any]], pipeline: dict[str, Any] | None = None) -> str:
    lines = [f"{'size':7} {'figure':40} {'value':>28} {'target':>18}  verdict"]

    def row(size: str, figure: str, value: str, target: str, ok: str) -> None:
        lines.append(f"{size:7} {figure:40} {value:>28} {target:>18}  {ok}")

    if pipeline:
        p = pipeline
        row(
            f"{p['events'] // 1000}k",
            "pipeline events/s (in-process, no HTTP)",
            f"{p['events_per_s']}/s ({p['seconds']} s)",
            f">= {p['target_events_per_s']}/s",
            p["verdict"],
        )
        row(
            "",
            "  without the synthetic generator",
            f"{p['events_per_s_without_generator']}/s",
            "",
            "",
        )
        row("", "  peak RSS", f"{p['peak_rss_mb']} MB", f"<= {RSS_TARGET_MB:g} MB", "")

    for r in results:
        s = r["size"]
        q, w, t, i, st = r["requests"], r["wall"], r["throughput"], r["incremental"], r["store"]
        row(
            s,
            "requests vs lower bound",
            f"{q['made']} / {q['lower_bound']} = {q['ratio']}x",
            f"<= {REQUESTS_TARGET}x",
            q["verdict"],
        )
        for coll, v in q["per_collection"].items():
            row(s, f"  {coll}", f"{v['made']} / {v['lower_bound']}", "", "")
        row(
            s,
            "wall vs floor (overlapped)",
            f"{w['seconds']} s / {w['floor_s']} s = {w['ratio']}x",
            f"<= {WALL_TARGET}x",
            w["verdict"],
        )
        row(
            s,
            "  wall vs serial floor",
            f"{w['seconds']} s / {w['floor_serial_s']} s = {w['ratio_serial']}x",
            "",
            "",
        )
        row(
            s,
            "end-to-end HTTP scan, sign-ins/s",
            f"{t['events_per_s']}/s (1M in {t['projected_1m_s']} s)",
            f">= {t['target_events_per_s']}/s",
            t["verdict"],
        )
        row(
            s,
            "  peak RSS (throughput / full scan)",
            f"{t['peak_rss_mb']} / {t['full_scan_peak_rss_mb']} MB",
            f"<= {RSS_TARGET_MB:g} MB",
            "",
        )
        row(
            s,
            "incremental requests (1% new)",
            f"{i['requests']} = {i['requests_ratio']:.1%}",
            f"<= {INCREMENTAL_TARGET:.0%}",
            i["verdict"],
        )
        row(
            s,
            "incremental time",
            f"{i['seconds']} s = {i['time_ratio']:.1%}",
            f"<= {INCREMENTAL_TARGET:.0%}",
            "",
        )
        row(s, "store size per 1,000 users", f"{st['kib_per_1000_users']} KiB", "report", "")
        sdk = r.get("msgraph_sdk")
        if sdk and sdk.get("measured"):
            row(
                s,
                "msgraph-sdk listing: time / memory",
                f"{sdk['seconds_wall']} s / {sdk['peak_rss_mb']} MB",
                "report",
                "",
            )
            row(
                s,
                "  ratio sdk / shadowit (unthrottled)",
                f"{sdk['time_ratio_vs_shadowit']}x time, {sdk['memory_ratio_vs_shadowit']}x mem",
                "",
                "",
            )
        elif sdk:
            row(s, "msgraph-sdk listing", "not measured", "", "")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gb"] = round(int(mem) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="divide every limit window by this (default per size)",
    )
    parser.add_argument("--latency", type=float, default=DEFAULT_LATENCY)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sdk", action="store_true", help="skip the msgraph-sdk comparison")
    parser.add_argument(
        "--sdk-sizes",
        default="small",
        help="sizes to compare with msgraph-sdk (it parses about 1,000 sign-ins a second)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the throughput scan")
    parser.add_argument(
        "--pipeline-events",
        type=int,
        default=None,
        help="sign-ins through the in-process pipeline (default 1,000,000; 10,000 when only "
        "the small size runs; 0 skips it)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=None, help="keep stores here")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; choose from {', '.join(SIZES)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="shadowit-bench-"))
    results = []
    pipeline: dict[str, Any] | None = None
    events = args.pipeline_events
    if events is None:
        events = SIZES["small"].signins if sizes == ["small"] else 1_000_000
    try:
        for name in sizes:
            results.append(run_size(name, args, work))
        if events > 0:
            say(f"pipeline: {events} sign-ins in-process (parse, store, resolve, reconcile)")
            pipeline = run_pipeline(events, work, args.seed)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    doc = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "pipeline": pipeline,
        "results": results,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(results, pipeline))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
