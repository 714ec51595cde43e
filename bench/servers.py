"""The Graph stand-in the benchmark scans: the project's FakeGraph over a lazy tenant.

``BenchGraph`` subclasses ``connectors.testing.graph.FakeGraph`` and only replaces what would
copy or scan the whole tenant per request (the constructor's ``list()``, the linear look-ups by
id, the per-request sign-in filter and sort): collections are ``bench.tenant.Lazy`` views, so
the server never holds more than one page.

Throttling is modelled on Microsoft's documented limits
(https://learn.microsoft.com/en-us/graph/throttling-limits), each window divided by
``time_scale`` so a 2,000 s floor becomes 20 s at scale 100 while the ratio to the floor keeps
its meaning:

- identity reports (``auditLogs/signIns``, ``auditLogs/directoryAudits``, beta ``reports``):
  5 requests per 10 s per app per tenant, one budget shared by all of them;
- directory reads (identity and access service, large tenant): 8,000 resource units per 10 s per
  app per tenant, one unit per request (endpoints not listed in the cost table cost 1).

Beyond a window the server answers 429 with a fractional ``Retry-After``, as Graph does.
Every answer waits ``latency`` seconds first (default 30 ms).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from bench.tenant import EntraTenant
from connectors.testing.base import json_response
from connectors.testing.graph import FakeGraph

DEFAULT_LATENCY = 0.030
"""Seconds every answer waits: a typical round trip to a cloud API from a nearby VM."""


@dataclass
class Family:
    """One throttling budget shared by every request under any of ``prefixes``."""

    name: str
    prefixes: tuple[str, ...]
    calls: int
    period: float
    stamps: deque[float] = field(default_factory=deque)


def graph_families(time_scale: float) -> list[Family]:
    """Graph's documented budgets, windows divided by ``time_scale``."""
    return [
        Family(
            "reports",
            ("/v1.0/auditLogs", "/beta/auditLogs", "/beta/reports"),
            calls=5,
            period=10.0 / time_scale,
        ),
        Family("directory", ("/v1.0/",), calls=8_000, period=10.0 / time_scale),
    ]


_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def endpoint_of(method: str, path: str) -> str:
    """``GET /v1.0/servicePrincipals/{id}/appRoleAssignments``: ids folded for counting."""
    return f"{method} {_GUID.sub('{id}', path)}"


class BenchGraph(FakeGraph):
    """FakeGraph serving an ``EntraTenant`` lazily, with modelled throttling."""

    def __init__(
        self,
        tenant: EntraTenant,
        *,
        time_scale: float = 1.0,
        latency: float = DEFAULT_LATENCY,
        throttle: bool = True,
    ) -> None:
        super().__init__()
        self.bench = tenant
        self.users = tenant.users()  # type: ignore[assignment]
        self.service_principals = tenant.service_principals()  # type: ignore[assignment]
        self.grants = tenant.grants()  # type: ignore[assignment]
        self.sp_activities = tenant.activities()  # type: ignore[assignment]
        self.set_latency(latency)
        self.families = graph_families(time_scale) if throttle else []
        self.endpoints: Counter[str] = Counter()
        self._family_lock = threading.Lock()

    # -- lazy replacements for FakeGraph's whole-list operations ----------------------------
    def _sp_by_id(self, object_id: str) -> dict[str, Any] | None:
        index = self.bench.sp_index(object_id)
        return None if index is None else self.bench.service_principal(index)

    def _assignments(self, request: Request, object_id: str) -> Response:
        index = self.bench.sp_index(object_id)
        if index is None:
            return self._not_found(object_id)
        return self._list(request, self.bench.assignments_of(index), 100, 999)  # type: ignore[arg-type]

    def _delta_items(
        self, since: int | None, kind: str = "servicePrincipals"
    ) -> list[dict[str, Any]]:
        # No user or service principal changes between the benchmark's scans: a delta round
        # after the first one is empty.
        if since is not None:
            return []
        return self.users if kind == "users" else self.service_principals

    def _signins(self, request: Request) -> Response:
        query = request.args.get("$filter", "")
        match = re.search(r"createdDateTime\s+ge\s+(\S+)", query)
        since = None
        if match:
            since = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return self._list(request, self.bench.signins_since(since), 1000, 1000)  # type: ignore[arg-type]

    # -- accounting and throttling ------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        response = super().dispatch(request)
        self.log.clear()  # counted below instead: the log would grow with every request
        with self._family_lock:
            self.endpoints[endpoint_of(request.method, request.path)] += 1
            if response.status_code == 429:
                self.endpoints["429 " + endpoint_of(request.method, request.path)] += 1
        return response

    def _throttle(self, request: Request) -> Response | None:
        family = next(
            (f for f in self.families if request.path.startswith(f.prefixes)),
            None,
        )
        if family is None:
            return None
        now = time.monotonic()
        with self._family_lock:
            while family.stamps and now - family.stamps[0] >= family.period:
                family.stamps.popleft()
            if len(family.stamps) >= family.calls:
                wait = family.period - (now - family.stamps[0])
                self.throttled += 1
                return json_response(
                    self.error_body(429), 429, {"Retry-After": f"{max(wait, 0.001):.3f}"}
                )
            family.stamps.append(now)
        return None

    def reset_counts(self) -> None:
        with self._family_lock:
            self.endpoints.clear()
            self.throttled = 0
