"""Sign-ins through Graph vs counted where the logs live, for a 100,000-person tenant.

    python -m bench.log_engines [--people 100000] [--events 10000000] [--sample-people 1000]

The Graph path is projected from its documented pacing: 1,000 sign-ins a page and 5 requests
per 10 s for identity reports (https://learn.microsoft.com/en-us/graph/throttling-limits), so
every event crosses the wire. The log-engine paths are measured on a small sample tenant with
the same events per person and day, through the real readers:

- Log Analytics: ``LogAnalyticsSignins`` (azure-monitor-query) against the loopback query API
  stand-in, one day; rows per person and seconds per query are measured, then projected with
  the documented limits (500,000 rows an answer, 5 queries at once, 200 per 30 s);
- BigQuery: the generated SQL run by DuckDB (via sqlglot) over the export's schema; rows
  per person measured, pages of 10,000 rows projected.

Printed as one table with ratios (API path / log-engine path). Cheap at the default sample.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from connectors.testing.server import LoopbackServer

GRAPH_PAGE, GRAPH_CALLS, GRAPH_PERIOD = 1000, 5, 10.0
LA_MAX_ROWS, LA_CONCURRENCY, LA_RATE = 500_000, 5, 200 / 30.0
BQ_PAGE = 10_000
DAY = date(2026, 11, 24)


class _Token:
    """Stands for the msal token source: the stand-in accepts any bearer token."""

    scope = "https://api.loganalytics.io/.default"

    def token(self) -> str:
        return "bench-token"


def sample_events(people: int, per_person: int, apps: int, seed: int = 7) -> list[dict[str, Any]]:
    """One day of sign-ins: each person uses a handful of apps, 5 % of attempts fail."""
    rng = random.Random(seed)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    rows = []
    for person in range(people):
        own = rng.sample(range(apps), k=min(apps, rng.randint(3, 12)))
        for _ in range(per_person):
            at = start + timedelta(seconds=rng.randrange(86_400))
            app = rng.choice(own)
            rows.append(
                {
                    "TimeGenerated": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "AppId": f"app-{app:04d}",
                    "AppDisplayName": f"App {app}",
                    "UserId": f"user-{person:06d}",
                    "UserPrincipalName": f"user{person}@example.com",
                    "ResultType": "50126" if rng.random() < 0.05 else "0",
                }
            )
    return rows


def measure_log_analytics(events: list[dict[str, Any]], shards: int) -> dict[str, float]:
    from connectors.entra.log_analytics import LogAnalyticsSignins
    from connectors.entra.settings import EntraSettings
    from connectors.testing.log_analytics import FakeLogAnalytics
    from scanner.core.models import SignInDay

    now = datetime(DAY.year, DAY.month, DAY.day, 23, tzinfo=UTC)
    fake = FakeLogAnalytics("bench-ws", {"SigninLogs": events}, now)
    with LoopbackServer(fake, tls=True) as server:
        session = requests.Session()
        session.trust_env, session.verify = False, server.ca_path
        settings = EntraSettings(
            tenant_id="bench",
            client_id="bench",
            signins="log_analytics",
            workspace_id="bench-ws",
            log_analytics_url=server.url,
            log_analytics_shards=shards,
            signin_lookback_days=1,
            log_analytics_trailing_days=1,
        )
        reader = LogAnalyticsSignins(settings, _Token(), session, time.sleep, now)  # type: ignore[arg-type]
        began = time.perf_counter()
        records = list(reader.collect(None))
        elapsed = time.perf_counter() - began
    rows = sum(1 for r in records if isinstance(r, SignInDay))
    return {"rows": rows, "queries": len(fake.queries), "seconds": elapsed}


def measure_bigquery(events: list[dict[str, Any]]) -> int:
    import duckdb
    import pandas

    from connectors.google.bigquery import signin_sql, window_parameters
    from connectors.testing.bigquery import ACTIVITY_DDL, to_duckdb

    db = duckdb.connect(":memory:")
    db.execute(ACTIVITY_DDL.format(table="activity"))
    frame = pandas.DataFrame(
        {
            "t": [
                int(datetime.fromisoformat(e["TimeGenerated"]).timestamp() * 1e6) for e in events
            ],
            "email": [e["UserPrincipalName"] for e in events],
            "ok": [e["ResultType"] == "0" for e in events],
            "app": [e["AppDisplayName"] for e in events],
        }
    )
    db.register("sample", frame)
    db.execute(
        "INSERT INTO activity (time_usec, email, event_name, record_type, _PARTITIONTIME, saml) "
        "SELECT t, email, CASE WHEN ok THEN 'login_success' ELSE 'login_failure' END, 'saml', "
        "?, struct_pack(application_name := app, initiated_by := NULL, status_code := NULL, "
        "failure_type := NULL) FROM sample",
        [datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)],
    )
    params = {p.name: p.value for p in window_parameters(DAY, DAY + timedelta(days=1))}
    sql = to_duckdb(signin_sql("activity"))
    return len(db.execute(sql, params).fetchall())


def figures(people: int, events: int, sample_people: int, shards: int) -> list[tuple[str, ...]]:
    per_person = max(1, events // people)
    sample = sample_events(sample_people, per_person, apps=200)
    la = measure_log_analytics(sample, shards)
    bq_rows = measure_bigquery(sample)
    scale = people / sample_people
    la_rows = la["rows"] * scale
    la_shards = max(1, math.ceil(la_rows / (LA_MAX_ROWS / 2)))  # half the cap as headroom
    la_requests = la_shards + 1  # + the freshness probe
    per_query = la["seconds"] / la["queries"] * (scale / (la_shards / shards))
    la_wall = max(la_requests / LA_RATE, math.ceil(la_requests / LA_CONCURRENCY) * per_query)
    graph_requests = math.ceil(events / GRAPH_PAGE)
    graph_wall = graph_requests * GRAPH_PERIOD / GRAPH_CALLS
    bq_rows_full = bq_rows * scale
    bq_requests = 1 + math.ceil(bq_rows_full / BQ_PAGE)
    return [
        ("path", "rows moved / day", "requests / day", "projected wall / day"),
        ("Graph sign-in listing", f"{events:,}", f"{graph_requests:,}", f"{graph_wall:,.0f} s"),
        ("Log Analytics summarize", f"{la_rows:,.0f}", f"{la_requests:,}", f"{la_wall:,.1f} s"),
        ("BigQuery export GROUP BY", f"{bq_rows_full:,.0f}", f"{bq_requests:,}", "-"),
        (
            "ratio Graph / Log Analytics",
            f"{events / la_rows:,.1f}x",
            f"{graph_requests / la_requests:,.0f}x",
            f"{graph_wall / la_wall:,.0f}x",
        ),
        (
            "measured on sample",
            f"{sample_people:,} people, {len(sample):,} events",
            f"{la['queries']:.0f} queries",
            f"{la['seconds']:.2f} s",
        ),
    ]


def render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--sample-people", type=int, default=1_000)
    parser.add_argument("--shards", type=int, default=2)
    args = parser.parse_args(argv)
    print(render(figures(args.people, args.events, args.sample_people, args.shards)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
