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

from bench.figures import (
    CONCURRENCY,
    EVENTS_TARGET,
    FLOOR_RATIO_TARGET,
    RSS_TARGET_MB,
    incremental_figure,
    lower_bounds,
    requests_figure,
    store_figure,
    throughput_figure,
    verdict,
    wall_figure,
)
from bench.pages import signin_bytes
from bench.servers import DEFAULT_LATENCY, BenchGraph
from bench.table import table
from bench.tenant import SIZES, EntraTenant, Size
from connectors.testing.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]

CLIENT_ID = "6a1f0c3e-2b4d-4e8f-9a7c-1d2e3f4a5b6c"
SECRET_ENV = "SHADOWIT_BENCH_ENTRA_SECRET"  # noqa: S105 - a variable name
RESULTS = ROOT / "bench" / "results.json"
DEFAULT_SCALE = {"small": 50.0, "medium": 20.0, "large": 100.0}
"""Limit windows divided by this: Graph's 10 s report window becomes 0.2 s at 50."""


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


# -- one size ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeRun:
    """What the steps of one size share."""

    name: str
    size: Size
    tenant: EntraTenant
    scale: float
    period: float
    secret: str
    env: dict[str, str]
    folder: Path
    args: argparse.Namespace

    @property
    def wants_sdk(self) -> bool:
        return not self.args.no_sdk and self.name in self.args.sdk_sizes.split(",")


@dataclass(frozen=True)
class Scan:
    """One scan's child process and the requests the stand-in counted while it ran."""

    child: Child
    counts: Counter[str]


@dataclass(frozen=True)
class Throttled:
    """Steps 1 and 2 on the throttled stand-in."""

    full: Scan
    throttled: int
    store_bytes: int
    added: int
    incremental: Scan


@dataclass(frozen=True)
class Throughput:
    """Steps 3 and 4 on the unthrottled stand-in."""

    child: Child
    profile: list[dict[str, Any]] | None
    sdk: dict[str, Any] | None


def run_size(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    run = size_run(name, args, work)
    result: dict[str, Any] = {
        "size": name,
        "users": run.size.users,
        "apps": run.tenant.service_principal_count,
        "grants": run.size.grants,
        "signins": run.size.signins,
        "time_scale": run.scale,
        "latency_s": args.latency,
    }
    scans = throttled_scans(run)
    fast = throughput_scan(run)
    if fast.profile is not None:
        result["profile"] = fast.profile
    result.update(size_figures(run, scans, fast.child))
    sdk = sdk_figure(run, fast)
    if sdk is not None:
        result["msgraph_sdk"] = sdk
    return result


def size_run(name: str, args: argparse.Namespace, work: Path) -> SizeRun:
    size = SIZES[name]
    scale = args.time_scale or DEFAULT_SCALE[name]
    tenant = EntraTenant(size, seed=args.seed)
    secret = "bench-" + secrets.token_hex(12)
    env = {**os.environ, SECRET_ENV: secret, "PYTHONPATH": str(ROOT)}
    return SizeRun(name, size, tenant, scale, 10.0 / scale, secret, env, work / name, args)


def throttled_scans(run: SizeRun) -> Throttled:
    """The full scan, then the incremental one, against the throttled stand-in."""
    graph = BenchGraph(run.tenant, time_scale=run.scale, latency=run.args.latency)
    graph.add_client(CLIENT_ID, secret=run.secret)
    folder = run.folder / "scan"
    with LoopbackServer(graph, tls=True) as server:
        assert server.ca_path is not None
        config = write_config(folder, server.url, server.ca_path, graph.tenant, run.period)
        full = full_scan(run, graph, config)
        throttled = graph.throttled
        store_bytes = sum(p.stat().st_size for p in folder.glob("shadowit.db*"))
        added, incremental = incremental_scan(run, graph, config)
    return Throttled(full, throttled, store_bytes, added, incremental)


def full_scan(run: SizeRun, graph: BenchGraph, config: Path) -> Scan:
    latency_ms = run.args.latency * 1000
    say(f"[{run.name}] full scan (time scale {run.scale:g}, latency {latency_ms:.0f} ms)")
    child = run_child(scan_cmd(config, "--full"), run.folder / "scan", run.env)
    check(child, "full scan")
    return Scan(child, Counter(graph.endpoints))


def incremental_scan(run: SizeRun, graph: BenchGraph, config: Path) -> tuple[int, Scan]:
    """1 % new sign-ins, then a scan without --full; the number added and the scan."""
    graph.reset_counts()
    added = run.tenant.grow_signins()
    say(f"[{run.name}] incremental scan after {added} new sign-ins")
    child = run_child(scan_cmd(config), run.folder / "scan", run.env)
    check(child, "incremental scan")
    return added, Scan(child, Counter(graph.endpoints))


def throughput_scan(run: SizeRun) -> Throughput:
    """The same tenant, no latency, no throttling, a fresh store; then the SDK's listing."""
    quick = EntraTenant(run.size, seed=run.args.seed)
    fast = BenchGraph(quick, latency=0.0, throttle=False)
    fast.add_client(CLIENT_ID, secret=run.secret)
    folder = run.folder / "fast"
    with LoopbackServer(fast, tls=True) as server:
        assert server.ca_path is not None
        config = write_config(folder, server.url, server.ca_path, fast.tenant, 0.001)
        (folder / "shadowit.db").unlink(missing_ok=True)
        say(f"[{run.name}] throughput scan (no latency, no throttling)")
        profile = run.folder / "scan.prof" if run.args.profile else None
        child = run_child(scan_cmd(config, "--full", profile=profile), folder, run.env)
        check(child, "throughput scan")
        top = top_of_profile(profile) if profile else None
        sdk = sdk_listing(run, fast, server.url, server.ca_path) if run.wants_sdk else None
    return Throughput(child, top, sdk)


def sdk_listing(run: SizeRun, fast: BenchGraph, url: str, ca_path: str) -> dict[str, Any] | None:
    # The SDK lists on the same unthrottled stand-in: throttled, its retry handler waits
    # 3 s and more per 429 in real time (it reads Retry-After with int(), and Graph's
    # fractional values fail), which no time scale shrinks; see bench/README.md.
    fast.reset_counts()
    say(f"[{run.name}] msgraph-sdk listing (same stand-in)")
    sdk = run_sdk(url, ca_path, fast.tenant, run.env, run.folder)
    if sdk is not None:
        sdk["requests"] = sum(fast.endpoints.values())
    return sdk


def size_figures(run: SizeRun, scans: Throttled, thr: Child) -> dict[str, Any]:
    """requests, wall, throughput, incremental and store, as results.json holds them."""
    full = scans.full.child
    full_bounds = lower_bounds(run.tenant, run.size.signins, full=True)
    inc_bounds = lower_bounds(run.tenant, scans.added + 1, full=False)
    requests = requests_figure(full_bounds, scans.full.counts, scans.throttled)
    return {
        "requests": requests,
        "wall": wall_figure(full.wall, full_bounds, run.args.latency, run.period),
        "throughput": throughput_figure(
            run.size.signins, thr.wall, thr.rss_mb, full.rss_mb, signin_bytes(run.tenant)
        ),
        "incremental": incremental_figure(
            scans.added,
            inc_bounds,
            scans.incremental.counts,
            requests["made"],
            scans.incremental.child.wall,
            full.wall,
        ),
        "store": store_figure(scans.store_bytes, run.size.users),
    }


def sdk_figure(run: SizeRun, fast: Throughput) -> dict[str, Any] | None:
    """The SDK's listing beside the throughput scan; None when the size does not compare."""
    sdk, thr = fast.sdk, fast.child
    if sdk is not None:
        sdk["compared_with"] = "throughput scan (same stand-in; it also lists users and stores)"
        sdk["time_ratio_vs_shadowit"] = round(sdk["seconds_wall"] / thr.wall, 3)
        sdk["memory_ratio_vs_shadowit"] = round(sdk["peak_rss_mb"] / thr.rss_mb, 3)
        return sdk
    if run.wants_sdk:
        return {"measured": False, "reason": SDK_REASON[0]}
    return None


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
    ratio = figures.get("ratio_to_floor_json")
    return {
        "label": "in-process, no HTTP: Graph sign-in pages as bytes (full documented shape) -> "
        "decode -> parse_signin -> Store.ingest (Checkpoint every page) -> inventory.build -> "
        "reconcile; the floor script (bench/floor.py) on the same pages",
        **figures,
        "floor_ratio_target": FLOOR_RATIO_TARGET,
        "floor_verdict": verdict(ratio <= FLOOR_RATIO_TARGET) if ratio is not None else None,
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
