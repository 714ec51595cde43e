"""A registered in-memory connector for pipeline tests: it yields whatever the test put in
``FEED`` (a list of records, or an exception instance to raise at that point)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import connectors
from connectors.base import ConnectorContext, ConnectorSpec, Probe

FEED: list[Any] = []
SEEN_SINCE: list[dict[str, str]] = []


@dataclass(frozen=True)
class FeedSettings:
    enabled: bool = True


class FeedConnector:
    name: ClassVar[str] = "feed"

    def __init__(self, settings: FeedSettings, context: ConnectorContext) -> None:
        self.context = context

    def collect(self, since: Mapping[str, str]) -> Iterator[Any]:
        SEEN_SINCE.append(dict(since))
        for item in list(FEED):
            if isinstance(item, BaseException):
                raise item
            yield item

    def check(self) -> Iterator[Probe]:
        yield Probe("feed", "token", True, "in memory")


connectors.register(ConnectorSpec("feed", FeedSettings, FeedConnector, "test feed"))
