"""Pure parsing for the files connector: cells, amounts, dates, currencies, domains, cursors."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

UNDECODABLE = "\ufffd"
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF"}
# Dates we read without a date_format: ISO 8601 first, then unambiguous spellings. Slashed
# day/month orders (03/11/2026) are ambiguous and need date_format.
DATE_FORMATS = (
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
)
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""JSON escapes can smuggle lone surrogates, which no database can store."""


class RowError(Exception):
    """A row that cannot be imported; the message is the reason."""


def clean_cell(value: Any, max_cell: int) -> tuple[str | None, bool]:
    """Text as stored: NUL dropped, whitespace trimmed, cut at ``max_cell``; (text, was_cut)."""
    if value is None:
        return None, False
    text = _LONE_SURROGATE.sub(UNDECODABLE, str(value).replace("\x00", "")).strip()
    if not text:
        return None, False
    if len(text) > max_cell:
        return text[:max_cell], True
    return text, False


def parse_amount(text: str, decimal: str = ".") -> tuple[float, str | None]:
    """``1,234.50`` / ``1.234,50`` / ``(12.00)`` / ``€12`` -> (amount, currency from a symbol)."""
    raw = text.replace("\u00a0", "").replace(" ", "").replace("'", "")
    negative = raw.startswith("(") and raw.endswith(")")
    raw = raw.strip("()")
    symbol = None
    for sign, code in CURRENCY_SYMBOLS.items():
        if raw.startswith(sign) or raw.endswith(sign):
            symbol, raw = code, raw.removeprefix(sign).removesuffix(sign)
            break
    raw = raw.replace(",", "") if decimal == "." else raw.replace(".", "").replace(",", ".")
    if not _NUMBER.fullmatch(raw):
        raise RowError(f"amount {_quote(text)} is not a number")
    try:
        value = float(Decimal(raw))
    except (InvalidOperation, ValueError):
        raise RowError(f"amount {_quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise RowError(f"amount {_quote(text)} is out of range")
    return (-value if negative else value), symbol


def parse_when(text: str, date_format: str | None) -> datetime:
    """A date or date-time cell -> aware UTC datetime (naive values are taken as UTC)."""
    parsed: datetime | None = None
    if date_format:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            raise RowError(
                f"date {_quote(text)} does not match date_format {date_format!r}"
            ) from None
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in DATE_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
    if parsed is None:
        raise RowError(
            f'date {_quote(text)} is not a date we can read; set date_format (e.g. "%d/%m/%Y")'
        )
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise RowError(f"date {_quote(text)} is out of range") from None


def parse_currency(text: str | None, default: str | None, from_symbol: str | None) -> str:
    if text:
        code = CURRENCY_SYMBOLS.get(text, text).upper()
        if len(code) == 3 and code.isascii() and code.isalpha():
            return code
        raise RowError(f"currency {_quote(text)} is not a three-letter code such as EUR")
    if from_symbol or default:
        return (from_symbol or default or "").upper()
    raise RowError("no currency (empty cell and no currency setting)")


def domain_of(text: str) -> str | None:
    """``https://app.hubspot.com/x`` or ``app.hubspot.com`` -> ``app.hubspot.com``."""
    candidate = text if "://" in text else f"//{text}"
    try:
        host = urlsplit(candidate).hostname
    except ValueError:
        return None
    if host and "." in host and re.fullmatch(r"[a-z0-9.-]+", host):
        return host
    return None


def row_hash(*parts: str) -> str:
    """A stable id from the import and a row's content."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def _quote(text: str, limit: int = 40) -> str:
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


# -- cursor ---------------------------------------------------------------------------------


def read_cursor(cursor: str | None) -> dict[str, str]:
    """``sha256sum``-style lines -> {path: sha256}."""
    known: dict[str, str] = {}
    for line in (cursor or "").splitlines():
        digest, sep, path = line.partition("  ")
        if sep and len(digest) == 64:
            known[path] = digest
    return known


def write_cursor(known: Mapping[str, str]) -> str:
    return "\n".join(f"{digest}  {path}" for path, digest in sorted(known.items()))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
