"""googleapiclient's transport, carried by our HTTP layer instead of httplib2.

googleapiclient and google-auth-httplib2 talk to an object shaped like ``httplib2.Http``
(``request(uri, method, body, headers, ...) -> (response, content)``). httplib2 reads every
answer whole and follows redirects anywhere; ``BoundedHttp`` answers the same call through
``scanner.net.http.HttpClient.send_once``, so Google answers are bounded in size and time, pinned to
the configured origins (``api_root`` and ``token_uri``), counted like every other request, and
paced by the source's shared ``scanner.net.pacing.Pacer``. Retries stay with the connector's own
loop, which reads Google's error bodies. ``FastJsonModel`` decodes the answers' JSON from their
bytes with orjson (``scanner.net.jsonbody``) instead of the client's ``json.loads`` of a copy.

Pacing counts calls, not HTTP requests: "a set of n requests batched together counts toward your
usage limit as n requests, not as one request"
(https://developers.google.com/admin-sdk/directory/v1/guides/batch). A batch request costs one call
per part, and the parts of its answer that were throttled (429, or 403 with a rate-limit reason,
https://developers.google.com/admin-sdk/directory/v1/limits) tell the pacer to slow down.
"""

from __future__ import annotations

import email.message
import email.parser
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httplib2
import requests
from googleapiclient.model import JsonModel
from requests.structures import CaseInsensitiveDict

from connectors.google.calls import QUOTA_REASONS
from scanner.net.http import HttpClient, retry_after_seconds
from scanner.net.jsonbody import decode_json


class FastJsonModel(JsonModel):  # type: ignore[misc]  # googleapiclient ships no types
    """googleapiclient's JSON model, decoding answers from bytes with orjson.

    Same contract as ``JsonModel.deserialize``: a body that is not JSON comes back as it is
    (the caller's shape checks then reject it), and a ``data`` wrapper is unwrapped."""

    def deserialize(self, content: bytes | str) -> Any:
        try:
            body = decode_json(content)
        except ValueError:
            return content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        if self._data_wrapper and isinstance(body, dict) and "data" in body:
            body = body["data"]
        return body


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
        response = self.client.send_once(
            method,
            uri,
            headers=headers,
            data=body,
            cost=batch_calls(headers or {}, body),
            classify=throttled_calls,
        )
        info: dict[str, str] = {k.lower(): v for k, v in response.headers.items()}
        info.pop("content-encoding", None)  # the body is already decoded
        info["status"] = str(response.status_code)
        info["content-location"] = uri
        return httplib2.Response(info), response.content

    def close(self) -> None:
        """Connections belong to the shared session; nothing to close per thread."""


def _parts(content_type: str, body: bytes) -> Iterator[email.message.Message]:
    """The parts of a ``multipart/mixed`` body (none for any other type)."""
    if not content_type.lower().startswith("multipart/mixed"):
        return
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    payload = message.get_payload()
    if isinstance(payload, list):
        yield from (part for part in payload if isinstance(part, email.message.Message))


def batch_calls(headers: Mapping[str, str], body: Any) -> int:
    """How many API calls a request carries: the parts of a batch, else one."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not body or not content_type:
        return 1
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return max(1, sum(1 for _ in _parts(content_type, data)))


def throttled_calls(response: requests.Response) -> tuple[int, float | None]:
    """How many calls of an answer were throttled, and the longest Retry-After among them."""
    parts = list(_parts(response.headers.get("Content-Type", ""), response.content))
    if not parts:
        if _is_throttle(response.status_code, response.content):
            return 1, retry_after_seconds(response.headers)
        return 0, None
    throttled = 0
    waits: list[float] = []
    for part in parts:
        status, headers, content = _inner_answer(part)
        if not _is_throttle(status, content):
            continue
        throttled += 1
        hinted = retry_after_seconds(headers)
        if hinted is not None:
            waits.append(hinted)
    return throttled, (max(waits) if waits else None)


def _inner_answer(part: email.message.Message) -> tuple[int, Mapping[str, str], bytes]:
    """Status, headers and body of one ``application/http`` part of a batch answer."""
    raw = part.get_payload(decode=False)
    text = raw if isinstance(raw, str) else ""
    status_line, _, rest = text.replace("\r\n", "\n").partition("\n")
    head, _, content = rest.partition("\n\n")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        return 0, {}, b""
    headers = CaseInsensitiveDict(email.parser.Parser().parsestr(head, headersonly=True).items())
    return status, headers, content.encode("utf-8", "replace")


def _is_throttle(status: int, content: bytes) -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    try:
        body = json.loads(content.decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        return False
    errors = (body.get("error") or {}).get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return False
    return any(isinstance(e, dict) and e.get("reason") in QUOTA_REASONS for e in errors)
