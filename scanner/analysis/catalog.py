"""The SaaS catalog: canonical products, their vendors, domains, spellings and known client IDs.

Shipped as data in ``scanner/data`` (read by ``scanner.analysis.catalog_files``):

- ``catalog.csv``: ``name,vendor,category,domains,aliases,client_ids,source``; multi-values
  are separated by ``;``. ``source`` says where the facts come from (the vendor site, or the
  documentation page that publishes a client ID).
- ``google_first_party.csv``: Google's own OAuth clients (``name,client_ids,source``).
- ``okta_first_party.csv``: Okta's own apps (Admin Console, Dashboard, Workflows...) by the app
  ``name`` the Okta Applications API gives every instance (``app_name,label,source``).
- ``microsoft/MicrosoftApps.csv``: Microsoft first-party application IDs (merill/microsoft-info,
  MIT licence, see ``microsoft/LICENSE``).

The company extends or overrides it from ``[catalog]`` in ``config.toml``: an extra CSV or TOML
file of entries (same columns; an entry with the name of a shipped one replaces it), extra
aliases and category overrides. Lookups go through indexes built once in ``Catalog.__init__``.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from scanner.analysis.catalog_files import CATALOG_FILE as CATALOG_FILE
from scanner.analysis.catalog_files import CATEGORY_RE
from scanner.analysis.catalog_files import COLUMNS as COLUMNS
from scanner.analysis.catalog_files import DATA_DIR as DATA_DIR
from scanner.analysis.catalog_files import FIRST_PARTY_VENDORS as FIRST_PARTY_VENDORS
from scanner.analysis.catalog_files import GOOGLE_FIRST_PARTY_FILE as GOOGLE_FIRST_PARTY_FILE
from scanner.analysis.catalog_files import MICROSOFT_APPS_FILE as MICROSOFT_APPS_FILE
from scanner.analysis.catalog_files import OKTA_FIRST_PARTY_FILE as OKTA_FIRST_PARTY_FILE
from scanner.analysis.catalog_files import PROVIDER_FIRST_PARTY_FILES as PROVIDER_FIRST_PARTY_FILES
from scanner.analysis.catalog_files import GoogleFirstParty as GoogleFirstParty
from scanner.analysis.catalog_files import ProviderApp as ProviderApp
from scanner.analysis.catalog_files import read_catalog_file as read_catalog_file
from scanner.analysis.catalog_files import read_google_first_party as read_google_first_party
from scanner.analysis.catalog_files import read_microsoft_apps as read_microsoft_apps
from scanner.analysis.catalog_files import read_provider_apps as read_provider_apps
from scanner.analysis.catalog_files import split_multi as split_multi
from scanner.analysis.text import host_of, normalise_name, slug
from scanner.core.errors import ConfigError
from scanner.core.models import CatalogEntry

if TYPE_CHECKING:
    from scanner.core.config import CatalogSettings

MICROSOFT_TENANT_IDS: frozenset[str] = frozenset(
    {
        # appOwnerOrganizationId of Microsoft's own service principals: "Microsoft Services"
        # (f8cdef31...) and Microsoft's corporate tenant (72f988bf...). They are the owner
        # tenants in MicrosoftApps.csv, which https://github.com/merill/microsoft-info builds
        # with the Graph filter appOwnerOrganizationId eq <Microsoft tenant>.
        "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
    }
)

MARKETING_CATEGORIES: frozenset[str] = frozenset(
    {
        "email_marketing",
        "marketing_automation",
        "social_media",
        "advertising",
        "seo",
        "web_analytics",
        "crm",
        "design",
        "video",
        "webinar",
        "surveys_forms",
        "landing_pages",
        "ai_writing",
        "ai_image",
        "ai_video",
        "ai_audio",
        "marketing",
        "link_management",
        "influencer",
        "reviews",
        "website_builder",
        "content_marketing",
        "sms_marketing",
        "customer_data_platform",
        "conversion_optimization",
        "sales_engagement",
        "events",
        "affiliate",
        "stock_media",
        "podcasting",
        "digital_asset_management",
        "pr_media",
    }
)
"""Categories whose apps count as marketing tools."""

OTHER_CATEGORIES: frozenset[str] = frozenset(
    {
        "collaboration",
        "communication",
        "productivity",
        "project_management",
        "file_storage",
        "office_suite",
        "note_taking",
        "scheduling",
        "developer_tools",
        "cloud_infrastructure",
        "monitoring",
        "security",
        "identity",
        "password_manager",
        "it_management",
        "finance",
        "accounting",
        "payments",
        "expense_management",
        "hr",
        "recruiting",
        "customer_support",
        "e_signature",
        "data_analytics",
        "ai_assistant",
        "ai_coding",
        "ecommerce",
        "legal",
        "learning",
        "travel",
        "automation",
        "internal",
        "other",
    }
)
AI_CATEGORIES: frozenset[str] = frozenset(
    {"ai_writing", "ai_image", "ai_video", "ai_audio", "ai_assistant", "ai_coding"}
)
"""Generative-AI tools: writing, image, video and audio content (also marketing), assistants and
coding tools."""
CATEGORIES: frozenset[str] = MARKETING_CATEGORIES | OTHER_CATEGORIES
"""Every category a catalog entry may carry (a config file may add its own)."""

INTERNAL_CATEGORY = "internal"
"""A configured entry with this category is one of the company's own apps."""


class Catalog:
    """Shipped catalog plus the company's overrides, with lookup indexes built once."""

    def __init__(
        self,
        entries: Iterable[CatalogEntry],
        *,
        microsoft_apps: Mapping[str, str] | None = None,
        google_first_party: Iterable[GoogleFirstParty] = (),
        provider_apps: Iterable[ProviderApp] = (),
        internal_names: Iterable[str] = (),
        config_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.entries: tuple[CatalogEntry, ...] = tuple(entries)
        self.microsoft_apps: dict[str, str] = {
            k.lower(): v for k, v in (microsoft_apps or {}).items()
        }
        self.google_first_party: tuple[GoogleFirstParty, ...] = tuple(google_first_party)
        self.provider_apps: tuple[ProviderApp, ...] = tuple(provider_apps)
        """Identity providers' own apps by their global app id (Okta's built-in apps)."""
        self.internal_names: frozenset[str] = frozenset(internal_names)
        """Names of configured entries that are the company's own apps."""
        self.config_aliases: dict[str, str] = {
            normalise_name(k): v for k, v in (config_aliases or {}).items()
        }
        """Normalised alias -> catalog name, for aliases that came from the config."""
        self._by_key: dict[str, CatalogEntry] = {}
        self._by_client_id: dict[str, CatalogEntry] = {}
        self._by_domain: dict[str, list[CatalogEntry]] = {}
        self._by_vendor: dict[str, list[CatalogEntry]] = {}
        for entry in self.entries:
            self._index(entry)
        # Spellings sorted by length: fuzz.ratio >= 90 needs lengths within about 20% of each
        # other, so a fuzzy lookup only scores the slice of plausible lengths. Only entries that
        # allow fuzzy matching take part: imported ones match by domain or exact name.
        self._choices: list[str] = sorted((k for k, e in self._by_key.items() if e.fuzzy), key=len)
        self._choice_lengths: list[int] = [len(c) for c in self._choices]
        self._google_by_id: dict[str, GoogleFirstParty] = {}
        self._google_by_name: dict[str, GoogleFirstParty] = {}
        for app in self.google_first_party:
            self._google_by_name.setdefault(normalise_name(app.name), app)
            for cid in app.client_ids:
                self._google_by_id[cid.lower()] = app
        self._provider_by_id: dict[tuple[str, str], ProviderApp] = {}
        self._provider_by_name: dict[tuple[str, str], ProviderApp] = {}
        google_vendor, google_domain = FIRST_PARTY_VENDORS["google"]
        for key, google in self._google_by_name.items():
            self._provider_by_name[("google", key)] = ProviderApp(
                "google", google.name, google_vendor, google_domain, source=google.source
            )
        for provider_app in self.provider_apps:
            if provider_app.app_id:
                id_key = (provider_app.provider, provider_app.app_id.lower())
                self._provider_by_id.setdefault(id_key, provider_app)
            name_key = (provider_app.provider, normalise_name(provider_app.name))
            self._provider_by_name.setdefault(name_key, provider_app)

    def _index(self, entry: CatalogEntry) -> None:
        for spelling in (entry.name, *entry.aliases):
            key = normalise_name(spelling)
            if key:
                self._by_key.setdefault(key, entry)
        for cid in entry.client_ids:
            self._by_client_id.setdefault(cid.lower(), entry)
        for domain in entry.domains:
            self._by_domain.setdefault(domain.lower(), []).append(entry)
        self._by_vendor.setdefault(normalise_name(entry.vendor), []).append(entry)

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, settings: CatalogSettings | None = None, base: Path | None = None) -> Catalog:
        """The shipped catalog with the config's file, aliases and category overrides applied.

        ``base`` is the config file's folder; relative paths in ``settings`` are taken from it.
        A bad file raises InputError naming ``file:line``; a bad setting raises ConfigError
        naming ``catalog.<key>``.
        """
        entries = {e.name: e for e in read_catalog_file(CATALOG_FILE)}
        internal: set[str] = set()
        aliases: dict[str, str] = {}
        if settings is not None and settings.file:
            path = _config_path(settings.file, base)
            for entry in read_catalog_file(path):
                shipped = _find_by_name(entries, entry.name)
                if shipped is not None:
                    del entries[shipped.name]
                entries[entry.name] = entry
                if entry.category == INTERNAL_CATEGORY:
                    internal.add(entry.name)
        if settings is not None:
            _apply_aliases(entries, settings.aliases, aliases)
            _apply_categories(entries, settings.categories)
        return cls(
            entries.values(),
            microsoft_apps=read_microsoft_apps(MICROSOFT_APPS_FILE),
            google_first_party=read_google_first_party(GOOGLE_FIRST_PARTY_FILE),
            provider_apps=[
                app
                for provider, path in PROVIDER_FIRST_PARTY_FILES.items()
                for app in read_provider_apps(path, provider)
            ],
            internal_names=internal,
            config_aliases=aliases,
        )

    # -- lookups ---------------------------------------------------------------------------

    def find(self, name: str) -> CatalogEntry | None:
        """The entry whose name or alias equals ``name`` after normalisation, else None."""
        return self._by_key.get(normalise_name(name))

    def find_normalised(self, key: str) -> CatalogEntry | None:
        """Like ``find`` for a name that is already normalised (no second normalisation)."""
        return self._by_key.get(key)

    def by_client_id(self, client_id: str) -> CatalogEntry | None:
        return self._by_client_id.get(client_id.strip().lower())

    def by_domain(self, host: str) -> list[CatalogEntry]:
        """Entries owning ``host`` or a parent domain of it (``app.hubspot.com`` -> HubSpot)."""
        labels = host.lower().split(".")
        for start in range(len(labels) - 1):
            found = self._by_domain.get(".".join(labels[start:]))
            if found:
                return found
        return []

    def by_vendor(self, vendor: str) -> list[CatalogEntry]:
        return self._by_vendor.get(normalise_name(vendor), [])

    def fuzzy(self, key: str, cutoff: float) -> tuple[CatalogEntry, str, float] | None:
        """Best entry for an already normalised name by ``fuzz.ratio``, if at least ``cutoff``."""
        # ratio = 2 * matches / (len(a) + len(b)) * 100, so lengths outside this window
        # cannot reach the cutoff.
        factor = cutoff / (200.0 - cutoff)
        low = bisect_left(self._choice_lengths, math.floor(len(key) * factor))
        high = bisect_right(self._choice_lengths, math.ceil(len(key) / factor))
        best = process.extractOne(
            key, self._choices[low:high], scorer=fuzz.ratio, score_cutoff=cutoff
        )
        if best is None:
            return None
        choice, score, _ = best
        return self._by_key[choice], choice, float(score)

    def suggest(self, name: str) -> str | None:
        """A catalog name close to ``name`` for "did you mean ...?" messages, or None."""
        key = normalise_name(name)
        if not key:
            return None
        best = process.extractOne(key, self._choices, scorer=fuzz.WRatio, score_cutoff=75)
        return self._by_key[best[0]].name if best else None

    def is_marketing_category(self, category: str | None) -> bool:
        return category is not None and category in MARKETING_CATEGORIES

    def owns_domain(self, entry: CatalogEntry, host: str) -> bool:
        """Whether ``host`` is one of the entry's domains or below one."""
        host = host.lower()
        return any(host == d or host.endswith("." + d) for d in entry.domains)

    def microsoft_app(self, app_id: str) -> str | None:
        """Display name of a Microsoft first-party app ID, or None."""
        return self.microsoft_apps.get(app_id.strip().lower())

    def google_by_client_id(self, client_id: str) -> GoogleFirstParty | None:
        return self._google_by_id.get(client_id.strip().lower())

    def google_by_name(self, key: str) -> GoogleFirstParty | None:
        """Google first-party client by already normalised name."""
        return self._google_by_name.get(key)

    def first_party_app(self, provider: str, app_id: str) -> ProviderApp | None:
        """The provider's own app with that global app id (``("okta", "saasure")``), or None."""
        return self._provider_by_id.get((provider, app_id.strip().lower()))

    def first_party_named(self, provider: str, key: str) -> ProviderApp | None:
        """The provider's own app by already normalised name (Google's clients, Okta's labels)."""
        return self._provider_by_name.get((provider, key))

    def is_internal(self, entry: CatalogEntry) -> bool:
        return entry.name in self.internal_names

    @cached_property
    def vendor_names(self) -> frozenset[str]:
        return frozenset(self._by_vendor)

    def is_ai_category(self, category: str | None) -> bool:
        return category is not None and category in AI_CATEGORIES

    def stats(self) -> dict[str, object]:
        """Size, per-category and per-source counts, for ``shadowit catalog stats``."""
        categories = Counter(e.category for e in self.entries)
        third_party = [e for e in self.entries if e.category != INTERNAL_CATEGORY]
        return {
            "apps": len(self.entries),
            "third_party_apps": len(third_party),
            "apps_with_source": sum(1 for e in self.entries if e.source),
            "marketing_apps": sum(n for c, n in categories.items() if c in MARKETING_CATEGORIES),
            "ai_apps": sum(n for c, n in categories.items() if c in AI_CATEGORIES),
            "apps_with_mfa_facts": sum(1 for e in self.entries if e.mfa),
            "apps_without_mfa": sum(1 for e in self.entries if e.mfa == ("none",)),
            "apps_with_sso_on_paid_tier_only": sum(1 for e in self.entries if e.sso == "paid"),
            "sources": dict(sorted(Counter(source_name(e.source) for e in self.entries).items())),
            "vendors": len(self._by_vendor),
            "spellings": len(self._by_key),
            "client_ids": len(self._by_client_id),
            "domains": len(self._by_domain),
            "categories": dict(sorted(categories.items())),
            "microsoft_first_party_ids": len(self.microsoft_apps),
            "google_first_party_clients": len(self.google_first_party),
            **{
                f"{provider}_first_party_apps": sum(
                    1 for a in self.provider_apps if a.provider == provider
                )
                for provider in sorted({a.provider for a in self.provider_apps})
            },
        }


def source_name(source: str) -> str:
    """The source a row's ``source`` cites, for counting: ``2factorauth/twofactorauth@f3ac2ab
    entries/...`` -> ``2factorauth/twofactorauth``; ``vendor site https://...`` -> ``vendor site``;
    a company file's ``extra.csv:7`` -> ``extra.csv``."""
    if "@" in source.split(" ")[0]:
        return source.split("@")[0]
    for prefix in ("vendor site", "vendor docs"):
        if source.startswith(prefix):
            return prefix
    head = source.split(" ")[0]
    return head.rsplit(":", 1)[0] if ":" in head and "//" not in head else source.split(" http")[0]


def describe(entry: CatalogEntry) -> dict[str, object]:
    """One entry with where each field came from, for ``shadowit catalog show``."""
    return {
        "name": entry.name,
        "vendor": entry.vendor,
        "category": entry.category,
        "marketing": entry.category in MARKETING_CATEGORIES,
        "ai": entry.category in AI_CATEGORIES,
        "domains": list(entry.domains),
        "aliases": list(entry.aliases),
        "client_ids": list(entry.client_ids),
        "match": "fuzzy" if entry.fuzzy else "exact",
        "source": entry.source,
        "mfa": list(entry.mfa) or "unknown",
        "mfa_docs": entry.mfa_docs,
        "mfa_source": entry.mfa_source,
        "sso": entry.sso,
        "sso_note": entry.sso_note,
        "sso_source": entry.sso_source,
    }


# -- config overrides --------------------------------------------------------------------------


def _config_path(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _find_by_name(entries: Mapping[str, CatalogEntry], name: str) -> CatalogEntry | None:
    wanted = normalise_name(name)
    for entry in entries.values():
        if normalise_name(entry.name) == wanted or wanted in map(normalise_name, entry.aliases):
            return entry
    return None


def _did_you_mean(entries: Mapping[str, CatalogEntry], name: str) -> str:
    best = process.extractOne(
        normalise_name(name),
        {e.name: normalise_name(e.name) for e in entries.values()},
        scorer=fuzz.WRatio,
        score_cutoff=75,
    )
    return f"; did you mean {best[2]!r}?" if best else ""


def _apply_aliases(
    entries: dict[str, CatalogEntry], aliases: Mapping[str, str], seen: dict[str, str]
) -> None:
    for alias, target in aliases.items():
        entry = _find_by_name(entries, target)
        if entry is None:
            raise ConfigError(
                f"catalog.aliases.{alias!r}: no catalog app named {target!r}"
                f"{_did_you_mean(entries, target)}"
            )
        if not normalise_name(alias):
            raise ConfigError(f"catalog.aliases.{alias!r}: the alias has no letters or digits")
        entries[entry.name] = replace(entry, aliases=(*entry.aliases, alias))
        seen[alias] = entry.name


def _apply_categories(entries: dict[str, CatalogEntry], categories: Mapping[str, str]) -> None:
    for name, category in categories.items():
        entry = _find_by_name(entries, name)
        if entry is None:
            raise ConfigError(
                f"catalog.categories.{name!r}: no catalog app named {name!r}"
                f"{_did_you_mean(entries, name)}"
            )
        if not CATEGORY_RE.match(category):
            raise ConfigError(
                f"catalog.categories.{name!r}: {category!r} must be lower_snake_case "
                f"(known: {', '.join(sorted(CATEGORIES))})"
            )
        entries[entry.name] = replace(entry, category=category)


__all__ = [
    "AI_CATEGORIES",
    "CATEGORIES",
    "MARKETING_CATEGORIES",
    "MICROSOFT_TENANT_IDS",
    "Catalog",
    "GoogleFirstParty",
    "ProviderApp",
    "host_of",
    "normalise_name",
    "slug",
]
