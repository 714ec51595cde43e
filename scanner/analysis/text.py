"""Product names and hosts folded for comparison; pure text, shared by catalog, resolution,
sanctions, confirmations and reports."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

_LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "plc",
        "pty",
        "pte",
        "oy",
        "ab",
        "as",
        "aps",
        "kk",
        "lp",
        "llp",
        "app",
        "apps",
    }
)
"""Trailing words dropped by ``normalise_name`` ("HubSpot, Inc." == "HubSpot")."""

# Latin look-alikes from other scripts (a small part of Unicode's confusables.txt): folded so
# "Cаnva" (Cyrillic а) normalises like "Canva"; their presence is itself a lookalike signal.
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "с": "c",
        "е": "e",
        "һ": "h",
        "і": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "ѕ": "s",
        "т": "t",
        "у": "y",
        "х": "x",
        "ԁ": "d",
        "ɡ": "g",
        "α": "a",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)

_ASCII_PUNCTUATION = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    if text.isascii():
        # Fast path: for ASCII, NFKC and accent stripping change nothing and casefold is lower.
        return _ASCII_PUNCTUATION.sub(" ", text.lower().replace("&", " and "))
    text = unicodedata.normalize("NFKC", text)
    # Format characters (zero-width joiners, bidi overrides, BOM) are invisible in a consent
    # screen; drop them before anything else.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.casefold().translate(_CONFUSABLES)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("&", " and ")
    return "".join(ch if ch.isalnum() else " " for ch in text)


def strip_suffixes(words: list[str]) -> list[str]:
    kept = list(words)
    while len(kept) > 1 and kept[-1] in _LEGAL_SUFFIXES:
        kept.pop()
    return kept


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """Fold a product name for comparison: ``"HubSpot, Inc."`` -> ``"hubspot"``.

    Unicode NFKC, casefold, accents, zero-width / bidi characters and common Cyrillic / Greek
    look-alikes removed; punctuation to spaces; trailing legal-form and "App" words dropped (a
    name that is only such a word keeps it). Idempotent: the result normalises to itself.
    """
    result = name
    for _ in range(4):
        folded = " ".join(strip_suffixes(_fold(result).split()))
        if folded == result:
            break
        result = folded
    return result


def slug(name: str) -> str:
    """Stable key fragment: the normalised name with dashes (``"Google Ads"`` -> ``google-ads``)."""
    return "-".join(normalise_name(name).split())


def has_confusables(name: str) -> bool:
    """Whether the name hides look-alike letters or invisible characters."""
    if name.isascii():
        return False
    text = unicodedata.normalize("NFKC", name)
    return any(
        unicodedata.category(ch) == "Cf" or ch.casefold() != ch.casefold().translate(_CONFUSABLES)
        for ch in text
    )


def host_of(value: str) -> str | None:
    """The host name in a URL or bare domain, lower-case, without ``www.`` and wildcards."""
    value = value.strip()
    if not value or value.startswith("urn:"):
        return None
    if "://" not in value:
        value = "//" + value
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    host = host.lower().rstrip(".").removeprefix("*.").removeprefix("www.")
    if host.replace(".", "").isdigit():
        return None
    return host
