"""Pacing by Okta's rate-limit headers, per endpoint family (apps, users, logs).

Rate limits come back on every answer as ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset``
(reset in UTC epoch seconds, https://developer.okta.com/docs/reference/rl2-monitor/).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from scanner.net.http import RateLimiter

log = logging.getLogger(__name__)


class ResetPacer(RateLimiter):
    """A limiter driven by Okta's headers instead of a fixed window.

    ``observe()`` reads ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` from each successful
    answer; once ``Remaining / Limit`` is under ``share``, the next ``acquire()`` sleeps until
    the reset. The reset is measured against the answer's ``Date`` header when there is one, so
    a skewed local clock does not stretch or skip the wait
    (https://developer.okta.com/docs/reference/rl2-monitor/).
    """

    MAX_WAIT = 65.0
    """Counters reset every 60 s; never wait longer than one window plus slack."""

    def __init__(
        self,
        share: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(1, 1.0, clock=clock, sleep=sleep)
        self.share = share
        self._resume_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        try:
            limit = int(headers["X-Rate-Limit-Limit"])
            remaining = int(headers["X-Rate-Limit-Remaining"])
            reset = float(headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError):
            return
        if limit <= 0 or remaining / limit >= self.share:
            return
        server_now = _http_date(headers.get("Date")) or self._clock()
        wait = min(self.MAX_WAIT, max(0.0, reset - server_now))
        with self._lock:
            self._resume_at = self._clock() + wait
        log.info(
            "okta: %d of %d calls left; pausing %.0f s before the next one", remaining, limit, wait
        )

    def acquire(self) -> float:
        with self._lock:
            resume_at, self._resume_at = self._resume_at, None
        if resume_at is None:
            return 0.0
        wait = resume_at - self._clock()
        if wait <= 0:
            return 0.0
        self._sleep(wait)
        return wait


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def pace_group(url: str) -> str | None:
    """The rate-limit family of a URL: Okta counts apps, users and logs separately."""
    path = urlsplit(url).path
    for group in ("apps", "users", "logs"):
        if path.startswith(f"/api/v1/{group}"):
            return group
    return None
