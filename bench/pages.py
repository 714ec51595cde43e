"""The bench tenant's sign-ins as Graph answers (bytes), made lazily, page by page.

``SignInPages`` yields the bodies a ``GET /auditLogs/signIns?$top=1000`` listing returns, newest
first (descending ``createdDateTime``, 1,000 a page at most, as Graph lists sign-ins:
https://learn.microsoft.com/en-us/graph/api/signin-list), each made when asked, so no run holds
the listing. It times its own making (``generate_s``), which the figures subtract, and counts the
bytes and a CRC of everything it yielded, so two passes can show they read the same pages.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator

import orjson

from bench.signin_shape import page_body
from bench.tenant import EntraTenant

PAGE = 1000
"""Sign-ins a page: the largest sign-in page Graph serves."""

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""``wall`` is what a user waits; ``cpu`` (this process's CPU time) is steadier on a machine
that other work shares, for comparing two trees."""


class SignInPages:
    """The newest ``events`` sign-ins of ``tenant`` as page bodies; iterate once per pass."""

    def __init__(
        self,
        tenant: EntraTenant,
        events: int,
        page: int = PAGE,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock
        self.tenant = tenant
        self.events = events
        self.page = page
        self.generate_s = 0.0
        self.bytes = 0
        self.crc = 0

    def __iter__(self) -> Iterator[bytes]:
        self.generate_s, self.bytes, self.crc = 0.0, 0, 0
        newest = self.events - 1
        for top in range(newest, -1, -self.page):
            began = self.clock()
            items = [self.tenant.signin(o) for o in range(top, max(top - self.page, -1), -1)]
            link = f"https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=p{top}"
            body = page_body(items, link if top >= self.page else None)
            self.crc = zlib.crc32(body, self.crc)
            self.generate_s += self.clock() - began
            self.bytes += len(body)
            yield body

    @property
    def bytes_per_event(self) -> int:
        return round(self.bytes / max(self.events, 1))


def signin_bytes(tenant: EntraTenant, sample: int = 1000) -> int:
    """The mean size of the tenant's sign-ins as Graph sends them (compact JSON), in bytes."""
    count = min(sample, tenant.size.signins)
    step = max(tenant.size.signins // max(count, 1), 1)
    total = sum(len(orjson.dumps(tenant.signin(o))) for o in range(0, step * count, step))
    return round(total / max(count, 1))
