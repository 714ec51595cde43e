"""Serve a WSGI fake on 127.0.0.1, over HTTP or HTTPS with a throwaway CA (trustme).

MSAL only accepts ``https://`` authorities, so the Entra fake needs TLS; the client side trusts
the CA through ``LoopbackServer.ca_path`` (a requests.Session with ``verify=ca_path``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the fakes keep their own request log.

    Answers go out without Nagle's delay: werkzeug writes the head and the body separately, and
    on a kept-alive connection the second small write would wait for the client's delayed ACK
    (tens of milliseconds per answer over TLS)."""

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # not a TCP socket
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class LoopbackServer:
    """Context manager: ``with LoopbackServer(app, tls=True) as srv: srv.url``."""

    def __init__(self, app: Any, tls: bool = False, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("fake providers only ever listen on loopback")
        self.app = app
        self.tls = tls
        self.host = host
        self.ca_path: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self._server.server_port}"

    def start(self) -> LoopbackServer:
        context = None
        if self.tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="shadowit-ca-")
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(context)
            ca_file = Path(self._tmp.name) / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            self.ca_path = str(ca_file)
        self._server = make_server(
            self.host,
            0,
            self.app,
            threaded=True,
            ssl_context=context,
            passthrough_errors=False,
            request_handler=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
