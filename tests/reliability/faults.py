"""Misbehaving servers for the fault suites.

``PagedFake`` serves one collection in the three paging styles our providers use (Graph
``@odata.nextLink``, Google ``nextPageToken``, Okta ``Link: rel="next"``) and can be told to
loop a next link back, repeat a page's items or send empty pages. ``RawServer`` speaks raw
TCP on 127.0.0.1 so a test can reset a connection, cut a body short or stall past the read
timeout, which no WSGI fake can do.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.testing.base import FakeProvider, json_response, page_slice, parse_int

SECRET = "s3cr3t-T0KEN-do-not-print"
"""Sent as a bearer token and in query strings; must never appear in a message or log."""


class PagedFake(FakeProvider):
    """``/graph/items``, ``/google/items`` and ``/okta/items`` over the same ``items``."""

    def __init__(self, items: list[dict[str, Any]], page_size: int = 3) -> None:
        super().__init__()
        self.items = items
        self.page_size = page_size
        self.next_override: dict[int, int] = {}
        """Page start -> the start its next link points to (a loop when it points back)."""
        self.repeat: dict[int, int] = {}
        """Page start -> the earlier start whose items it serves instead (a repeated page)."""
        self.empty: set[int] = set()
        """Page starts that answer no items but still link on."""
        self.endless_empty = False
        """Every page is empty and links to a new page (a server that never ends)."""
        self.route("GET", "/graph/items", self._graph)
        self.route("GET", "/google/items", self._google)
        self.route("GET", "/okta/items", self._okta)

    def _page(self, start: int) -> tuple[list[dict[str, Any]], int | None]:
        if self.endless_empty:
            return [], start + 1
        chunk, nxt = page_slice(self.items, self.repeat.get(start, start), self.page_size)
        if start in self.repeat:
            nxt = start + self.page_size
        if start in self.empty:
            chunk = []
        if start in self.next_override:
            nxt = self.next_override[start]
        return chunk, nxt

    def _start(self, request: Request, name: str) -> int:
        return parse_int(request.args.get(name), 0, 0, 10**9)

    def _graph(self, request: Request) -> Response:
        chunk, nxt = self._page(self._start(request, "$skiptoken"))
        body: dict[str, Any] = {"value": chunk}
        if nxt is not None:
            body["@odata.nextLink"] = f"{request.host_url}graph/items?$skiptoken={nxt}"
        return json_response(body)

    def _google(self, request: Request) -> Response:
        chunk, nxt = self._page(self._start(request, "pageToken"))
        body: dict[str, Any] = {"items": chunk}
        if nxt is not None:
            body["nextPageToken"] = str(nxt)
        return json_response(body)

    def _okta(self, request: Request) -> Response:
        chunk, nxt = self._page(self._start(request, "after"))
        headers = {}
        if nxt is not None:
            headers["Link"] = f'<{request.host_url}okta/items?after={nxt}>; rel="next"'
        return json_response(chunk, headers=headers)


def items(count: int) -> list[dict[str, Any]]:
    return [{"id": f"item-{i:03d}", "displayName": f"App {i}"} for i in range(count)]


class RawServer:
    """A TCP server on 127.0.0.1 answering each connection by the next scripted behaviour.

    Behaviours: ``reset`` (RST before any answer), ``truncate`` (a 200 whose body stops
    halfway), ``stall`` (accept and say nothing for ``stall_seconds``), ``ok`` (a JSON 200).
    When the script runs out, every later connection gets ``after``.
    """

    def __init__(self, script: list[str], after: str = "ok", stall_seconds: float = 2.0) -> None:
        self.script = list(script)
        self.after = after
        self.stall_seconds = stall_seconds
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            mode = self.script.pop(0) if self.script else self.after
            threading.Thread(target=self._answer, args=(conn, mode), daemon=True).start()

    def _answer(self, conn: socket.socket, mode: str) -> None:
        try:
            conn.settimeout(5)
            conn.recv(65536)
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode == "truncate":
                body = b'{"value": [{"id": "a"}, {"id": "b"}], "@odata.nextLink": null}'
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                conn.sendall(head.encode() + body[: len(body) // 2])
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode == "stall":
                time.sleep(self.stall_seconds)
            else:
                body = b'{"value": [{"id": "a"}]}'
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                conn.sendall(head.encode() + body)
        except OSError:
            pass
        finally:
            conn.close()

    @contextmanager
    def running(self) -> Iterator[RawServer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._sock.close()
            self._thread.join(timeout=2)
