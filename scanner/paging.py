"""Page iterators for the three paging styles our providers use.

- Microsoft Graph: follow ``@odata.nextLink`` verbatim until absent; a delta round ends with
  ``@odata.deltaLink`` (https://learn.microsoft.com/en-us/graph/paging,
  https://learn.microsoft.com/en-us/graph/delta-query-overview).
- Google APIs: ``nextPageToken`` passed back as ``pageToken``.
- Okta: ``Link: <...>; rel="next"`` (https://developer.okta.com/docs/api/#pagination).

Each iterator guards against a server that loops: a next link or token seen before ends the
listing with a ResponseShapeError instead of spinning forever, and ``max_pages`` bounds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from scanner.errors import ResponseShapeError
from scanner.http import HttpClient, safe_url

MAX_PAGES = 1_000_000


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
    seen: set[str] = set()
    next_url: str | None = url
    next_params = params
    for _ in range(max_pages):
        assert next_url is not None
        body, _resp = client.get_json(next_url, params=next_params, headers=headers, pace=pace)
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise ResponseShapeError(
                client.source, f"{safe_url(next_url)} answered without a 'value' list"
            )
        if not all(isinstance(item, dict) for item in body["value"]):
            raise ResponseShapeError(
                client.source, f"{safe_url(next_url)} answered with an item that is not an object"
            )
        link = body.get("@odata.nextLink")
        yield Page(body["value"], link, body.get("@odata.deltaLink"))
        if not link:
            return
        if link in seen:
            raise ResponseShapeError(
                client.source, f"{safe_url(link)} sent a next link that loops back to a page"
            )
        seen.add(link)
        next_url, next_params = link, None
    raise ResponseShapeError(client.source, f"{safe_url(url)} has more than {max_pages} pages")


def token_pages(
    source: str,
    fetch: Callable[[str | None], Mapping[str, Any]],
    items_key: str,
    max_pages: int = MAX_PAGES,
) -> Iterator[Page]:
    """Yield pages from a ``pageToken``/``nextPageToken`` API; ``fetch(token)`` gets one page."""
    seen: set[str] = set()
    token: str | None = None
    for _ in range(max_pages):
        body = fetch(token)
        if not isinstance(body, Mapping):
            kind = {list: "array", str: "string"}.get(type(body), type(body).__name__)
            raise ResponseShapeError(source, f"a page answered with a JSON {kind}, not an object")
        items = body.get(items_key) or []
        if not isinstance(items, list):
            raise ResponseShapeError(source, f"'{items_key}' is not a list")
        token = body.get("nextPageToken") or None
        yield Page(list(items), token)
        if not token:
            return
        if token in seen:
            raise ResponseShapeError(source, "a nextPageToken loops back to an earlier page")
        seen.add(token)
    raise ResponseShapeError(source, f"more than {max_pages} pages")


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
    seen: set[str] = set()
    next_url: str | None = url
    next_params = params
    for _ in range(max_pages):
        assert next_url is not None
        body, response = client.get_json(next_url, params=next_params, pace=pace)
        if not isinstance(body, list):
            raise ResponseShapeError(
                client.source, f"{safe_url(next_url)} answered without a JSON array"
            )
        link = next_link(response)
        if stop_on_empty and not body:
            link = None
        yield Page(body, link)
        if not link:
            return
        if link in seen:
            raise ResponseShapeError(
                client.source, f"{safe_url(link)} sent a next link that loops back to a page"
            )
        seen.add(link)
        next_url, next_params = link, None
    raise ResponseShapeError(client.source, f"{safe_url(url)} has more than {max_pages} pages")


def next_link(response: requests.Response) -> str | None:
    """The ``rel="next"`` URL of a response's Link header(s), if any."""
    link = response.links.get("next")
    return link.get("url") if link else None
