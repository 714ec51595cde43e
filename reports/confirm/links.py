"""Signed, expiring confirmation links, bound to one request, one app and one owner.

A link is ``<link_base_url>/c/<token>``; the token is an itsdangerous
``URLSafeTimedSerializer`` dump of ``{"r": request id, "a": app key, "o": owner digest}``,
stamped with the time it was signed and signed with HMAC-SHA256 under the key named by
``confirm.secret_env`` (itsdangerous derives the signing key from it and the salt below).
``verify()`` rejects a changed byte, another key or salt, and a token older than
``confirm.expiry_days``, all alike: the page never says which, and shows no data.
Single use is the store's part: a request answers once (``scanner.analysis.confirm.record_answer``).

itsdangerous: https://itsdangerous.palletsprojects.com/en/stable/url_safe/ and
https://itsdangerous.palletsprojects.com/en/stable/timed/ (``max_age``, ``SignatureExpired``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

SALT = "shadowit.confirm.link.v1"
CSRF_SALT = b"shadowit.confirm.csrf.v1"

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LinkClaims:
    """What a valid token says: which request, for which app and which person."""

    request_id: str
    app_key: str
    owner_digest: str
    """``owner_digest(email)`` of the person the link was made for (no email in URLs)."""

    def for_owner(self, owner: str) -> bool:
        return hmac.compare_digest(self.owner_digest, owner_digest(owner))


def _clock_signer(clock: Clock) -> type[TimestampSigner]:
    class ClockSigner(TimestampSigner):
        """Signs and checks age against the injected clock, so expiry is testable."""

        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockSigner


class LinkSigner:
    """Make and check confirmation tokens with one key."""

    def __init__(self, key: str, expiry_days: int, clock: Clock = utcnow) -> None:
        self._serializer = URLSafeTimedSerializer(
            key,
            salt=SALT,
            signer=_clock_signer(clock),
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._key = key.encode()
        self.expiry = timedelta(days=expiry_days)
        self.clock = clock

    def token(self, request_id: str, app_key: str, owner: str) -> str:
        claims = {"r": request_id, "a": app_key, "o": owner_digest(owner)}
        return str(self._serializer.dumps(claims))

    def verify(self, token: str) -> LinkClaims | None:
        """The claims of a genuine, unexpired token; None for anything else."""
        try:
            data: Any = self._serializer.loads(token, max_age=int(self.expiry.total_seconds()))
        except BadData:
            return None
        if not isinstance(data, dict):
            return None
        values = (data.get("r"), data.get("a"), data.get("o"))
        if not all(isinstance(v, str) and v for v in values):
            return None
        return LinkClaims(*values)  # type: ignore[arg-type]

    def expires(self) -> datetime:
        """When a link signed now stops working."""
        return self.clock() + self.expiry

    def csrf(self, nonce: str, request_id: str) -> str:
        """The form field for a browser's CSRF cookie ``nonce`` on one request's page."""
        message = CSRF_SALT + b"|" + nonce.encode() + b"|" + request_id.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, request_id: str, submitted: str | None) -> bool:
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf(nonce, request_id), submitted)


def owner_digest(owner: str) -> str:
    """A short digest of an email: binds a link to its person without putting the address in
    URLs (and so in proxy logs and browser history)."""
    return hashlib.sha256(owner.strip().lower().encode()).hexdigest()[:16]


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/c/{token}"


def redact_path(path: str) -> str:
    """A request path fit for a log line: the token replaced."""
    if path.startswith("/c/"):
        return "/c/<link>"
    return path.split("?", 1)[0]
