"""The benchmark's tenant, stand-in and figures on the small size (no timing assertions)."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest

from bench import figures as bench_figures
from bench import run as bench_run
from bench.servers import BenchGraph, endpoint_of
from bench.tenant import SIZES, EntraTenant, Lazy, guid, parse_guid
from connectors.testing.server import LoopbackServer
from scanner.net.http import new_session


def test_tenant_is_deterministic_and_lazy() -> None:
    one, two = EntraTenant(SIZES["large"], seed=3), EntraTenant(SIZES["large"], seed=3)
    assert one.user(99_999) == two.user(99_999)
    assert one.signin(123_456)["id"] == two.signin(123_456)["id"]
    assert EntraTenant(SIZES["large"], seed=4).user(5) != one.user(5)
    signins = one.signins()
    assert isinstance(signins, Lazy) and len(signins) == 1_000_000
    page = signins[0:1000]
    assert len(page) == 1000
    # Newest first.
    assert page[0]["createdDateTime"] > page[-1]["createdDateTime"]
    with pytest.raises(IndexError):
        signins[1_000_000]


def test_guid_round_trip_and_lookup() -> None:
    assert parse_guid(guid(7, 2, 4321), 2) == 4321
    assert parse_guid(guid(7, 2, 4321), 1) is None
    tenant = EntraTenant(SIZES["small"])
    assert tenant.sp_index(tenant.sp_id(42)) == 42
    assert tenant.sp_index("not-a-guid") is None


def test_signins_since_is_an_exact_time_filter() -> None:
    tenant = EntraTenant(SIZES["small"], seed=1)
    cut = tenant.signin_time(4_000) + timedelta(microseconds=1)
    newer = tenant.signins_since(cut)
    assert len(newer) == tenant.size.signins - 4_001
    stamps = [s["createdDateTime"] for s in (newer[len(newer) - 1], newer[0])]
    assert all(s >= cut.strftime("%Y-%m-%dT%H:%M:%S") for s in stamps)
    assert tenant.grow_signins() == 100
    assert len(tenant.signins_since(cut)) == tenant.size.signins - 4_001 + 100


def test_stand_in_pages_and_throttles_reports() -> None:
    tenant = EntraTenant(SIZES["small"])
    graph = BenchGraph(tenant, time_scale=1.0, latency=0.0)
    graph.add_client("c", secret="s")
    with LoopbackServer(graph, tls=True) as server:
        session = new_session(server.ca_path)
        token = session.post(
            f"{server.url}/{graph.tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "c",
                "client_secret": "s",
                "scope": f"{server.url}/.default",
            },
        ).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        users = session.get(f"{server.url}/v1.0/users", params={"$top": 999}).json()
        assert len(users["value"]) == 500 and "@odata.nextLink" not in users
        answers = [
            session.get(f"{server.url}/v1.0/auditLogs/signIns", params={"$top": 1000})
            for _ in range(6)
        ]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert float(answers[-1].headers["Retry-After"]) > 0
    assert len(answers[0].json()["value"]) == 1000
    assert graph.endpoints[endpoint_of("GET", "/v1.0/auditLogs/signIns")] == 6


def test_lower_bounds_and_floor() -> None:
    tenant = EntraTenant(SIZES["medium"])
    bounds = bench_figures.lower_bounds(tenant, tenant.size.signins, full=True)
    assert bounds["sign-ins"] == 200
    assert bounds["users"] == math.ceil(10_000 / 999)
    floor = bench_figures.floors(bounds, latency=0.03, period=10.0)
    reports = 200 + bounds["sign-in activity"] + 1
    assert floor["reports"] == pytest.approx(((reports - 1) // 5) * 10.0 + 0.03)
    assert floor["overlapped"] == max(floor["reports"], floor["directory"])


def test_small_benchmark_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = bench_run.main(["--sizes", "small", "--no-sdk", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())["results"][0]
    assert result["size"] == "small"
    per = result["requests"]["per_collection"]
    assert per["sign-ins"]["made"] >= per["sign-ins"]["lower_bound"] == 10
    for figure in ("requests", "wall", "throughput", "incremental"):
        assert result[figure]["verdict"] in ("PASS", "MISS")
    assert result["incremental"]["new_events"] == 100
    assert result["store"]["bytes"] > 0
