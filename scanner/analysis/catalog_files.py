"""The catalog's shipped data files and their readers: the catalog CSV or TOML, and the
first-party lists (Google's OAuth clients, Okta's own apps, Microsoft's application IDs).

Each reader returns plain records; ``scanner.analysis.catalog`` indexes them. A bad row raises
InputError naming ``file:line``.
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from scanner.analysis.text import normalise_name, slug
from scanner.core.errors import InputError
from scanner.core.models import CatalogEntry

DATA_DIR = Path(__file__).parents[1] / "data"
CATALOG_FILE = DATA_DIR / "catalog.csv"
GOOGLE_FIRST_PARTY_FILE = DATA_DIR / "google_first_party.csv"
OKTA_FIRST_PARTY_FILE = DATA_DIR / "okta_first_party.csv"
MICROSOFT_APPS_FILE = DATA_DIR / "microsoft" / "MicrosoftApps.csv"

COLUMNS = (
    "name",
    "vendor",
    "category",
    "domains",
    "aliases",
    "client_ids",
    "match",
    "mfa",
    "mfa_docs",
    "mfa_source",
    "sso",
    "sso_note",
    "sso_source",
    "source",
)
"""Catalog columns; only ``name`` and ``category`` are required in a company's own file."""

MATCH_MODES = ("fuzzy", "exact")
MFA_METHODS = frozenset(
    # 2factorauth/twofactorauth's method names, plus "none" (listed as offering no 2FA).
    {"sms", "call", "email", "totp", "u2f", "custom-software", "custom-hardware", "none"}
)
SSO_TIERS = ("yes", "paid", "no", "unknown")

FIRST_PARTY_VENDORS: dict[str, tuple[str, str]] = {
    "google": ("Google", "google.com"),
    "okta": ("Okta", "okta.com"),
}
"""Provider (the source whose connector reports its apps) -> vendor name and domain of its own
apps. A provider's first-party list is keyed by the source name, so only that source's apps are
recognised by it (the connector declares ``first_party_ids`` / ``first_party_by_name``)."""
PROVIDER_FIRST_PARTY_FILES: dict[str, Path] = {"okta": OKTA_FIRST_PARTY_FILE}
"""Shipped first-party lists identified by the provider's own app id, per provider."""

CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
"""What a category looks like: lower_snake_case."""


@dataclass(frozen=True, slots=True)
class GoogleFirstParty:
    """One of Google's own OAuth clients (Chrome, Android, iOS Account Manager...)."""

    name: str
    client_ids: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class ProviderApp:
    """One of an identity provider's own apps, as its first-party list names it."""

    provider: str
    """The source that reports it and whose list holds it: ``okta``, ``google``."""
    name: str
    vendor: str
    domain: str
    app_id: str | None = None
    """The provider's global id of the app (Okta's app ``name``: ``saasure``); None when the app
    is known by name only (Google's token list)."""
    source: str = ""

    @property
    def key(self) -> str:
        """``okta:saasure``, ``google:google-chrome``: stable across tenants and renames."""
        return f"{self.provider}:{slug(self.app_id or self.name)}"

    @property
    def category(self) -> str:
        return f"{self.provider}_first_party"


def split_multi(value: str | None) -> tuple[str, ...]:
    """``"a; b;;c"`` -> ``("a", "b", "c")``."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(";") if part.strip())


def read_catalog_file(path: Path) -> list[CatalogEntry]:
    """Entries of a catalog CSV or TOML file; InputError names ``file:line`` on a bad row."""
    return list(_once(_parse_catalog_file, path))


def _parse_catalog_file(path: Path) -> tuple[CatalogEntry, ...]:
    if path.suffix.lower() == ".toml":
        return tuple(_read_toml(path))
    return tuple(_read_csv(path))


_T = TypeVar("_T")
_PARSED: dict[tuple[Callable[..., Any], str, tuple[Any, ...], int, int], Any] = {}
_PARSED_MAX = 64


def _once(parse: Callable[..., _T], path: Path, *args: Any) -> _T:
    """``parse(path, *args)``, parsed once per process while the file is unchanged (same
    modification time and size): the shipped catalog has thousands of rows and a scan, its
    report and each command read it several times. What is kept is immutable (tuples of
    frozen records); callers copy before changing anything."""
    try:
        stat = path.stat()
    except OSError:
        return parse(path, *args)  # the reader names the file and what went wrong
    key = (parse, str(path.resolve()), args, stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = parse(path, *args)
    return cast(_T, _PARSED[key])


def _open_rows(path: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: catalog file not found (catalog.file)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as err:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV: {err}") from None


def _read_csv(path: Path) -> Iterator[CatalogEntry]:
    for line, row in _open_rows(path):
        if None in row:
            raise InputError(
                f"{path}:{line}: more fields than the header has; quote values with commas"
            )
        missing = [c for c in ("name", "category") if c not in row]
        if missing:
            raise InputError(
                f"{path}:1: missing column {missing[0]!r} (columns: {', '.join(COLUMNS)})"
            )
        yield _entry(path, line, row)


def _fields(row: Mapping[str, Any], where: str) -> dict[str, str | tuple[str, ...]]:
    """Each column's value stripped once: text, or a tuple for a TOML list."""
    fields: dict[str, str | tuple[str, ...]] = {}
    for key in COLUMNS:
        value = row.get(key)
        if value is None:
            fields[key] = ""
        elif isinstance(value, str):
            fields[key] = value.strip()
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            fields[key] = tuple(v.strip() for v in value if v.strip())
        elif isinstance(value, list):
            raise InputError(f"{where}: {key} must be a list of text")
        else:
            raise InputError(f"{where}: {key} must be text, got {type(value).__name__}")
    return fields


def _entry(path: Path, line: int, row: Mapping[str, Any]) -> CatalogEntry:
    where = f"{path}:{line}"
    fields = _fields(row, where)

    def text(key: str) -> str:
        value = fields[key]
        if not isinstance(value, str):
            raise InputError(f"{where}: {key} must be text, got list")
        return value

    def multi(key: str) -> tuple[str, ...]:
        value = fields[key]
        return value if isinstance(value, tuple) else split_multi(value)

    name = text("name")
    if not name or not normalise_name(name):
        raise InputError(f"{where}: name is empty")
    category = text("category")
    if not CATEGORY_RE.match(category):
        raise InputError(
            f"{where}: category {category!r} for {name!r} must be lower_snake_case, "
            f"e.g. email_marketing"
        )
    domains = tuple(d.lower().removeprefix("www.") for d in multi("domains"))
    for domain in domains:
        if "." not in domain or "/" in domain or " " in domain:
            raise InputError(f"{where}: {domain!r} is not a domain (write e.g. hubspot.com)")
    match = text("match").lower() or "fuzzy"
    mfa = tuple(m.lower() for m in multi("mfa"))
    sso = text("sso").lower() or "unknown"
    for value, allowed, column in ((match, MATCH_MODES, "match"), (sso, SSO_TIERS, "sso")):
        if value not in allowed:
            raise InputError(f"{where}: {column} {value!r} must be one of {', '.join(allowed)}")
    unknown = sorted(set(mfa) - MFA_METHODS)
    if unknown:
        raise InputError(
            f"{where}: mfa method {unknown[0]!r} is not one of {', '.join(sorted(MFA_METHODS))}"
        )
    return CatalogEntry(
        name=name,
        vendor=text("vendor") or name,
        category=category,
        domains=domains,
        aliases=multi("aliases"),
        client_ids=multi("client_ids"),
        source=text("source") or f"{path.name}:{line}",
        fuzzy=match == "fuzzy",
        mfa=mfa,
        mfa_docs=text("mfa_docs") or None,
        mfa_source=text("mfa_source") or None,
        sso=sso,
        sso_note=text("sso_note") or None,
        sso_source=text("sso_source") or None,
    )


def _read_toml(path: Path) -> Iterator[CatalogEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: catalog file not found (catalog.file)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}") from None
    apps = data.get("app", [])
    if not isinstance(apps, list):
        raise InputError(f"{path}: expected [[app]] tables")
    starts = [n for n, ln in enumerate(text.splitlines(), 1) if ln.strip() == "[[app]]"]
    for index, table in enumerate(apps):
        line = starts[index] if index < len(starts) else 0
        unknown = sorted(set(table) - set(COLUMNS))
        if unknown:
            raise InputError(
                f"{path}:{line}: unknown key {unknown[0]!r} (known: {', '.join(COLUMNS)})"
            )
        yield _entry(path, line, table)


def read_google_first_party(path: Path) -> list[GoogleFirstParty]:
    return list(_once(_parse_google_first_party, path))


def _parse_google_first_party(path: Path) -> tuple[GoogleFirstParty, ...]:
    return tuple(
        GoogleFirstParty(
            name=(row.get("name") or "").strip(),
            client_ids=split_multi(row.get("client_ids")),
            source=(row.get("source") or "").strip(),
        )
        for _, row in _open_rows(path)
    )


def read_provider_apps(path: Path, provider: str) -> list[ProviderApp]:
    """A provider's first-party list (``app_name,label,source``); InputError names a bad row."""
    return list(_once(_parse_provider_apps, path, provider))


def _parse_provider_apps(path: Path, provider: str) -> tuple[ProviderApp, ...]:
    vendor, domain = FIRST_PARTY_VENDORS[provider]
    apps: list[ProviderApp] = []
    for line, row in _open_rows(path):
        app_id = (row.get("app_name") or "").strip()
        label = (row.get("label") or "").strip()
        if not app_id or not label:
            raise InputError(f"{path}:{line}: app_name and label are both needed")
        source = (row.get("source") or "").strip() or f"{path.name}:{line}"
        apps.append(ProviderApp(provider, label, vendor, domain, app_id=app_id, source=source))
    return tuple(apps)


def read_microsoft_apps(path: Path) -> dict[str, str]:
    """AppId -> display name of Microsoft's first-party applications."""
    return dict(_once(_parse_microsoft_apps, path))


def _parse_microsoft_apps(path: Path) -> tuple[tuple[str, str], ...]:
    apps: dict[str, str] = {}
    for _, row in _open_rows(path):
        app_id = (row.get("AppId") or "").strip().lower()
        if app_id:
            apps.setdefault(app_id, (row.get("AppDisplayName") or "").strip() or app_id)
    return tuple(apps.items())
