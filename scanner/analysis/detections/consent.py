"""``consent_phishing``: an app that shows the signs of an illicit consent grant.

Each rule of ``consent_rules.toml`` is a check here, keyed by its id; the finding says which
rules fired, their weights and their sources. The organisation's own apps never reach these
rules (internal apps are recorded, never flagged), so a development app of the company with a
``http://localhost`` reply URL stays quiet; neither do apps the policy sanctions or tolerates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from scanner.analysis.detections.base import Subject
from scanner.analysis.detections.consent_rules import ConsentRule
from scanner.analysis.text import normalise_name
from scanner.core.models import Finding

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 (a URL host, not a bind)
_MACT_REPLY = re.compile(r"^http://localhost:\d+/access/?$", re.IGNORECASE)
# From HuskyHacks/cazadora src/hunt.py (MIT): a name with no letter or digit.
_SYMBOLS_ONLY = re.compile(r"^[^a-zA-Z0-9]+$")
_PERCENT_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")

Check = Callable[[Subject, ConsentRule], str | None]
"""What a rule saw (the URL, the name, the scopes) when it fires, else None."""


def consent_phishing(s: Subject) -> Iterator[Finding]:
    if s.status in ("sanctioned", "tolerated") or s.app.app.lookalike_of:
        return  # reviewed by the policy; a lookalike has its own, stronger finding
    table = s.ctx.consent
    fired: list[tuple[ConsentRule, str]] = []
    for rule in table.rules:
        check = CHECKS.get(rule.id)
        if check is None or rule.weight <= 0:
            continue
        seen = check(s, rule)
        if seen is not None:
            fired.append((rule, seen))
    score = sum(rule.weight for rule, _ in fired)
    if not fired or score < table.threshold:
        return
    yield s.finding(
        "consent_phishing",
        "consent_phishing_strong" if score >= table.strong else "consent_phishing",
        [
            f"{rule.reason}: {seen} (rule {rule.id}, weight {rule.weight}; source: {rule.source})"
            for rule, seen in fired
        ]
        + [f"{s.users} consented to it; score {score} (threshold {table.threshold})"],
        "Investigate as a possible illicit consent grant: check who consented and what it "
        "accessed, then disable the app rather than delete it (a deleted app comes back with "
        "the next consent) and revoke its grants; if it is a legitimate tool, sanction it.",
        rules=[{"id": r.id, "weight": r.weight, "source": r.source} for r, _ in fired],
        score=score,
    )


def _hosts(s: Subject) -> Iterator[tuple[str, str, str]]:
    """(url, scheme, host) per reply URL."""
    for url in s.app.reply_urls:
        yield (url, *_scheme_and_host(url))


@lru_cache(maxsize=16_384)  # four rules read each URL; tenants reuse a few reply URLs a lot
def _scheme_and_host(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:  # an unbalanced IPv6 bracket: no host to judge
        return "", ""


def _reply_localhost_access(s: Subject, _rule: ConsentRule) -> str | None:
    return next((url for url in s.app.reply_urls if _MACT_REPLY.match(url.strip())), None)


def _reply_localhost(s: Subject, _rule: ConsentRule) -> str | None:
    return next((url for url, _, host in _hosts(s) if host in _LOCAL_HOSTS), None)


def _reply_plain_http(s: Subject, _rule: ConsentRule) -> str | None:
    return next(
        (url for url, scheme, host in _hosts(s) if scheme == "http" and host not in _LOCAL_HOSTS),
        None,
    )


def _reply_unusual_tld(s: Subject, rule: ConsentRule) -> str | None:
    return next((url for url, _, host in _hosts(s) if host.rsplit(".", 1)[-1] in rule.values), None)


def _names(s: Subject) -> list[str]:
    return list(dict.fromkeys([s.app.name, *s.app.raw_names]))


def _name_test(s: Subject, rule: ConsentRule) -> str | None:
    return next((n for n in _names(s) if n.strip().casefold() in rule.values), None)


def _name_symbols(s: Subject, _rule: ConsentRule) -> str | None:
    return next((n for n in _names(s) if _SYMBOLS_ONLY.match(n.strip())), None)


def _name_encoded(s: Subject, _rule: ConsentRule) -> str | None:
    for name in _names(s):
        if _PERCENT_ENCODED.search(name) or (
            not name.isascii() and any(_foreign(ch) for ch in name)
        ):
            return ascii(name)
    return None


def _foreign(ch: str) -> bool:
    """A letter outside Latin script (Cyrillic 'а' for 'a'), or an invisible format character."""
    if unicodedata.category(ch) == "Cf":
        return True
    return ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN")


def _name_is_user(s: Subject, _rule: ConsentRule) -> str | None:
    known = s.ctx.person_names
    return next((n for n in _names(s) if n.strip().casefold() in known), None)


def _toolkit_scopes(s: Subject, rule: ConsentRule) -> str | None:
    held = sorted({scope for scope in s.app.scopes if scope.casefold() in rule.values})
    return ", ".join(held) if len(held) >= max(rule.minimum, 1) else None


def _new_low_consent(s: Subject, rule: ConsentRule) -> str | None:
    app = s.app
    born = app.created or app.first_seen
    if app.publisher_verified or born < s.ctx.now - timedelta(days=rule.days):
        return None
    if not app.users or len(app.users) > rule.maximum:
        return None
    reading = sorted(
        scope
        for scope in app.scopes
        if any(scope.casefold().rsplit("/", 1)[-1].startswith(p) for p in rule.values)
        or scope.casefold() in rule.values
    )
    if not reading:
        return None
    return f"first seen {born.date().isoformat()}, {len(app.users)} consent(s), {reading[0]}"


def _known_abused(s: Subject, rule: ConsentRule) -> str | None:
    abused = _normalised(rule.values)
    return next((n for n in _names(s) if normalise_name(n) in abused), None)


@lru_cache(maxsize=64)
def _normalised(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalise_name(v) for v in values)


CHECKS: dict[str, Check] = {
    "reply_localhost_access": _reply_localhost_access,
    "reply_localhost": _reply_localhost,
    "reply_plain_http": _reply_plain_http,
    "reply_unusual_tld": _reply_unusual_tld,
    "name_test": _name_test,
    "name_symbols": _name_symbols,
    "name_encoded": _name_encoded,
    "name_is_user": _name_is_user,
    "toolkit_scopes": _toolkit_scopes,
    "new_low_consent": _new_low_consent,
    "known_abused": _known_abused,
}
"""Rule id (``consent_rules.toml``) -> its check; a test keeps the two in step."""
