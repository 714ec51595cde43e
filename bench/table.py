"""The table bench/run.py prints: one row per figure, with its value, target and verdict."""

from __future__ import annotations

from typing import Any

from bench.figures import (
    FLOOR_RATIO_TARGET,
    INCREMENTAL_TARGET,
    REQUESTS_TARGET,
    RSS_TARGET_MB,
    WALL_TARGET,
)


class Rows:
    """The table's lines, each column at a fixed width."""

    def __init__(self) -> None:
        self.lines = [f"{'size':7} {'figure':40} {'value':>36} {'target':>18}  verdict"]

    def add(self, size: str, figure: str, value: str, target: str, ok: str) -> None:
        self.lines.append(f"{size:7} {figure:40} {value:>36} {target:>18}  {ok}")


def table(results: list[dict[str, Any]], pipeline: dict[str, Any] | None = None) -> str:
    rows = Rows()
    if pipeline:
        pipeline_rows(rows, pipeline)
    for r in results:
        requests_rows(rows, r["size"], r["requests"], r["wall"])
        scan_rows(rows, r["size"], r["throughput"], r["incremental"], r["store"])
        sdk_rows(rows, r["size"], r.get("msgraph_sdk"))
    return "\n".join(rows.lines)


def per_event(p: dict[str, Any]) -> str:
    """The bytes an event weighs, printed beside every events/s figure."""
    size = p.get("bytes_per_event")
    return f", {size} B/ev" if size else ""


def pipeline_rows(rows: Rows, p: dict[str, Any]) -> None:
    rows.add(
        f"{p['events'] // 1000}k",
        "pipeline events/s (in-process, no HTTP)",
        f"{p['events_per_s']}/s ({p['seconds']} s{per_event(p)})",
        f">= {p['target_events_per_s']}/s",
        p["verdict"],
    )
    rows.add(
        "",
        "  without the synthetic generator",
        f"{p['events_per_s_without_generator']}/s{per_event(p)}",
        "",
        "",
    )
    floor = p.get("floor")
    if floor:
        rows.add(
            "",
            "  pipeline / floor script (json.loads)",
            f"{p['ratio_to_floor_json']}x",
            f"<= {FLOOR_RATIO_TARGET}x",
            p.get("floor_verdict") or "",
        )
        rows.add("", "  pipeline / floor script (orjson)", f"{p['ratio_to_floor_orjson']}x", "", "")
        for label, key in (
            ("  floor json.loads+aggregate+upsert", "floor_json_events_per_s"),
            ("  floor orjson+aggregate+upsert", "floor_orjson_events_per_s"),
            ("  floor: json.loads only", "json_loads_events_per_s"),
            ("  floor: orjson.loads only", "orjson_loads_events_per_s"),
            ("  floor: dict aggregate only", "aggregate_events_per_s"),
        ):
            rows.add("", label, f"{floor[key]}/s{per_event(floor)}", "", "")
        rows.add("", "  floor: SQLite upsert", f"{floor['upsert_rows_per_s']} rows/s", "", "")
    rows.add("", "  peak RSS", f"{p['peak_rss_mb']} MB", f"<= {RSS_TARGET_MB:g} MB", "")


def requests_rows(rows: Rows, s: str, q: dict[str, Any], w: dict[str, Any]) -> None:
    """Requests of the full scan (per collection) and its wall time against the floors."""
    rows.add(
        s,
        "requests vs lower bound",
        f"{q['made']} / {q['lower_bound']} = {q['ratio']}x",
        f"<= {REQUESTS_TARGET}x",
        q["verdict"],
    )
    for coll, v in q["per_collection"].items():
        rows.add(s, f"  {coll}", f"{v['made']} / {v['lower_bound']}", "", "")
    rows.add(
        s,
        "wall vs floor (overlapped)",
        f"{w['seconds']} s / {w['floor_s']} s = {w['ratio']}x",
        f"<= {WALL_TARGET}x",
        w["verdict"],
    )
    rows.add(
        s,
        "  wall vs serial floor",
        f"{w['seconds']} s / {w['floor_serial_s']} s = {w['ratio_serial']}x",
        "",
        "",
    )


def scan_rows(rows: Rows, s: str, t: dict[str, Any], i: dict[str, Any], st: dict[str, Any]) -> None:
    """The throughput scan, the incremental scan and the store size."""
    rows.add(
        s,
        "end-to-end HTTP scan, sign-ins/s",
        f"{t['events_per_s']}/s (1M in {t['projected_1m_s']} s{per_event(t)})",
        f">= {t['target_events_per_s']}/s",
        t["verdict"],
    )
    rows.add(
        s,
        "  peak RSS (throughput / full scan)",
        f"{t['peak_rss_mb']} / {t['full_scan_peak_rss_mb']} MB",
        f"<= {RSS_TARGET_MB:g} MB",
        "",
    )
    rows.add(
        s,
        "incremental requests (1% new)",
        f"{i['requests']} = {i['requests_ratio']:.1%}",
        f"<= {INCREMENTAL_TARGET:.0%}",
        i["verdict"],
    )
    rows.add(
        s,
        "incremental time",
        f"{i['seconds']} s = {i['time_ratio']:.1%}",
        f"<= {INCREMENTAL_TARGET:.0%}",
        "",
    )
    rows.add(s, "store size per 1,000 users", f"{st['kib_per_1000_users']} KiB", "report", "")


def sdk_rows(rows: Rows, s: str, sdk: dict[str, Any] | None) -> None:
    """The msgraph-sdk comparison, when the size ran it."""
    if sdk and sdk.get("measured"):
        rows.add(
            s,
            "msgraph-sdk listing: time / memory",
            f"{sdk['seconds_wall']} s / {sdk['peak_rss_mb']} MB",
            "report",
            "",
        )
        rows.add(
            s,
            "  ratio sdk / shadowit (unthrottled)",
            f"{sdk['time_ratio_vs_shadowit']}x time, {sdk['memory_ratio_vs_shadowit']}x mem",
            "",
            "",
        )
    elif sdk:
        rows.add(s, "msgraph-sdk listing", "not measured", "", "")
