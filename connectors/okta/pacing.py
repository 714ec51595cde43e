"""Pacing by Okta's rate-limit headers, per endpoint family (apps, users, logs), expressed as
pauses of the source's shared ``scanner.net.pacing.Pacer``.

Rate limits come back on every answer as ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset``
(reset in UTC epoch seconds; counters are per endpoint family and reset every minute,
https://developer.okta.com/docs/reference/rl2-monitor/). A 429 (``E0000047``) is left to the
shared pacer: it waits until the reset (``scanner.net.http.retry_after_seconds``) and, when
throttled again, slows the whole source down.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from scanner.net.pacing import Pacer

log = logging.getLogger(__name__)

GROUPS = ("apps", "users", "logs")
"""The rate-limit families a URL can belong to (``pace_group``)."""


class ResetPacer:
    """Okta's headers as pauses: once ``Remaining / Limit`` of a family is under ``share``,
    its next requests wait until the reset.

    ``observe()`` reads each successful answer. The reset is measured against the answer's
    ``Date`` header when there is one, so a skewed local clock does not stretch or skip the
    wait; ``clock`` (epoch seconds) stands in when the answer has no date
    (https://developer.okta.com/docs/reference/rl2-monitor/).
    """

    MAX_WAIT = 65.0
    """Counters reset every 60 s; never wait longer than one window plus slack."""

    def __init__(self, pacer: Pacer, share: float, clock: Callable[[], float] = time.time) -> None:
        self.pacer = pacer
        self.share = share
        self._clock = clock

    def observe(self, group: str, headers: Mapping[str, str]) -> float | None:
        """Pause ``group`` if the answer says its calls are nearly used up; the wait, if any."""
        try:
            limit = int(headers["X-Rate-Limit-Limit"])
            remaining = int(headers["X-Rate-Limit-Remaining"])
            reset = float(headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError):
            return None
        if limit <= 0 or remaining / limit >= self.share:
            return None
        server_now = _http_date(headers.get("Date")) or self._clock()
        wait = min(self.MAX_WAIT, max(0.0, reset - server_now))
        self.pacer.pause(wait, group)
        log.info(
            "okta: %d of %d %s calls left; pausing %.0f s before the next one",
            remaining,
            limit,
            group,
            wait,
        )
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
    for group in GROUPS:
        if path.startswith(f"/api/v1/{group}"):
            return group
    return None
