"""Raw app -> canonical ``App``, recording the evidence of each match.

Rules, first match wins (each leaves an ``Evidence(rule, value, score)``):

1. ``first_party``: the client ID is a Microsoft first-party app ID (``MicrosoftApps.csv``), the
   app is registered in a Microsoft tenant, it is one of Google's own OAuth clients
   (``google_first_party.csv``), or it is in the first-party list of the provider its source
   reports for. A source whose connector declares ``first_party_ids`` tags each app with the
   provider's global app id (``okta:saasure``), looked up in that provider's list
   (``okta_first_party.csv``); an app without that id is looked up by name only when the
   connector declares ``first_party_by_name`` (Google's token list names Google's own clients;
   Okta's System Log names an app by its label). Key ``ms:<appId>`` / ``google:<slug>`` /
   ``okta:<slug of the app id>``; never shadow IT.
2. ``client_id``: a client / app ID the catalog lists (published by the vendor). Key
   ``cat:<slug>``.
3. ``internal``: registered in one of ``organisation.own_tenant_ids``, served from one of
   ``organisation.own_domains``, or a configured catalog entry with category ``internal``.
   Key ``internal:<slug>``.
4. ``publisher`` / ``domain``: a verified publisher whose name is a catalog vendor, or a homepage,
   reply URL or stated domain under a vendor's domain. Several products on one vendor or domain
   are told apart by the app's name.
5. ``name`` (or ``config`` for an alias from ``[catalog.aliases]``): the normalised name, or a
   merchant string's cleaned candidates, equals a catalog name or alias.
6. ``fuzzy``: ``rapidfuzz.fuzz.ratio`` >= ``FUZZY_THRESHOLD`` (90) against every catalog
   spelling, which catches typos ("Hubspt", "Mail Chimp") but not "Zoomerang" for "Zoom"; or the
   name *starts with* a catalog spelling of at least ``PREFIX_MIN_CHARS`` characters as whole
   words ("Mailchimp for Gmail").

A ``name`` or ``fuzzy`` match is **not** merged when the app shows signs of impersonation: an
unverified publisher together with a homepage / reply URL / domain that is not the vendor's (and
not an identity provider's), or lure words ("free", "download"...) in a fuzzy match, or look-alike
characters (Cyrillic letters, zero-width characters) in the name. It becomes
``lookalike:<source>:<client_id>`` with ``lookalike_of`` naming the product it imitates.
Everything else is ``name:<slug>`` so one unknown name merges across sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scanner.analysis.catalog import MICROSOFT_TENANT_IDS, Catalog, ProviderApp
from scanner.analysis.text import has_confusables, host_of, normalise_name, slug, strip_suffixes
from scanner.core.models import App, CatalogEntry, Evidence, RawApp

FUZZY_THRESHOLD = 90.0
"""Minimum ``fuzz.ratio`` (0-100) for a fuzzy name match: 90 accepts one typo in a ten-letter
name ("Hubspt" -> HubSpot scores 92) and rejects different products sharing a stem
("Zoominfo" vs "Zoom": 67)."""

PREFIX_MIN_CHARS = 4
"""A catalog spelling must have at least this many characters to match as the leading words of
a longer name, so "Box Shipping Calculator" does not become Box."""

GENERIC_SPELLINGS: frozenset[str] = frozenset(
    [
        "adobe",
        "anchor",
        "apollo",
        "aspire",
        "attentive",
        "autopilot",
        "bill",
        "buffer",
        "capsule",
        "census",
        "chorus",
        "clarity",
        "close",
        "conductor",
        "copper",
        "delighted",
        "drift",
        "drip",
        "emma",
        "falcon",
        "firefly",
        "folk",
        "front",
        "funnel",
        "ghost",
        "gong",
        "google",
        "heap",
        "hunter",
        "impact",
        "indeed",
        "keeper",
        "lately",
        "later",
        "lattice",
        "lever",
        "linear",
        "lithium",
        "loom",
        "lucid",
        "luma",
        "make",
        "medium",
        "mention",
        "meta",
        "microsoft",
        "monday",
        "mural",
        "outreach",
        "podium",
        "privy",
        "qualified",
        "ramp",
        "reclaim",
        "reputation",
        "riverside",
        "sage",
        "sanity",
        "segment",
        "sentry",
        "sketch",
        "spark",
        "splash",
        "square",
        "streak",
        "sumo",
        "surfer",
        "tally",
        "teams",
        "teamwork",
        "terminus",
        "transistor",
        "tray",
        "writer",
    ]
)
"""Catalog spellings that are everyday words or bare vendor names: they match a whole name, never
the leading word of a longer one ("Drip Irrigation Planner" is not Drip)."""


_LURE_WORDS = frozenset(
    {
        "free",
        "download",
        "crack",
        "cracked",
        "giveaway",
        "unlocked",
        "premium",
        "verify",
        "verification",
        "update",
        "security",
        "secure",
        "support",
        "helpdesk",
        "login",
        "signin",
        "wallet",
        "bonus",
        "gift",
        "prize",
        "claim",
        "reward",
    }
)
"""Words common in consent-phishing app names, rare in a product's own spelling."""

_NEUTRAL_DOMAINS = (
    # Identity providers and loopback: a URL there says nothing about who made the app, so it
    # neither matches a vendor's domain nor counts as a foreign one.
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "microsoftonline.com",
    "login.live.com",
    "accounts.google.com",
    "googleusercontent.com",
    "localhost",
    # Hosting on a vendor's domain that anyone can publish to: says nothing about the maker.
    "script.google.com",
    "sites.google.com",
    "firebaseapp.com",
    "web.app",
    "azurewebsites.net",
    "herokuapp.com",
    "vercel.app",
    "netlify.app",
    "github.io",
)

_NO_CONSENT_KINDS = frozenset({"expense", "usage", "saml", "sso"})
"""Apps nobody consented to through an OAuth screen: an admin set up the SSO app, or the company
paid the vendor. Consent phishing cannot produce them, so they are never lookalikes."""

_MERCHANT_PROCESSORS = frozenset(
    {"sq", "paypal", "pp", "tst", "sp", "py", "fs", "dri", "paddle", "paddle net", "2co", "in"}
)
"""Card-statement prefixes of payment processors ("SQ *CANVA", "PAYPAL *MAILCHIMP")."""
_MERCHANT_NOISE = frozenset(
    {
        "subscription",
        "subscr",
        "monthly",
        "annual",
        "yearly",
        "renewal",
        "recurring",
        "payment",
        "purchase",
        "billing",
        "bill",
        "invoice",
        "charge",
        "online",
        "www",
        "com",
        "net",
        "io",
        "us",
        "usd",
        "eur",
        "gbp",
    }
)
_PHONE = re.compile(r"\+?\d[\d\-\s().]{5,}\d")


# -- name normalisation ------------------------------------------------------------------------


def merchant_candidates(text: str) -> list[str]:
    """Normalised names to try for a card-statement merchant string, most specific first.

    ``"SQ *CANVA"`` -> ``["canva"]``; ``"HUBSPOT INC 888-482-7768"`` -> ``["hubspot"]``;
    ``"GOOGLE *ADS1234567"`` -> ``["google ads", "ads", "google"]``.
    """
    cleaned = _PHONE.sub(" ", text)
    # Reference numbers glued to the merchant ("ADS1234567") and store numbers ("#0042").
    cleaned = re.sub(r"\d{3,}", " ", cleaned)
    parts = [normalise_name(p) for p in re.split(r"[*#]", cleaned)]
    parts = [p for p in parts if p]
    if len(parts) > 1 and parts[0] in _MERCHANT_PROCESSORS:
        parts = parts[1:]
    words_of = [[w for w in p.split() if w not in _MERCHANT_NOISE] for p in parts]
    pieces = [" ".join(strip_suffixes(w)) for w in words_of if w]
    candidates: list[str] = []
    if pieces:
        candidates.append(" ".join(pieces))
        # "GOOGLE *YOUTUBE": the part after the star names the product, the first the vendor;
        # short parts after the star are usually reference codes.
        candidates.extend(p for p in pieces[1:] if len(p) >= 3)
        candidates.append(pieces[0])
        # No catalog name is longer than a few words; capping keeps a 100 KB merchant linear.
        first_words = pieces[0].split()[:8]
        for size in range(len(first_words) - 1, 0, -1):
            candidates.append(" ".join(first_words[:size]))
    return [c for c in dict.fromkeys(candidates) if c]


# -- domains ---------------------------------------------------------------------------------


def _under(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def app_hosts(raw: RawApp) -> list[str]:
    """Hosts a raw app states: homepage, reply URLs, domains (and a domain-shaped merchant)."""
    hosts: list[str] = []
    values = [raw.homepage or "", *raw.reply_urls, *raw.domains]
    if raw.kind in ("expense", "usage") and " " not in raw.name.strip():
        # A usage export or card line that is itself a domain ("VIMEO.COM", "app.clickup.com").
        values.append(raw.name)
    for value in values:
        host = host_of(value)
        if host and host not in hosts:
            hosts.append(host)
    return hosts


# -- resolver ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _NameMatch:
    entry: CatalogEntry
    evidence: Evidence
    fuzzy: bool


class Resolver:
    """Resolves raw apps against one catalog and the company's own tenant ids and domains."""

    def __init__(
        self,
        catalog: Catalog,
        own_domains: Sequence[str] = (),
        own_tenant_ids: Sequence[str] = (),
        first_party_by_name: Iterable[str] = (),
        first_party_ids: Iterable[str] = (),
    ) -> None:
        self.catalog = catalog
        self.first_party_by_name = frozenset(first_party_by_name)
        """Sources that name the provider's own clients instead of giving their client ids."""
        self.first_party_ids = frozenset(first_party_ids)
        """Sources whose apps carry the provider's global app id as a ``<source>:<id>`` tag."""
        self.own_domains = tuple(h for h in (host_of(d) for d in own_domains) if h is not None)
        self.own_tenant_ids = frozenset(t.strip().lower() for t in own_tenant_ids)
        self._name_cache: dict[str, _NameMatch | None] = {}
        self._merchant_cache: dict[str, _NameMatch | None] = {}

    def resolve(self, raw: RawApp) -> App:
        """The canonical app for ``raw``, with the evidence that decided it."""
        return (
            self._first_party(raw)
            or self._by_client_id(raw)
            or self._internal(raw)
            or self._by_publisher_or_domain(raw)
            or self._by_name(raw)
            or self._unmatched(raw)
        )

    # -- rules ---------------------------------------------------------------------------------

    def _first_party(self, raw: RawApp) -> App | None:
        ms_name = self.catalog.microsoft_app(raw.client_id)
        tenant = (raw.publisher_tenant or "").strip().lower()
        if ms_name is not None or tenant in MICROSOFT_TENANT_IDS:
            if ms_name is not None:
                evidence = Evidence("first_party", f"Microsoft first-party app ID {raw.client_id}")
            else:
                evidence = Evidence("first_party", f"registered in Microsoft tenant {tenant}")
            return App(
                key=f"ms:{raw.client_id.strip().lower()}",
                name=ms_name or raw.name,
                vendor="Microsoft",
                category="microsoft_first_party",
                domain="microsoft.com",
                first_party=True,
                evidence=(evidence,),
            )
        google = self.catalog.google_by_client_id(raw.client_id)
        if google is not None:
            return App(
                key=f"google:{slug(google.name)}",
                name=google.name,
                vendor="Google",
                category="google_first_party",
                domain="google.com",
                first_party=True,
                evidence=(Evidence("first_party", f"Google's own OAuth client {raw.client_id}"),),
            )
        return self._provider_first_party(raw)

    def _provider_first_party(self, raw: RawApp) -> App | None:
        """The source's provider's own app, by its global app id, else (no id) by its name."""
        app_id = self._provider_app_id(raw)
        found: ProviderApp | None = None
        if app_id is not None:
            # An app with an id is judged by the id alone: a custom app labelled "Okta
            # Dashboard" is not Okta's.
            found = self.catalog.first_party_app(raw.source, app_id)
            what = f"own app {app_id!r}"
        elif raw.source in self.first_party_by_name:
            found = self.catalog.first_party_named(raw.source, normalise_name(raw.name))
            what = f"own client named {raw.name!r}"
        if found is None:
            return None
        return App(
            key=found.key,
            name=found.name,
            vendor=found.vendor,
            category=found.category,
            domain=found.domain,
            first_party=True,
            evidence=(Evidence("first_party", f"{found.vendor}'s {what}"),),
        )

    def _provider_app_id(self, raw: RawApp) -> str | None:
        """The provider's global app id from the ``<source>:<id>`` tag, if the source gives one."""
        if raw.source not in self.first_party_ids:
            return None
        prefix = f"{raw.source}:"
        for tag in raw.tags:
            if tag.startswith(prefix) and tag[len(prefix) :].strip():
                return tag[len(prefix) :].strip()
        return None

    def _by_client_id(self, raw: RawApp) -> App | None:
        entry = self.catalog.by_client_id(raw.client_id)
        if entry is None:
            return None
        return self._catalog_app(entry, Evidence("client_id", raw.client_id))

    def _internal(self, raw: RawApp) -> App | None:
        tenant = (raw.publisher_tenant or "").strip().lower()
        evidence: Evidence | None = None
        if tenant and tenant in self.own_tenant_ids:
            evidence = Evidence("internal", f"registered in our tenant {tenant}")
        else:
            for host in app_hosts(raw):
                if _under(host, self.own_domains):
                    evidence = Evidence("internal", f"served from our domain {host}")
                    break
        if evidence is None:
            return None
        entry = self.catalog.find_normalised(normalise_name(raw.name))
        if entry is not None and self.catalog.is_internal(entry):
            return self._catalog_app(entry, evidence)
        return App(
            key=f"internal:{slug(raw.name) or slug(raw.client_id)}",
            name=raw.name,
            vendor=None,
            category="internal",
            domain=_first(app_hosts(raw)),
            internal=True,
            evidence=(evidence,),
        )

    def _by_publisher_or_domain(self, raw: RawApp) -> App | None:
        if raw.publisher_verified and raw.publisher:
            candidates = self.catalog.by_vendor(raw.publisher)
            entry = self._pick(candidates, raw)
            if entry is not None:
                return self._catalog_app(
                    entry, Evidence("publisher", f"verified publisher {raw.publisher}")
                )
        for host in app_hosts(raw):
            if _under(host, _NEUTRAL_DOMAINS):
                continue
            entry = self._pick(self.catalog.by_domain(host), raw)
            if entry is not None:
                return self._catalog_app(entry, Evidence("domain", host))
        return None

    def _pick(self, candidates: list[CatalogEntry], raw: RawApp) -> CatalogEntry | None:
        """One product among a vendor's or domain's products, told apart by the app's name."""
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            return None
        match = self._name_match(raw)
        if match is not None and match.entry in candidates:
            return match.entry
        return None

    def _by_name(self, raw: RawApp) -> App | None:
        match = self._name_match(raw)
        if match is None:
            return None
        if self.catalog.is_internal(match.entry):
            return self._catalog_app(match.entry, match.evidence)
        reasons = self._lookalike_reasons(raw, match)
        if reasons:
            return App(
                key=f"lookalike:{raw.source}:{raw.client_id}",
                name=raw.name,
                vendor=raw.publisher,
                category=None,
                domain=_first(self._foreign_hosts(raw, match.entry)),
                lookalike_of=match.entry.name,
                evidence=(match.evidence, *(Evidence("lookalike", r, 100.0) for r in reasons)),
            )
        return self._catalog_app(match.entry, match.evidence)

    def _unmatched(self, raw: RawApp) -> App:
        name = raw.name
        if raw.kind in ("expense", "usage"):
            candidates = merchant_candidates(raw.name)
            name = candidates[0] if candidates else raw.name
        key = slug(name) or f"{raw.source}-{slug(raw.client_id)}"
        return App(
            key=f"name:{key}",
            name=raw.name,
            vendor=raw.publisher,
            category=None,
            domain=_first(app_hosts(raw)),
            evidence=(Evidence("unmatched", normalise_name(name) or raw.client_id, 0.0),),
        )

    # -- shared steps --------------------------------------------------------------------------

    def _catalog_app(self, entry: CatalogEntry, evidence: Evidence) -> App:
        internal = self.catalog.is_internal(entry)
        return App(
            key=f"{'internal' if internal else 'cat'}:{slug(entry.name)}",
            name=entry.name,
            vendor=entry.vendor,
            category=entry.category,
            domain=_first(entry.domains),
            internal=internal,
            evidence=(evidence,),
        )

    def _name_match(self, raw: RawApp) -> _NameMatch | None:
        if raw.kind in ("expense", "usage"):
            return self._merchant_match(raw.name)
        return self._match_key(normalise_name(raw.name))

    def _merchant_match(self, text: str) -> _NameMatch | None:
        if text in self._merchant_cache:
            return self._merchant_cache[text]
        found: _NameMatch | None = None
        candidates = merchant_candidates(text)
        for key in candidates:
            entry = self.catalog.find_normalised(key)
            if entry is not None:
                found = _NameMatch(entry, Evidence("name", f"merchant {text!r} -> {key!r}"), False)
                break
        if found is None and candidates:
            fuzzy = self._match_key(candidates[0])
            if fuzzy is not None and fuzzy.fuzzy:
                found = fuzzy
        self._merchant_cache[text] = found
        return found

    def _match_key(self, key: str) -> _NameMatch | None:
        if key in self._name_cache:
            return self._name_cache[key]
        found = self._exact(key) or self._fuzzy(key)
        self._name_cache[key] = found
        return found

    def _exact(self, key: str) -> _NameMatch | None:
        if not key:
            return None
        entry = self.catalog.find_normalised(key)
        if entry is None:
            return None
        if key in self.catalog.config_aliases:
            return _NameMatch(
                entry, Evidence("config", f"alias {key!r} from [catalog.aliases]"), False
            )
        return _NameMatch(entry, Evidence("name", key), False)

    def _fuzzy(self, key: str) -> _NameMatch | None:
        if len(key) < PREFIX_MIN_CHARS:
            return None
        words = key.split()
        for size in range(len(words) - 1, 0, -1):
            prefix = " ".join(words[:size])
            if len(prefix) < PREFIX_MIN_CHARS:
                break
            if prefix in GENERIC_SPELLINGS:
                continue
            entry = self.catalog.find_normalised(prefix)
            if entry is not None and entry.fuzzy:
                score = round(100.0 * len(prefix) / len(key), 1)
                return _NameMatch(
                    entry, Evidence("fuzzy", f"{key!r} starts with {prefix!r}", score), True
                )
        best = self.catalog.fuzzy(key, FUZZY_THRESHOLD)
        if best is None:
            return None
        entry, choice, score = best
        return _NameMatch(entry, Evidence("fuzzy", f"{key!r} ~ {choice!r}", round(score, 1)), True)

    def _foreign_hosts(self, raw: RawApp, entry: CatalogEntry) -> list[str]:
        return [
            h
            for h in app_hosts(raw)
            if not _under(h, entry.domains)
            and not _under(h, _NEUTRAL_DOMAINS)
            and not _under(h, self.own_domains)
        ]

    def _lookalike_reasons(self, raw: RawApp, match: _NameMatch) -> list[str]:
        """Why a name match must not be merged with the catalog product; empty if it may be."""
        if raw.publisher_verified or raw.kind in _NO_CONSENT_KINDS:
            return []
        entry = match.entry
        hosts = app_hosts(raw)
        if any(_under(h, entry.domains) for h in hosts):
            return []
        reasons: list[str] = []
        foreign = self._foreign_hosts(raw, entry)
        if foreign and entry.domains:
            reasons.append(
                f"named like {entry.name} but its URLs point to {', '.join(foreign[:3])}, "
                f"not {', '.join(entry.domains[:3])}, and its publisher is unverified"
            )
        if has_confusables(raw.name):
            reasons.append(
                f"the name {raw.name!r} hides look-alike or invisible characters imitating "
                f"{entry.name}"
            )
        if match.fuzzy:
            lures = sorted(set(normalise_name(raw.name).split()) & _LURE_WORDS)
            own_words = set(normalise_name(entry.name).split())
            lures = [w for w in lures if w not in own_words]
            if lures:
                reasons.append(
                    f"the name adds {', '.join(repr(w) for w in lures)} to {entry.name}, "
                    f"typical of consent-phishing apps"
                )
        return reasons


def _first(values: Iterable[str]) -> str | None:
    return next(iter(values), None)
