"""Token endpoint answers that are not token answers, told apart before an OAuth library reads them.

A captive portal, a TLS-inspecting proxy, a wrong ``authority_host`` / ``token_uri`` / ``org_url``
or a hostile server can answer the token request with an HTML page, an empty body, a JSON array
or some other JSON. msal, google-auth and a plain ``response.json()`` then raise a parser error
(``JSONDecodeError``, ``TypeError``, ``KeyError``) with a traceback, and msal logs the whole body.
Each IdP connector checks the answer here first and raises one line that names the endpoint's
origin (scheme, host and port: no path, no query, no user info), never the body.

What a token endpoint must answer (RFC 6749, https://www.rfc-editor.org/rfc/rfc6749):
section 5.1, a JSON object with a string ``access_token`` (and ``expires_in``, when present, a
number of seconds); section 5.2, an error answer, a JSON object with a string ``error``. An
OpenID discovery document (msal reads one before asking for a token) is a JSON object with
``authorization_endpoint`` and ``token_endpoint`` (OpenID Connect Discovery 1.0, section 3).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from urllib.parse import urlsplit

from scanner.core.errors import RetryableError

TOKEN_FIELDS = ("access_token",)
"""What a successful token answer holds (RFC 6749 section 5.1)."""
DISCOVERY_FIELDS = ("authorization_endpoint", "token_endpoint")
"""What an OpenID discovery document holds (OpenID Connect Discovery 1.0, section 3)."""


def endpoint(url: str) -> str:
    """``https://host:port`` of a URL: what a message may name (no path, query or user info)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def answer_problem(
    status: int,
    content_type: str | None,
    body: bytes | str,
    fields: Sequence[str] = TOKEN_FIELDS,
) -> str | None:
    """What is wrong with an answer from a token (or discovery) endpoint, or None.

    None for a 2xx JSON object with every string field in ``fields`` (and a readable
    ``expires_in``), and for an OAuth error answer (any other status, a JSON object with a
    string ``error``), which the caller turns into its own "rejected" message. Otherwise a
    short phrase for the message: it describes the body and never quotes it."""
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    if not raw.strip():
        return "an empty body"
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        looks_html = "html" in (content_type or "").lower() or raw.lstrip()[:1] == b"<"
        return "an HTML page" if looks_html else "a body that is not JSON"
    if isinstance(data, list):
        return "a JSON array"
    if not isinstance(data, dict):
        return "a JSON value that is not an object"
    if not 200 <= status < 300:
        error = data.get("error")
        return None if isinstance(error, str) and error else "JSON that is not an OAuth error"
    missing = [f for f in fields if not isinstance(data.get(f), str) or not data[f]]
    if missing:
        return f"JSON without {' or '.join(missing)}"
    if "access_token" in fields and not _seconds(data.get("expires_in")):
        return "a token answer whose expires_in is not a number of seconds"
    return None


def _seconds(value: object) -> bool:
    """``expires_in`` absent, a number of seconds, or digits (some servers send a string)."""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value) and value >= 0
    return isinstance(value, str) and value.isascii() and value.isdigit()


def not_a_token_answer(
    source: str,
    url: str,
    status: int,
    problem: str,
    setting: str,
    what: str = "the token endpoint",
    expected: str = "a token response",
) -> RetryableError:
    """The one-line error for an answer ``answer_problem`` found wanting.

    A RetryableError: nothing says the credential is wrong (so not exit 2); the source fails
    (exit 3), the other sources go on, and the next scan asks again."""
    return RetryableError(
        source,
        f"{what} at {endpoint(url)} answered HTTP {status} with {problem}, not {expected}; "
        f"check {setting}, or a proxy or captive portal in the way",
    )


def unavailable(
    source: str, url: str, status: int, setting: str, what: str = "the token endpoint"
) -> RetryableError:
    """429 or 5xx from a token endpoint: the provider (or a proxy) is throttling or failing."""
    return RetryableError(
        source,
        f"{what} at {endpoint(url)} answered HTTP {status} (throttled or failing); "
        f"the next scan tries again (if it persists, check {setting} and any proxy in the way)",
    )
