"""googleapiclient's transport, carried by our HTTP layer instead of httplib2.

googleapiclient and google-auth-httplib2 talk to an object shaped like ``httplib2.Http``
(``request(uri, method, body, headers, ...) -> (response, content)``). httplib2 reads every
answer whole and follows redirects anywhere; ``BoundedHttp`` answers the same call through
``scanner.net.http.HttpClient.send_once``, so Google answers are bounded in size and time, pinned to
the configured origins (``api_root`` and ``token_uri``) and counted like every other request.
Retries stay with the connector's own loop, which reads Google's error bodies.
"""

from __future__ import annotations

from typing import Any

import httplib2

from scanner.net.http import HttpClient


class BoundedHttp:
    """The part of ``httplib2.Http`` that googleapiclient and google-auth-httplib2 use."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self.timeout = client.policy.timeout
        self.redirect_codes = frozenset({301, 302, 303, 307, 308})
        self.follow_redirects = False
        self.connections: dict[str, Any] = {}

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        redirections: int = 0,
        connection_type: Any = None,
        **_ignored: Any,
    ) -> tuple[httplib2.Response, bytes]:
        response = self.client.send_once(method, uri, headers=headers, data=body)
        info: dict[str, str] = {k.lower(): v for k, v in response.headers.items()}
        info.pop("content-encoding", None)  # the body is already decoded
        info["status"] = str(response.status_code)
        info["content-location"] = uri
        return httplib2.Response(info), response.content

    def close(self) -> None:
        """Connections belong to the shared session; nothing to close per thread."""
