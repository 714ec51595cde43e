"""Signed, expiring confirmation links, bound to one request, one app and one owner.

A link is ``<link_base_url>/c/<token>``; the token is an itsdangerous
``URLSafeTimedSerializer`` dump of ``{"r": request id, "a": app key, "h": owner digest}``,
stamped with the time it was signed and signed with HMAC-SHA256 under the key named by
``confirm.secret_env`` (itsdangerous derives the signing key from it and the salt below).
``verify()`` rejects a changed byte, another key or salt, and a token older than
``confirm.expiry_days``, all alike: the page never says which, and shows no data.
Single use is the store's part: a request answers once (``scanner.analysis.confirm.record_answer``).

The owner digest is an HMAC-SHA256 of the address under the same key (``OWNER_SALT``): the
token's payload is only base64, so an unkeyed hash would let anyone holding a link test
guessed addresses offline. Links made before that carry ``"o"``, an unkeyed SHA-256 of the
address; they are still accepted (their signature and age are checked as any other's), so
they work until they expire and no link made now carries one.

itsdangerous: https://itsdangerous.palletsprojects.com/en/stable/url_safe/ and
https://itsdangerous.palletsprojects.com/en/stable/timed/ (``max_age``, ``SignatureExpired``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

SALT = "shadowit.confirm.link.v1"
CSRF_SALT = b"shadowit.confirm.csrf.v1"
OWNER_SALT = b"shadowit.confirm.owner.v1"

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LinkClaims:
    """What a valid token says: which request, for which app and which person."""

    request_id: str
    app_key: str
    owner_digest: str
    """``LinkSigner.owner_digest(email)`` of the person the link was made for (no email in
    URLs), or ``legacy_owner_digest(email)`` in a link made before the digest was keyed."""
    keyed: bool = True


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
        claims = {"r": request_id, "a": app_key, "h": self.owner_digest(owner)}
        return str(self._serializer.dumps(claims))

    def owner_digest(self, owner: str) -> str:
        """A keyed digest of an email: binds a link to its person without putting the address
        in URLs (and so in proxy logs and browser history), and without letting a link's
        holder check a guessed address against it."""
        message = OWNER_SALT + b"|" + _normal(owner).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def made_for(self, claims: LinkClaims, owner: str) -> bool:
        """Whether a verified token's claims name ``owner``."""
        expected = self.owner_digest(owner) if claims.keyed else legacy_owner_digest(owner)
        return hmac.compare_digest(claims.owner_digest, expected)

    def verify(self, token: str) -> LinkClaims | None:
        """The claims of a genuine, unexpired token; None for anything else."""
        try:
            data: Any = self._serializer.loads(token, max_age=int(self.expiry.total_seconds()))
        except BadData:
            return None
        if not isinstance(data, dict):
            return None
        keyed = "h" in data
        request_id, app_key, digest = data.get("r"), data.get("a"), data.get("h" if keyed else "o")
        if _text(request_id) and _text(app_key) and _text(digest):
            return LinkClaims(request_id, app_key, digest, keyed)
        return None

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


def legacy_owner_digest(owner: str) -> str:
    """The unkeyed digest links carried before ``LinkSigner.owner_digest``: checked for those
    links until they expire, never put in a new one."""
    return hashlib.sha256(_normal(owner).encode()).hexdigest()[:16]


def _normal(owner: str) -> str:
    return owner.strip().lower()


def _text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/c/{token}"


def redact_path(path: str) -> str:
    """A request path fit for a log line: the token replaced."""
    if path.startswith("/c/"):
        return "/c/<link>"
    return path.split("?", 1)[0]
