"""Google API calls under our retry policy: 429, 5xx and quota 403s are retried with the
server's Retry-After or exponential backoff, within ``scanner.net.http.RetryPolicy`` bounds.

The client library retries only when ``execute(num_retries=N)`` is set and ignores Retry-After
(Directory quota errors: https://developers.google.com/admin-sdk/directory/v1/limits; the
Reports API signals quota with 503: https://developers.google.com/admin-sdk/reports/v1/limits).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from connectors.google.settings import SOURCE, delegation_help
from scanner.core.errors import AuthError, RetryableError
from scanner.core.names import one_line
from scanner.net.http import RateLimiter, RetryPolicy, TransportProblem, retry_after_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")

QUOTA_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
"""403/429 reasons that mean "slow down", not "forbidden"
(https://developers.google.com/admin-sdk/directory/v1/limits)."""
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class _RetryLater(Exception):
    def __init__(self, problem: str, wait: float | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.wait = wait


def _error_reasons(err: HttpError) -> set[str]:
    """``error.errors[].reason`` of a Google error body."""
    try:
        body = json.loads(err.content.decode("utf-8") if err.content else "{}")
    except (ValueError, UnicodeDecodeError):
        return set()
    errors = (body.get("error") or {}).get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(e.get("reason")) for e in errors if isinstance(e, dict) and e.get("reason")}


def _error_message(err: HttpError) -> str:
    try:
        body = json.loads(err.content.decode("utf-8") if err.content else "{}")
        message = body["error"]["message"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        message = err.resp.reason or ""
    return f"HTTP {err.resp.status}: {message}".rstrip(": ")


def _is_retriable(err: HttpError) -> bool:
    status = int(err.resp.status)
    if status in RETRIABLE_STATUS:
        return True
    return status == 403 and bool(_error_reasons(err) & QUOTA_REASONS)


def _retry_hint(err: HttpError) -> float | None:
    value = err.resp.get("retry-after")
    return retry_after_seconds({"Retry-After": value}) if value else None


class _Caller:
    """Runs a Google API call under our retry policy and translates auth failures."""

    def __init__(self, policy: RetryPolicy, client_id: str) -> None:
        self.policy = policy
        self.client_id = client_id
        self.retries = 0
        self._lock = threading.Lock()

    def run(self, what: str, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it returns, retrying what raises _RetryLater."""
        policy = self.policy
        problem = "no attempt made"
        for number in range(1, policy.attempts + 1):
            try:
                return self.guard(attempt)
            except _RetryLater as err:
                problem = err.problem
                hinted = err.wait
            if number == policy.attempts:
                break
            wait = min(hinted if hinted is not None else self._backoff(number), policy.max_wait)
            with self._lock:
                self.retries += 1
            log.info("google: %s: %s; retry %d in %.1f s", what, one_line(problem), number, wait)
            policy.sleep(wait)
        raise RetryableError(
            SOURCE,
            f"gave up on {what} after {policy.attempts} attempts: {problem}. Google is "
            "throttling or failing; what was read is kept and the next scan tries again.",
        )

    def execute(self, what: str, request: Any, pace: RateLimiter | None = None) -> Any:
        """``request.execute()`` with retries; non-retriable HttpErrors propagate."""

        def attempt() -> Any:
            if pace is not None:
                pace.acquire()
            try:
                return request.execute()
            except HttpError as err:
                if _is_retriable(err):
                    raise _RetryLater(_error_message(err), _retry_hint(err)) from None
                raise

        return self.run(what, attempt)

    def guard(self, attempt: Callable[[], T]) -> T:
        """Translate token and transport failures of one attempt."""
        try:
            return attempt()
        except RefreshError as err:
            raise self._auth_error(err) from None
        except TransportProblem as err:
            raise _RetryLater(str(err), None) from None
        except (TransportError, httplib2.HttpLib2Error, OSError) as err:
            raise _RetryLater(f"{type(err).__name__} talking to Google", None) from None

    def _auth_error(self, err: RefreshError) -> AuthError:
        details = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], dict) else {}
        code = one_line(
            details.get("error") or str(err.args[0] if err.args else err).split(":")[0], 100
        )
        description = one_line(details.get("error_description") or "", 200)
        if code == "unauthorized_client":
            return AuthError(
                SOURCE,
                "domain-wide delegation is not set up for the service account (Google "
                f"answered unauthorized_client). {delegation_help(self.client_id)}. "
                "Changes can take a few minutes to apply.",
            )
        if code == "invalid_grant":
            return AuthError(
                SOURCE,
                f"the token request was refused (invalid_grant: {description or 'no detail'}). "
                "Check sources.google.admin_email names an existing admin, and that the key "
                "has not been deleted or disabled in the Google Cloud console.",
            )
        return AuthError(
            SOURCE,
            f"the service account could not get a token ({code}: {description}). "
            "Check the key and the domain-wide delegation entry.",
        )

    def _backoff(self, attempt: int) -> float:
        base = self.policy.backoff * (2 ** (attempt - 1))
        return float(min(self.policy.max_wait, base + random.uniform(0, base / 2)))
