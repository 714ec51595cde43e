"""Page iterators for the three paging styles our providers use.

- Microsoft Graph: follow ``@odata.nextLink`` verbatim until absent; a delta round ends with
  ``@odata.deltaLink`` (https://learn.microsoft.com/en-us/graph/paging,
  https://learn.microsoft.com/en-us/graph/delta-query-overview).
- Google APIs: ``nextPageToken`` passed back as ``pageToken``.
- Okta: ``Link: <...>; rel="next"`` (https://developer.okta.com/docs/api/#pagination).

All three share one loop (``_follow``) that guards against a server that loops or stalls: a
next link or token seen before, ``MAX_EMPTY_PAGES`` empty pages in a row that still point
further, or ``MAX_REPEATED_PAGES`` pages in a row whose item ids were all seen earlier in the
listing (a loop whose link changes at every step, e.g. a counter in the query), end the listing
with a ResponseShapeError instead of spinning forever, and ``max_pages`` bounds it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from scanner.core.errors import ResponseShapeError
from scanner.net.http import HttpClient, safe_url

MAX_PAGES = 1_000_000
MAX_EMPTY_PAGES = 100
"""Empty pages in a row that still point further: a stalled listing, not a slow one."""
MAX_REPEATED_PAGES = 3
"""Pages in a row made only of items already seen in this listing: a loop, not an overlap."""
RECENT_PAGES = 200
"""How many earlier pages' item ids are remembered one by one (older pages by fingerprint)."""


@dataclass(frozen=True)
class Page:
    """One page of items, with the link that continues the listing (None at the end)."""

    items: list[Any]
    next: str | None
    delta_link: str | None = None


def odata_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    pace: str | None = None,
    max_pages: int = MAX_PAGES,
) -> Iterator[Page]:
    """Yield Graph pages. Headers (e.g. ConsistencyLevel) are re-sent on every page."""

    def fetch(link: str | None) -> Page:
        page_url = link or url
        body, _resp = client.get_json(
            page_url, params=None if link else params, headers=headers, pace=pace
        )
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise ResponseShapeError(
                client.source, f"{safe_url(page_url)} answered without a 'value' list"
            )
        if not all(isinstance(item, dict) for item in body["value"]):
            raise ResponseShapeError(
                client.source, f"{safe_url(page_url)} answered with an item that is not an object"
            )
        return Page(body["value"], body.get("@odata.nextLink"), body.get("@odata.deltaLink"))

    return _follow(client.source, fetch, _LinkWords(url), max_pages)


def token_pages(
    source: str,
    fetch: Callable[[str | None], Mapping[str, Any]],
    items_key: str,
    max_pages: int = MAX_PAGES,
) -> Iterator[Page]:
    """Yield pages from a ``pageToken``/``nextPageToken`` API; ``fetch(token)`` gets one page."""

    def page(token: str | None) -> Page:
        body = fetch(token)
        if not isinstance(body, Mapping):
            kind = {list: "array", str: "string"}.get(type(body), type(body).__name__)
            raise ResponseShapeError(source, f"a page answered with a JSON {kind}, not an object")
        items = body.get(items_key) or []
        if not isinstance(items, list):
            raise ResponseShapeError(source, f"'{items_key}' is not a list")
        return Page(list(items), body.get("nextPageToken") or None)

    return _follow(source, page, _TokenWords(), max_pages)


def link_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    pace: str | None = None,
    stop_on_empty: bool = False,
    max_pages: int = MAX_PAGES,
) -> Iterator[Page]:
    """Yield pages of a JSON-array API paged by ``Link: rel="next"`` (Okta).

    ``stop_on_empty`` ends a System Log *polling* listing, whose next link is always present.
    """

    def fetch(link: str | None) -> Page:
        page_url = link or url
        body, response = client.get_json(page_url, params=None if link else params, pace=pace)
        if not isinstance(body, list):
            raise ResponseShapeError(
                client.source, f"{safe_url(page_url)} answered without a JSON array"
            )
        following = None if stop_on_empty and not body else next_link(response)
        return Page(body, following)

    return _follow(client.source, fetch, _LinkWords(url), max_pages)


class _LinkWords:
    """How errors name a listing continued by URLs (host and path only)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def loop(self, link: str) -> str:
        return f"{safe_url(link)} sent a next link that loops back to a page"

    def empty(self, link: str) -> str:
        return f"{safe_url(link)} sent {MAX_EMPTY_PAGES} empty pages in a row"

    def too_many(self, max_pages: int) -> str:
        return f"{safe_url(self.url)} has more than {max_pages} pages"

    def repeats(self, link: str) -> str:
        return (
            f"{safe_url(link)} sent {MAX_REPEATED_PAGES} pages in a row of items it had already "
            "sent in this listing (a loop)"
        )


class _TokenWords:
    """How errors name a listing continued by page tokens (never shown: they are opaque)."""

    def loop(self, _token: str) -> str:
        return "a nextPageToken loops back to an earlier page"

    def empty(self, _token: str) -> str:
        return f"{MAX_EMPTY_PAGES} empty pages in a row"

    def too_many(self, max_pages: int) -> str:
        return f"more than {max_pages} pages"

    def repeats(self, _token: str) -> str:
        return f"{MAX_REPEATED_PAGES} pages in a row of items already sent in this listing (a loop)"


def _follow(
    source: str,
    fetch: Callable[[str | None], Page],
    words: _LinkWords | _TokenWords,
    max_pages: int,
) -> Iterator[Page]:
    """Fetch pages until one has no continuation; stop a server that loops or stalls."""
    seen: set[str] = set()
    repeats = _Repeats()
    cursor: str | None = None
    empty_streak = 0
    repeat_streak = 0
    for _ in range(max_pages):
        page = fetch(cursor)
        yield page
        if not page.next:
            return
        if page.next in seen:
            raise ResponseShapeError(source, words.loop(page.next))
        empty_streak = 0 if page.items else empty_streak + 1
        if empty_streak >= MAX_EMPTY_PAGES:
            raise ResponseShapeError(source, words.empty(page.next))
        repeat_streak = repeat_streak + 1 if repeats.all_seen(page.items) else 0
        if repeat_streak >= MAX_REPEATED_PAGES:
            raise ResponseShapeError(source, words.repeats(page.next))
        seen.add(page.next)
        cursor = page.next
    raise ResponseShapeError(source, words.too_many(max_pages))


class _Repeats:
    """Remembers item ids of a listing in bounded memory: the last pages' ids one by one, and a
    fingerprint of every page's id set, so an A, B, A, B loop is caught however long ago A was.
    """

    def __init__(self) -> None:
        self._recent: deque[frozenset[int]] = deque()
        self._counts: Counter[int] = Counter()
        self._pages: set[int] = set()

    def all_seen(self, items: list[Any]) -> bool:
        ids = frozenset(
            _item_key(item) for item in items if isinstance(item, dict) and "id" in item
        )
        if not ids or len(ids) < len(items):
            return False  # items without ids cannot be told apart: never call them a loop
        fingerprint = hash(ids)
        seen = fingerprint in self._pages or all(key in self._counts for key in ids)
        self._pages.add(fingerprint)
        self._recent.append(ids)
        self._counts.update(ids)
        if len(self._recent) > RECENT_PAGES:
            for key in self._recent.popleft():
                left = self._counts[key] - 1
                if left:
                    self._counts[key] = left
                else:
                    del self._counts[key]
        return seen


def _item_key(item: dict[str, Any]) -> int:
    value = item["id"]
    return hash(value) if isinstance(value, str | int) else hash(repr(value))


def next_link(response: requests.Response) -> str | None:
    """The ``rel="next"`` URL of a response's Link header(s), if any."""
    link = response.links.get("next")
    return link.get("url") if link else None
