"""The service account key and its delegated credentials, with every token answer checked.

``load_key`` reads the JSON key (``key_file`` or ``key_env``); ``build_credentials`` makes the
credentials that act as ``admin_email``. Their token answers go through ``_TokenAnswers`` first
(``connectors.tokens``), so an HTML page or a wrong ``token_uri`` is one line naming its host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from google.auth import transport as google_transport
from google.auth.exceptions import TransportError
from google.oauth2 import service_account

from connectors.google.calls import _RetryLater
from connectors.google.settings import SCOPES, SOURCE, GoogleSettings
from connectors.tokens import answer_problem, endpoint, not_a_token_answer
from scanner.core.errors import ConfigError
from scanner.core.settings import secret
from scanner.net.http import TransportProblem, retry_after_seconds


def load_key(settings: GoogleSettings, config_path: Path | None) -> dict[str, Any]:
    """The service account key JSON from ``key_file`` or ``key_env``; ConfigError naming it."""
    key = "sources.google.key"
    setting = f"{key}_env" if settings.key_env else f"{key}_file"
    named = settings.key_env or settings.key_file
    text = secret(settings.key_env, settings.key_file, key, config_path)
    assert text is not None
    where = f" ({config_path})" if config_path else ""
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError(
            f"{setting}: {named} does not hold JSON; download a JSON key of the service account "
            f"(IAM & Admin > Service accounts > Keys > Add key > JSON){where}"
        ) from None
    missing = [
        field
        for field in ("type", "client_email", "client_id", "private_key")
        if not isinstance(info, dict) or not info.get(field)
    ]
    if missing or info.get("type") != "service_account":
        what = f"lacks {', '.join(missing)}" if missing else "is not of type service_account"
        raise ConfigError(
            f"{setting}: {named} is not a service account key ({what}); download a JSON key of "
            f"the service account (IAM & Admin > Service accounts > Keys > Add key > JSON){where}"
        )
    return cast(dict[str, Any], info)


def build_credentials(
    info: Mapping[str, Any], settings: GoogleSettings, setting: str
) -> service_account.Credentials:
    """Delegated credentials acting as ``admin_email``, refreshed at ``settings.token_uri``."""
    try:
        credentials = _Credentials.from_service_account_info(
            {**info, "token_uri": settings.token_uri}, scopes=list(SCOPES)
        )
    except ValueError as err:
        raise ConfigError(
            f"{setting}: the service account key cannot be used ({err}); create a new JSON key"
        ) from None
    delegated: service_account.Credentials = credentials.with_subject(settings.admin_email)
    return delegated


class _Credentials(service_account.Credentials):
    """Service-account credentials whose token answers are checked before google-auth reads them.

    From ``token_uri`` google-auth turns an HTML page, an empty body or a JSON array into a
    TypeError, quotes the page in a RefreshError, and retries 5xx with its own sleeps. Every
    refresh (``authorize``'s, and the later ones of google-auth-httplib2 and googleapiclient's
    batches, which copy the credentials with their class) goes through ``_TokenAnswers``: such
    answers become one line naming the endpoint's host, and 429/5xx our bounded retries."""

    def refresh(self, request: google_transport.Request) -> None:
        super().refresh(_TokenAnswers(request))


# OAuth error codes google-auth retries itself, with real sleeps (google.oauth2._client).
_TRANSIENT_TOKEN_ERRORS = frozenset({"internal_failure", "server_error", "temporarily_unavailable"})


class _TokenAnswers(google_transport.Request):
    """A google-auth transport that checks each token answer (the JWT grant, a POST)."""

    def __init__(self, inner: google_transport.Request) -> None:
        self._inner = inner

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        try:
            response = self._inner(
                url, method=method, body=body, headers=headers, timeout=timeout, **kwargs
            )
        except TransportProblem as err:  # names host and path already
            raise _RetryLater(str(err), None) from None
        except (TransportError, OSError) as err:
            cause = err.args[0] if err.args and isinstance(err.args[0], BaseException) else err
            failure = f"{type(cause).__name__} talking to the token endpoint at {endpoint(url)}"
            raise _RetryLater(failure, None) from None
        if method != "POST":  # an access-boundary lookup, not a token answer
            return response
        status = int(response.status)
        answer_headers = {str(k).lower(): str(v) for k, v in dict(response.headers).items()}
        data = response.data
        if status == 429 or status >= 500 or _transient_error(status, data):
            hint = answer_headers.get("retry-after")
            wait = retry_after_seconds({"Retry-After": hint}) if hint else None
            raise _RetryLater(f"HTTP {status} from the token endpoint at {endpoint(url)}", wait)
        problem = answer_problem(status, answer_headers.get("content-type"), data)
        if problem is not None:
            raise not_a_token_answer(SOURCE, url, status, problem, "sources.google.token_uri")
        return response


def _transient_error(status: int, data: bytes | str) -> bool:
    if 200 <= status < 300:
        return False
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and body.get("error") in _TRANSIENT_TOKEN_ERRORS
