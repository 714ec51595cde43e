"""Servers that misbehave the way proxies, captive portals and attackers do.

Each case runs the real HTTP layer (``scanner.net.http``, ``scanner.net.paging`` and the Google
transport bridge) against a raw socket server on 127.0.0.1 and asserts the exact outcome: the
error type and its one line (host and path only, never the token or a query string), how many
requests were made, and, for foreign links and redirects, that the foreign listener never
received a single byte, so no credential left its origin.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from connectors.google.transport import BoundedHttp
from scanner.core.errors import DeadlineExceeded, ResponseShapeError, RetryableError
from scanner.net.http import MIB, HttpClient, RetryPolicy, TransportProblem
from scanner.net.paging import link_pages, odata_pages
from tests.reliability.conftest import Observe
from tests.reliability.faults import SECRET

Handler = Callable[[socket.socket, bytes, "Server"], None]


class Server:
    """Accepts connections on 127.0.0.1 and lets ``handler(conn, request, server)`` answer.

    Records every request it received (the raw bytes), so a test can assert that a foreign
    listener saw nothing at all.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[bytes] = []
        self.state: dict[str, Any] = {}
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            request = conn.recv(65536)
            self.received.append(request)
            self.handler(conn, request, self)
        except OSError:
            pass
        finally:
            conn.close()

    @contextmanager
    def running(self) -> Iterator[Server]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._sock.close()
            self._thread.join(timeout=2)


def answer(conn: socket.socket, body: bytes, status: str = "200 OK", extra: str = "") -> None:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    conn.sendall(head.encode() + body)


def path_of(request: bytes) -> str:
    return request.split(b" ", 2)[1].decode()


def client(
    attempts: int = 2,
    timeout: float = 5.0,
    origins: tuple[str, ...] = (),
    setting: str = "graph_url",
    **policy: Any,
) -> HttpClient:
    return HttpClient(
        "entra",
        policy=RetryPolicy(attempts=attempts, timeout=timeout, sleep=lambda _s: None, **policy),
        auth=lambda: {"Authorization": f"Bearer {SECRET}"},
        origins=origins,
        origin_setting=setting,
    )


def assert_clean(message: str) -> None:
    assert SECRET not in message and "code=" not in message and "\n" not in message


def silent_listener() -> Server:
    def refuse(conn: socket.socket, _request: bytes, _server: Server) -> None:
        answer(conn, b'{"value": []}')

    return Server(refuse)


# -- credentials never leave their origin ----------------------------------------------------


def test_graph_next_link_to_another_host_is_refused_before_sending(observe: Observe) -> None:
    with silent_listener().running() as foreign:

        def graph(conn: socket.socket, _request: bytes, _server: Server) -> None:
            link = f"{foreign.url}/v1.0/users?$skiptoken=abc"
            answer(conn, b'{"value": [{"id": "u1"}], "@odata.nextLink": "%s"}' % link.encode())

        with Server(graph).running() as graph_server:
            http = client(origins=(graph_server.url,))
            pages = odata_pages(http, f"{graph_server.url}/v1.0/users", params={"code": SECRET})
            first = next(pages)
            with pytest.raises(ResponseShapeError) as err:
                next(pages)
    assert [item["id"] for item in first.items] == ["u1"]
    assert foreign.received == [], "the foreign host never got a connection, let alone a token"
    message = str(err.value)
    assert message.startswith("Entra: a next link points outside graph_url (to http://127.0.0.1:")
    assert "refusing to send credentials" in message and "listing is incomplete" in message
    assert_clean(message)
    assert http.requests_made == 2  # the first page, and the refused one counted, never sent
    observe(
        "servers",
        "Graph @odata.nextLink to another host",
        f"refused before connecting; foreign listener received 0 bytes; {message[:110]}",
    )


def test_okta_link_header_to_another_port_is_refused(observe: Observe) -> None:
    with silent_listener().running() as foreign:

        def okta(conn: socket.socket, _request: bytes, _server: Server) -> None:
            link = f'Link: <{foreign.url}/api/v1/users?after=x>; rel="next"\r\n'
            answer(conn, b'[{"id": "00u1"}]', extra=link)

        with Server(okta).running() as org:
            http = client(origins=(org.url,), setting="org_url")
            with pytest.raises(ResponseShapeError) as err:
                list(link_pages(http, f"{org.url}/api/v1/users"))
    assert foreign.received == []
    assert "points outside org_url" in str(err.value)
    assert_clean(str(err.value))
    observe(
        "servers",
        "Okta Link rel=next to another port of the same host (another origin)",
        "refused; the listing fails (never complete), foreign listener received 0 bytes",
    )


@pytest.mark.parametrize(
    "status", ["302 Found", "307 Temporary Redirect", "308 Permanent Redirect"]
)
def test_redirect_outside_the_origin_is_refused(status: str, observe: Observe) -> None:
    with silent_listener().running() as foreign:

        def redirect(conn: socket.socket, _request: bytes, _server: Server) -> None:
            answer(conn, b"", status=status, extra=f"Location: {foreign.url}/steal\r\n")

        with Server(redirect).running() as origin:
            http = client(origins=(origin.url,))
            with pytest.raises(ResponseShapeError) as err:
                http.get_json(f"{origin.url}/v1.0/users")
    assert foreign.received == []
    assert "a redirect points outside graph_url" in str(err.value)
    observe("servers", f"HTTP {status} to another origin", "refused; 0 bytes reached it")


def test_redirect_inside_the_origin_is_followed_with_credentials() -> None:
    def handler(conn: socket.socket, request: bytes, _server: Server) -> None:
        if path_of(request).startswith("/old"):
            answer(conn, b"", status="301 Moved Permanently", extra="Location: /new\r\n")
        else:
            answer(conn, b'{"value": [{"id": "a"}]}')

    with Server(handler).running() as origin:
        http = client(origins=(origin.url,))
        body, _ = http.get_json(f"{origin.url}/old")
    assert body == {"value": [{"id": "a"}]}
    assert [path_of(r) for r in origin.received] == ["/old", "/new"]
    assert all(f"Bearer {SECRET}".encode() in r for r in origin.received)


# -- every answer is bounded ------------------------------------------------------------------


def endless(conn: socket.socket, _request: bytes, server: Server) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    conn.sendall(b'5\r\n{"a":\r\n')
    while True:
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        server.state["sent"] = server.state.get("sent", 0) + len(chunk)


def test_endless_body_is_cut_at_the_cap(observe: Observe) -> None:
    with Server(endless).running() as server:
        http = client(max_bytes=2 * MIB)
        with pytest.raises(RetryableError) as err:
            http.get_json(f"{server.url}/v1.0/users?code={SECRET}")
    message = str(err.value)
    assert "gave up after 2 attempts" in message and "sent an answer over 2 MiB" in message
    assert f"{server.url}/v1.0/users" in message
    assert_clean(message)
    assert len(server.received) == 2
    observe(
        "servers",
        "an endless chunked body (cap set to 2 MiB)",
        "each attempt stops reading past the cap; RetryableError after the attempt budget; "
        "memory bounded by the cap",
    )


def test_announced_huge_body_is_refused_unread(observe: Observe) -> None:
    def huge(conn: socket.socket, _request: bytes, _server: Server) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n{")
        time.sleep(1)

    with Server(huge).running() as server:
        http = client(attempts=1)
        started = time.monotonic()
        with pytest.raises(RetryableError) as err:
            http.get_json(f"{server.url}/v1.0/users")
    assert "announced an answer over 64 MiB" in str(err.value)
    assert time.monotonic() - started < 1.0, "refused on the header, not after reading"
    observe("servers", "Content-Length of 10 GiB", "refused from the header, body never read")


def trickle(conn: socket.socket, _request: bytes, _server: Server) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Content-Length: 1000\r\n\r\n")
    for _ in range(1000):
        conn.sendall(b" ")
        time.sleep(0.1)


def test_trickling_server_meets_the_per_answer_deadline(observe: Observe) -> None:
    with Server(trickle).running() as server:
        http = client(attempts=2, timeout=5.0, request_deadline=0.5)
        started = time.monotonic()
        with pytest.raises(RetryableError) as err:
            http.get_json(f"{server.url}/v1.0/users")
    took = time.monotonic() - started
    assert "took longer than 0.5 s to send one answer" in str(err.value)
    assert took < 3.0, f"two attempts of 0.5 s each, not the 100 s the server wanted ({took:.1f})"
    observe(
        "servers",
        "one byte every 0.1 s, each read well inside the read timeout",
        "the per-answer deadline (request_deadline) ends each attempt; RetryableError",
    )


def test_silent_server_meets_the_read_timeout(observe: Observe) -> None:
    def silent(_conn: socket.socket, _request: bytes, _server: Server) -> None:
        time.sleep(3)

    with Server(silent).running() as server:
        http = client(attempts=2, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(RetryableError) as err:
            http.get_json(f"{server.url}/v1.0/users")
    assert "gave up after 2 attempts: ReadTimeout talking to" in str(err.value)
    assert time.monotonic() - started < 2.5
    observe("servers", "a server that accepts and never answers", "read timeout per attempt")


def test_source_deadline_ends_the_listing_and_keeps_what_was_read(observe: Observe) -> None:
    def pages(conn: socket.socket, request: bytes, server: Server) -> None:
        n = server.state["n"] = server.state.get("n", 0) + 1
        nxt = f'"{server.url}/v1.0/users?page={n + 1}"'
        answer(conn, b'{"value": [{"id": "u%d"}], "@odata.nextLink": %s}' % (n, nxt.encode()))

    clock = [0.0]
    with Server(pages).running() as server:
        http = client(clock=lambda: clock[0])
        http.deadline = 10.0
        read: list[str] = []
        with pytest.raises(DeadlineExceeded) as err:
            for page in odata_pages(http, f"{server.url}/v1.0/users"):
                read.extend(item["id"] for item in page.items)
                clock[0] += 4.0  # each page takes 4 s of the source's 10
    assert read == ["u1", "u2", "u3"]
    assert "ran past its deadline" in str(err.value) and "deadline_hours" in str(err.value)
    observe(
        "servers",
        "a listing that outlasts the source's deadline",
        "DeadlineExceeded before the next request; the pages already read were handed on",
    )


# -- loops whose link changes ------------------------------------------------------------------


def test_loop_with_a_changing_parameter_is_caught_by_content(observe: Observe) -> None:
    def looping(conn: socket.socket, _request: bytes, server: Server) -> None:
        n = server.state["n"] = server.state.get("n", 0) + 1
        link = f'"{server.url}/v1.0/users?$skiptoken=t&n={n}"'
        answer(
            conn, b'{"value": [{"id": "a"}, {"id": "b"}], "@odata.nextLink": %s}' % link.encode()
        )

    with Server(looping).running() as server:
        http = client()
        with pytest.raises(ResponseShapeError) as err:
            list(odata_pages(http, f"{server.url}/v1.0/users"))
    assert "3 pages in a row of items it had already sent" in str(err.value)
    assert len(server.received) == 4, "the first page and three repeats, not 18,000 requests"
    observe(
        "servers",
        "a next link with a counter that changes every page, same items",
        "ends after 3 pages of already-seen items (4 requests) as a failure",
    )


def test_items_that_overlap_pages_are_not_a_loop() -> None:
    def overlapping(conn: socket.socket, _request: bytes, server: Server) -> None:
        n = server.state["n"] = server.state.get("n", 0) + 1
        ids = b", ".join(b'{"id": "i%d"}' % i for i in (n, n + 1))  # one item repeats per page
        nxt = b', "@odata.nextLink": "%s/v1.0/x?p=%d"' % (server.url.encode(), n) if n < 8 else b""
        answer(conn, b'{"value": [%s]%s}' % (ids, nxt))

    with Server(overlapping).running() as server:
        pages = list(odata_pages(client(), f"{server.url}/v1.0/x"))
    assert len(pages) == 8


# -- the Google transport bridge -----------------------------------------------------------------


def test_google_transport_is_bounded_and_pinned(observe: Observe) -> None:
    with Server(endless).running() as server, silent_listener().running() as foreign:
        http = HttpClient(
            "google",
            policy=RetryPolicy(attempts=1, max_bytes=MIB, sleep=lambda _s: None),
            origins=[server.url],
            origin_setting="api_root or token_uri",
        )
        bridge = BoundedHttp(http)
        with pytest.raises(TransportProblem) as big:
            bridge.request(f"{server.url}/admin/directory/v1/users?pageToken=x")
        with pytest.raises(ResponseShapeError) as away:
            bridge.request(f"{foreign.url}/token", "POST", body="assertion=secret")
    assert "sent an answer over 1 MiB" in str(big.value) and "pageToken" not in str(big.value)
    assert "points outside api_root or token_uri" in str(away.value)
    assert foreign.received == []
    observe(
        "servers",
        "Google (googleapiclient over our transport): endless body, and a URL off api_root",
        "cut at the cap as a transport problem (retried by the connector); refused unsent",
    )
