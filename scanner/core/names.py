"""Provider text is data, never control: how names reach a terminal, a log, a page or a header.

App names, publishers, scopes, user names and error texts come from identity providers and
expense files, that is from anyone who can register an app. Each of them can carry characters
that act instead of showing: ESC sequences clear a terminal or set its title, CR and LF forge
log lines and mail headers, bidi overrides make ``Invoice\\u202etxt.exe`` read as
``Invoiceexe.txt``, and zero-width characters make two different names look the same. So:

- ``one_line`` makes any text safe for a terminal or a log line: every such character becomes
  a visible escape (``\\x0a``, ``\\x1b``, ``\\u202e``) and the text is cut to a width. Every
  print and log of provider data goes through it.
- ``visible`` is the same for rendered documents (the HTML report, the confirmation page,
  messages): the character is shown as ``⟨U+202E⟩``; tab and line breaks stay, being only
  whitespace in a page.
- The store, ``report.json`` and the exports keep the exact value.

Email addresses are checked with email-validator (syntax only, no DNS lookup) wherever they
enter: ``is_email`` for settings and forms, ``checked_addresses`` for every record a source
yields, which turns a malformed address into no address and a warning naming the record.
email-validator: https://github.com/JoshData/python-email-validator
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from scanner.core.models import Grant, SignIn, SignInDay, SourceRecord, SourceWarning, Spend, User

LINE_WIDTH = 300
"""Characters of a log or terminal line kept by default; a 100 KB name is not a line."""
NAME_WIDTH = 120
"""Characters of one name kept where several share a line."""
ELLIPSIS = "\u2026"

# Characters that act instead of showing. C0 and C1 controls with DEL (ESC, BEL, CR, LF, NUL,
# CSI U+009B); bidi marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A-202E,
# U+2066-2069); zero-width and other invisible format characters (U+00AD, U+180E,
# U+200B-200D, U+2060-2064, U+206A-206F, U+FEFF, U+FFF9-FFFB); line and paragraph separators
# (U+2028/9); the invisible tag characters (U+E0000-E007F); and lone surrogates, which cannot
# even be encoded. Together: Unicode categories Cc, Cf, Cs, Zl and Zp (tests/test_names.py
# checks that against the running Python's Unicode database).
# https://www.unicode.org/reports/tr9/ (bidi), https://www.unicode.org/reports/tr36/ (spoofing)
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_WHITESPACE = "\t\n"
"""Kept by ``visible``: in a page they are only spacing, they cannot hide or reorder text."""


def escape(char: str) -> str:
    """``\\x0a``, ``\\x1b``, ``\\u202e``, ``\\U000e0041``: how a terminal or a log shows it."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def label(char: str) -> str:
    """``⟨U+202E⟩``: how a page or a message shows it."""
    return f"\u27e8U+{ord(char):04X}\u27e9"


def reveal(text: str, mark: Callable[[str], str] = escape, keep: str = "") -> str:
    """``text`` with each control, bidi, zero-width or separator character (but those in
    ``keep``) replaced by ``mark(char)``."""
    return _HIDDEN.sub(lambda m: m.group() if m.group() in keep else mark(m.group()), text)


_ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def cut(text: str, width: int | None) -> str:
    """``text`` within ``width`` characters, an ellipsis marking a cut; an escape is never
    split (a cut ``\\u20`` would read as other text)."""
    if width is None or len(text) <= width:
        return text
    end = max(width - 1, 0)
    start = text.rfind("\\", max(end - 9, 0), end)
    if start != -1:
        escaped = _ESCAPE.match(text, start)
        if escaped is not None and escaped.end() > end:
            end = start
    return text[:end] + ELLIPSIS


def one_line(value: object, width: int | None = LINE_WIDTH) -> str:
    """Any text as one line that is safe for a terminal or a log: every control, bidi and
    zero-width character (LF and CR too) a visible escape; cut to ``width`` characters."""
    text = str(value)
    if width is not None:
        text = text[: width + 1]  # escapes only lengthen: the rest would be cut anyway
    if text.isprintable():  # the common case, checked in C: nothing to escape
        return cut(text, width)
    return cut(reveal(text), width)


def visible(value: str) -> str:
    """Text for a rendered page or message: each control, bidi and zero-width character shown
    as ``⟨U+XXXX⟩``, so a name cannot reorder itself, hide a part or carry a NUL or ESC into
    the document. Tab and LF stay (whitespace); CR LF becomes LF, as an HTML parser makes it
    anyway, so the page's markup and its embedded data agree; a lone CR is marked."""
    if value.isprintable():
        return value
    return reveal(value.replace("\r\n", "\n"), label, keep=_WHITESPACE)


def visible_data(value: Any) -> Any:
    """``visible`` applied to every string (keys too) in nested lists and dicts, for data a
    page renders itself (the HTML report's embedded JSON); the JSON report keeps the exact
    values."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, Mapping):
        return {visible_data(k): visible_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_data(v) for v in value]
    return value


# -- email addresses ------------------------------------------------------------------------
@lru_cache(maxsize=65_536)  # sign-ins repeat the same few thousand addresses
def email_problem(value: str) -> str | None:
    """Why ``value`` is not an email address (syntax only, no DNS), or None when it is one.

    Internationalised addresses (SMTPUTF8, RFC 6531) are allowed: directories hold them.
    A trailing newline, a CR LF with another header after it, a display name, quotes or
    spaces are all refused, so an address can always go into a header as it is.
    """
    try:
        validate_email(
            _probe(value),
            check_deliverability=False,
            allow_smtputf8=True,
            globally_deliverable=False,  # "ops@corp" is a fine address inside a company
        )
    except EmailNotValidError as err:
        return str(err)
    return None


def _probe(value: str) -> str:
    """``value`` as email-validator should see it for a syntax check.

    email-validator refuses special-use domains (``localhost``, ``.local``, ``.test``, RFC
    6761) whatever it is asked; but directories synced from Active Directory hold
    ``alice@corp.local`` and ``shadowit@localhost`` is a working local sender. Such a domain is
    checked as a subdomain of ``example``: every character of it is still checked.
    """
    local, at, domain = value.rpartition("@")
    name = domain.lower()
    if at and any(name == d or name.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES):
        return f"{local}@{domain}.example"
    return value


def is_email(value: str) -> bool:
    return email_problem(value) is None


_ADDRESS_FIELDS: dict[type[Any], tuple[str, Callable[[Any], str]]] = {
    User: ("email", lambda r: f"user {r.id}"),
    Grant: ("user_email", lambda r: f"grant of {r.client_id} to user {r.user_id}"),
    SignIn: ("user_email", lambda r: f"sign-in {r.event_id}"),
    SignInDay: ("user_email", lambda r: f"sign-ins of {r.day} into {r.client_id}"),
    Spend: ("user_email", lambda r: f"expense line {r.line_id}"),
}
"""Record type -> (its address field, how a warning names the record)."""
_STREAMS = {User: "users", Grant: "grants", SignIn: "signins", SignInDay: "signins", Spend: "spend"}


def checked_addresses(records: Iterable[SourceRecord]) -> Iterator[SourceRecord]:
    """``records`` with each malformed email address removed, and a SourceWarning naming the
    record before the first record that had it (the person is then known by the source's user
    id). One warning per address and source, not one per sign-in."""
    warned: set[tuple[str, str]] = set()
    for record in records:
        field = _ADDRESS_FIELDS.get(type(record))
        address = getattr(record, field[0]) if field else None
        if field is None or address is None or is_email(address):
            yield record
            continue
        if (record.source, address) not in warned:
            warned.add((record.source, address))
            yield SourceWarning(
                record.source,
                _STREAMS[type(record)],
                one_line(
                    f"{field[1](record)}: ignored the email address {address!r} "
                    f"({email_problem(address)})"
                ),
            )
        without: Any = record  # one of the record types above, all dataclasses
        yield dataclasses.replace(without, **{field[0]: None})
