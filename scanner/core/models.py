"""Frozen records that flow through the pipeline.

Connectors yield the *source records* (``User``, ``RawApp``, ``Grant``, ``SignIn``,
``SignInDay``, ``Spend``, ``Removed``, ``Checkpoint``, ``Skipped``, ``SourceWarning``); raw
provider dicts never leave a connector. The core turns raw apps into canonical ``App`` records,
holds them against ``SanctionEntry`` policy and raises ``Finding`` records. ``ScanRun`` and
``SourceStatus`` describe a scan.

Conventions: optional values are ``None``, never ``""``; times are timezone-aware UTC
``datetime``; tuples, not lists, so records stay hashable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from scanner.core import words

SignInKind = Literal["sign_in", "sso", "saml", "usage", "activity"]
"""What a ``SignIn`` is evidence of (see ``SignIn.kind``)."""

ConsentType = Literal["user", "admin", "application"]
"""``user``: one user consented (Entra ``Principal``, a Google token); ``admin``: an admin consented
for everyone (Entra ``AllPrincipals``); ``application``: app-only permission (Entra app role)."""

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")

FROM_EVENTS = "from_events"
"""``RawApp.tags`` value: the connector made this app from sign-in events, not from a listing
(Google's SAML apps are known only from the SAML audit log), so it is not listing evidence."""

SSO_OIDC = "sso:oidc"
"""``RawApp.tags`` value: the identity provider fronts the app with OpenID Connect sign-in (an
Entra service principal with ``preferredSingleSignOnMode`` ``oidc``, an Okta
``OPENID_CONNECT`` app), which its ``kind`` (``oauth``) alone does not tell apart from a plain
OAuth consent."""

Capability = Literal["publisher_verification", "first_party_by_name", "first_party_ids"]
"""What a connector can tell the analysis about the apps it reports (``ConnectorSpec``):
``publisher_verification``: whether each app's publisher is verified (Entra's
``verifiedPublisher``); ``first_party_by_name``: the provider's own clients are named, not
identified by client id (Google's token list, Okta's System Log), so an app without a provider
app id is recognised by name in the provider's shipped first-party list; ``first_party_ids``:
each app carries the provider's global app id as the tag ``<source>:<id>`` (Okta's app ``name``:
``okta:saasure``), which the provider's shipped first-party list (keyed by source) recognises."""

FINDING_KINDS: tuple[str, ...] = (
    "unsanctioned",
    "over_scoped",
    "risky_scopes",
    "admin_consent",
    "dormant",
    "stale_sanction",
    "lookalike",
    "unverified_publisher",
    "new_app",
    "owner_unconfirmed",
    "banned",
    "consent_phishing",
    "leaver_access",
    "orphaned_app",
    "no_sso",
    "unused_spend",
    "renewal_due",
    "overlap",
    "has_alternative",
)


def finding_label(kind: str) -> str:
    """A finding kind in words (``scanner.core.words``)."""
    return words.label("finding_kind", kind)


STREAMS: tuple[str, ...] = ("users", "apps", "grants", "signins", "spend")
"""Streams whose full listing can be declared complete by a ``Checkpoint(complete=True)``."""


@dataclass(frozen=True, slots=True)
class User:
    """A person (or guest) in a source directory."""

    source: str
    id: str
    email: str | None
    display_name: str | None = None
    department: str | None = None
    job_title: str | None = None
    groups: tuple[str, ...] = ()
    """Org units / groups, e.g. Google ``orgUnitPath``; matched against marketing group names."""
    enabled: bool = True
    is_guest: bool = False
    is_admin: bool = False
    aliases: tuple[str, ...] = ()
    """Every other address this source knows the person by (UPN, other mails, proxy addresses,
    aliases, a login, a guest's home address): events and grants that name any of them name
    this person."""


@dataclass(frozen=True, slots=True)
class RawApp:
    """An application as one source sees it, before resolution to a canonical app."""

    source: str
    client_id: str
    """The source's stable app key: Entra appId, Google OAuth client ID, Okta app id, or for
    file imports the vendor/merchant text."""
    name: str
    kind: str = "oauth"
    """``oauth``, ``saml``, ``sso``, ``native``, ``expense`` or ``usage``."""
    publisher: str | None = None
    publisher_verified: bool = False
    publisher_tenant: str | None = None
    """Entra ``appOwnerOrganizationId``: tells first-party and the tenant's own apps apart."""
    homepage: str | None = None
    reply_urls: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    """Domains the source states for the app (file imports, Okta links)."""
    enabled: bool = True
    created: datetime | None = None
    """When the app first appeared in the source, when the source says so."""
    object_id: str | None = None
    """The source-internal object id (Entra service principal id), if different from client_id."""
    tags: tuple[str, ...] = ()
    """Labels the source gives the app; a source with the ``first_party_ids`` capability puts the
    provider's global app id here as ``<source>:<id>`` (``okta:saasure``). ``FROM_EVENTS``
    marks an app the connector only knows from sign-in events (no listing names it)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Access an app holds: delegated scopes for one user, for everyone, or app-only."""

    source: str
    client_id: str
    user_id: str | None
    """Source user id (``User.id``), or None when the grant covers all users or is app-only."""
    scopes: tuple[str, ...]
    consent_type: ConsentType = "user"
    resource: str | None = None
    """The API the scopes are for, e.g. ``Microsoft Graph`` or ``Google``."""
    granted_at: datetime | None = None
    user_email: str | None = None


@dataclass(frozen=True, slots=True)
class SignIn:
    """One sign-in or usage event of a user into an app."""

    source: str
    event_id: str
    client_id: str
    at: datetime
    user_id: str | None = None
    user_email: str | None = None
    app_name: str | None = None
    success: bool = True
    interactive: bool = True
    kind: SignInKind = "sign_in"
    """What the event is evidence of: ``sign_in`` (an IdP sign-in log), ``sso`` (an SSO into an
    app the IdP fronts, Okta ``user.authentication.sso``), ``saml`` (a SAML sign-in the IdP
    saw, Google's SAML audit), ``usage`` (a usage-export row) or ``activity`` (the app's last
    use as a per-app report states it, Entra ``servicePrincipalSignInActivities``: it moves
    the app's last use but is no sign-in by anyone and is never counted as one)."""


@dataclass(frozen=True, slots=True)
class SignInDay:
    """The sign-ins of one person into one app on one UTC day, counted where the logs live
    (a Log Analytics ``summarize``, a BigQuery ``GROUP BY``) instead of event by event.

    The connector states the day's whole count as the engine computed it; the store replaces
    what it held for (source, app, person, day, kind) with it, so re-reading a late day counts
    nothing twice."""

    source: str
    client_id: str
    day: date
    successes: int
    failures: int = 0
    user_id: str | None = None
    user_email: str | None = None
    app_name: str | None = None
    first_at: datetime | None = None
    """The day's first sign-in, failed or not."""
    last_at: datetime | None = None
    """The day's last successful sign-in (None when every one failed)."""
    kind: SignInKind = "sign_in"


@dataclass(frozen=True, slots=True)
class Spend:
    """An expense line paid to a SaaS vendor."""

    source: str
    line_id: str
    client_id: str
    """Same key as the RawApp the line belongs to (the vendor text)."""
    amount: float
    currency: str
    on: date
    user_email: str | None = None


@dataclass(frozen=True, slots=True)
class Removed:
    """The source says an app, grant or user no longer exists (delta query, revoke event)."""

    source: str
    kind: Literal["app", "grant", "user"]
    client_id: str | None = None
    user_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Progress marker. The store commits it in the same transaction as the page before it.

    ``cursor`` is what the connector gets back as ``since[stream]`` next scan (a timestamp, a
    delta link). ``complete=True`` on one of ``STREAMS`` means this scan listed that stream in
    full, so anything of it not seen in this scan is gone.
    """

    source: str
    stream: str
    cursor: str | None = None
    complete: bool = False
    late_minutes: int = 0
    """Events of this stream reach the log up to this many minutes after their time (Google's
    audit lag), and the connector re-reads that stretch: the store then counts the stream's
    events by id, not by its watermark, so a late event inside a counted range still counts."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A stream the connector could not read; the source ends ``partial``."""

    source: str
    stream: str
    reason: str
    permission: str | None = None


@dataclass(frozen=True, slots=True)
class SourceWarning:
    """Something worth telling that does not make the source partial (a user deleted mid-scan)."""

    source: str
    stream: str
    message: str


SourceRecord = (
    User
    | RawApp
    | Grant
    | SignIn
    | SignInDay
    | Spend
    | Removed
    | Checkpoint
    | Skipped
    | SourceWarning
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a raw app was resolved to a canonical app."""

    rule: str
    """``client_id``, ``publisher``, ``domain``, ``name``, ``fuzzy``, ``first_party``, ``internal``,
    ``config``, ``lookalike`` or ``unmatched``."""
    value: str
    score: float = 100.0


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One SaaS product of the shipped (or configured) catalog."""

    name: str
    vendor: str
    category: str
    domains: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    client_ids: tuple[str, ...] = ()
    source: str = "shipped"
    """Where the entry (name, category, domains) comes from."""
    fuzzy: bool = True
    """Whether near spellings match it (``match`` = ``fuzzy``); imported entries match only by
    domain, client ID or exact name (``match`` = ``exact``)."""
    mfa: tuple[str, ...] = ()
    """Second-factor methods the vendor offers (``totp``, ``sms``, ``u2f``...); ``("none",)`` when
    a source says it offers none; empty when unknown."""
    mfa_docs: str | None = None
    mfa_source: str | None = None
    sso: str = "unknown"
    """``yes``, ``paid`` (only on a pricier plan: the "SSO tax"), ``no`` or ``unknown``."""
    sso_note: str | None = None
    sso_source: str | None = None


@dataclass(frozen=True, slots=True)
class App:
    """A canonical app: one product, however many sources and spellings."""

    key: str
    name: str
    vendor: str | None
    category: str | None
    domain: str | None
    first_party: bool = False
    internal: bool = False
    lookalike_of: str | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class SanctionEntry:
    """One line of the technology-selection policy."""

    app: str
    status: Literal["sanctioned", "tolerated", "banned"]
    owner: str | None = None
    team: str | None = None
    purpose: str | None = None
    approved_scopes: tuple[str, ...] = ()
    data_classification: str | None = None
    approved_on: date | None = None
    review_by: date | None = None
    notes: str | None = None
    origin: str | None = None
    """Where the entry came from, e.g. ``sanctioned.toml:12``."""
    renewal_date: date | None = None
    """When the contract renews (or ends)."""
    notice_days: int | None = None
    """Days before ``renewal_date`` by which notice must be given to cancel or change it."""
    annual_cost: float | None = None
    """What the contract costs a year, in ``cost_currency`` (stated, not computed)."""
    cost_currency: str | None = None
    alternative_of: tuple[str, ...] = ()
    """The catalog categories (``social_media``) or app names this sanctioned app is the
    approved alternative to: someone using one of those is pointed to this app."""


@dataclass(frozen=True, slots=True)
class Finding:
    """An explainable problem with one app. Identity across scans is ``(app_key, kind)``."""

    app_key: str
    app_name: str
    kind: str
    severity: Severity
    reasons: tuple[str, ...]
    remediation: str
    evidence: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.app_key}:{self.kind}"


SourceState = Literal["running", "ok", "partial", "failed"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one source fared in one scan."""

    source: str
    status: SourceState
    records: int = 0
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    warning_count: int = 0


@dataclass(frozen=True, slots=True)
class ScanRun:
    """One scan: ``running`` until every source ended, then ``finished`` (or ``failed``)."""

    id: int
    started: datetime
    finished: datetime | None
    status: Literal["running", "finished", "failed"]
    sources: tuple[SourceStatus, ...] = ()


ACCESS: tuple[str, ...] = (
    "oauth",
    "sso",
    "sso_only",
    "listed_only",
    "spend_only",
    "usage_only",
    "files_only",
)
"""``InventoryApp.access``: ``oauth`` holds grants or tokens; ``sso`` is signed in to through an
IdP that lists it (no grant); ``sso_only`` is seen only in sign-in/SSO logs (no listing, no
grant: an app deleted from the IdP since, a SAML app the IdP does not list); ``listed_only`` is
listed (or has people assigned) but is never granted nor signed in to; ``spend_only`` and
``usage_only`` appear only in expense or usage files, ``files_only`` in both and in no IdP."""


@dataclass(frozen=True, slots=True)
class InventoryApp:
    """A canonical app with everything the scan knows of it: the unit of reports and findings."""

    app: App
    sources: tuple[str, ...]
    client_ids: tuple[str, ...]
    raw_names: tuple[str, ...]
    users: tuple[str, ...]
    """People with a grant or use, each once across sources and spellings (their smallest
    primary address in lower case, or ``source:id`` when no address is known)."""
    departments: tuple[tuple[str, int], ...]
    """(department, number of users), most first; ``(unknown)`` for users without one."""
    marketing_users: int
    scopes: tuple[str, ...]
    admin_consent: bool
    app_only: bool
    publisher: str | None
    publisher_verified: bool
    first_seen: datetime
    last_seen: datetime
    last_sign_in: datetime | None
    sign_ins_30d: int
    spend: float
    spend_currency: str | None
    is_marketing: bool
    marketing_reason: str
    risk_score: int
    risk_level: str
    risk_reasons: tuple[str, ...]
    first_user: str | None = None
    """Who consented first (earliest grant), a likely owner."""
    top_user: str | None = None
    """Who uses it most (sign-ins), a likely owner."""
    kinds: tuple[str, ...] = ()
    """How the app was seen: oauth, saml, expense, usage..."""
    scope_grants: tuple[tuple[str, str, int], ...] = ()
    """(scope, consent type, number of grants) for the report's grant table."""
    evidence: tuple[tuple[str, str, int], ...] = ()
    """(source, kind, count): every record that names the app, by source and kind, e.g.
    ``("okta", "sso", 14)``. Kinds: ``listing`` (a current app listing), ``grant`` (a grant or
    token with scopes), ``assignment`` (a person assigned to the app, no scopes: Okta),
    ``expense`` (expense lines) and the ``SignIn.kind`` of its events (``sign_in``,
    ``sso``, ``saml``, ``usage``, ``activity``), counting failed events too."""
    access: str = "listed_only"
    """How the app reaches the organisation, derived from its evidence (``ACCESS``)."""
    failed_sign_ins: int = 0
    """Failed sign-in events into the app; they count towards no user, usage or last use."""
    people_disabled: int = 0
    """How many of ``users`` no longer have an account in use (disabled, suspended or deleted
    in every directory that lists them)."""
    disabled_users: tuple[str, ...] = ()
    """Those of ``users``, kept and marked rather than dropped."""
    vendor_facts: tuple[tuple[str, str, str], ...] = ()
    """(fact, what, source) the catalog holds on the vendor: ``mfa`` / ``no_mfa`` (methods
    offered), ``sso`` / ``sso_paid`` (SSO only on a pricier plan), ``ai`` (a generative-AI tool)."""
    disabled_holders: tuple[str, ...] = ()
    """Those of ``disabled_users`` who still hold a current grant, token or assignment."""
    reply_urls: tuple[str, ...] = ()
    """Reply (redirect) URLs the sources list for the app (Entra ``replyUrls``, Okta links)."""
    publisher_tenants: tuple[str, ...] = ()
    """Tenants that registered the app (Entra ``appOwnerOrganizationId``)."""
    created: datetime | None = None
    """When a source says the app was first registered or added."""
    sso: tuple[str, ...] = ()
    """How people sign in to it through an identity provider, as ``source:mode``
    (``okta:saml``, ``entra:oidc``, ``google:saml``); empty when no IdP fronts it."""
    spend_by_currency: tuple[tuple[str, float], ...] = ()
    """(currency, total) of its expense lines, one row per currency (never converted)."""

    @property
    def key(self) -> str:
        return self.app.key

    @property
    def name(self) -> str:
        return self.app.name
