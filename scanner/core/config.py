"""The validated configuration every layer reads: one frozen dataclass per config section.

``scanner.app.config`` builds these from ``config.toml`` (naming the key path and the file on
every error); analysis, store and reports only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from scanner.core import paths
from scanner.core.settings import InputFile, OutputPath, Range


@dataclass(frozen=True)
class StoreSettings:
    path: OutputPath = "shadowit.db"
    """The SQLite inventory; relative to the config file. Its folder must be writable: the
    inventory keeps its lock, -wal and -shm files beside it."""
    signin_retention_days: Annotated[int, Range(0, 36500)] = 90
    """How long each sign-in's de-duplication key is kept (an event older than this that a
    source sends again is not counted again) and how long an app seen only in events stays
    in the inventory after its latest event. Daily counts are kept for good."""
    raw_signin_days: Annotated[int, Range(0, 36500)] = 0
    """Keep each raw sign-in event (who, app, time, success) this many days for investigation;
    0 keeps none: the daily counts per app, person and day are what every figure comes from."""


@dataclass(frozen=True)
class OrganisationSettings:
    name: str = "Our company"
    marketing_departments: tuple[str, ...] = ("Marketing",)
    """Departments (IdP ``department``) whose people count as marketing users."""
    marketing_groups: tuple[str, ...] = ()
    """Groups or org units (e.g. Google ``/Marketing``) whose members count as marketing."""
    marketing_share: Annotated[float, Range(0, 1)] = 0.5
    """An app counts as marketing when more than this share of its users are marketing users."""
    own_domains: tuple[str, ...] = ()
    """The company's domains: apps served from them are internal."""
    own_tenant_ids: tuple[str, ...] = ()
    """Entra tenant ids of the company: apps registered there are internal."""


@dataclass(frozen=True)
class PolicySettings:
    dormant_days: Annotated[int, Range(1, 36500)] = 90
    """A grant with no sign-in for this many days is dormant."""
    new_app_days: Annotated[int, Range(0, 36500)] = 7
    """An app stays "new" (a new_app finding) for this many days after it was first seen."""
    review_period_days: Annotated[int, Range(1, 36500)] = 180
    """An owner's confirmation older than this is asked again."""
    severity: dict[str, str] = field(default_factory=dict)
    """Overrides of the severity table, e.g. ``unsanctioned_marketing = "high"``."""
    risk_weights: dict[str, int] = field(default_factory=dict)
    """Overrides of the risk score's weights (``scanner.analysis.risk.WEIGHTS``), e.g.
    ``no_mfa = 12`` or ``sso_paid = 0``."""
    consent_weights: dict[str, int] = field(default_factory=dict)
    """Weights of the consent-phishing rules (``scanner/data/consent_rules.toml``), e.g.
    ``name_test = 0`` to turn one off."""
    renewal_window_days: int = 45
    """A renewal_due finding opens this many days before a contract's notice deadline."""
    overlap_min_tools: int = 3
    """An overlap finding (info) opens when this many tools of one category are in use."""


@dataclass(frozen=True)
class CatalogSettings:
    file: InputFile | None = None
    """A CSV or TOML file of extra or overriding catalog entries (the shipped columns)."""
    scopes_file: InputFile | None = None
    """A CSV of extra or overriding scope sensitivities (scope, level, meaning)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Extra spellings: ``"Hubspot CRM Sync" = "HubSpot"``."""
    categories: dict[str, str] = field(default_factory=dict)
    """Category overrides: ``"Notion" = "collaboration"``."""


@dataclass(frozen=True)
class ReportSettings:
    out: OutputPath = "reports"
    """The report folder (created when missing); relative to the config file."""
    formats: tuple[str, ...] = ("html", "json", "csv", "xlsx")
    redact_users: bool = False
    csv_bom: bool = True
    """Start each CSV file with a UTF-8 byte order mark, so Excel on Windows reads non-ASCII
    names right; false for tools that do not expect one."""
    currency: str | None = None
    """With ``rates_file``: the currency each app's spend is also given in."""
    rates_file: str | None = None
    """A CSV ``currency,rate`` (units of ``currency`` per unit); without it, no conversion."""
    users_listed: Annotated[int, Range(1, 100_000)] = 200
    """At most this many names in each app's user list of the report (the rest are counted in
    ``users_more``); the counts stay exact and the workbook's users-by-app sheet counts all."""


@dataclass(frozen=True)
class NotifySettings:
    urls_env: str | None = None
    """Environment variable holding apprise URLs (space separated), e.g. a Slack webhook."""
    digest: bool = False
    """Send one daily digest instead of a message after every scan."""
    min_severity: str = "medium"


@dataclass(frozen=True)
class ConfirmSettings:
    """The ``[confirm]`` table."""

    secret_env: str | None = None
    """Environment variable holding the key that signs the links (32+ characters)."""
    secret_file: InputFile | None = None
    """Or a file holding it."""
    link_base_url: str = "http://127.0.0.1:8765"
    """Where ``shadowit serve`` is reachable for the people asked (the reverse proxy's URL)."""
    expiry_days: Annotated[int, Range(1)] = 14
    """A link stops working this many days after it was sent."""
    reminder_days: Annotated[int, Range(1)] = 3
    """Remind after this many days without an answer."""
    max_reminders: Annotated[int, Range(0)] = 2
    """Remind at most this many times; then the link expires and the fallback is asked."""
    fallback_owner: str | None = None
    """Asked when no likely owner is known (e.g. the marketing-ops lead)."""
    from_addr: str = "shadowit@localhost"
    smtp_host: str | None = None
    """Send by SMTP through this host; without it, ``confirm send`` writes message files."""
    smtp_port: Annotated[int, Range(1, 65535)] | None = None
    """Default 587 with STARTTLS, 465 with implicit TLS, 25 without TLS."""
    smtp_username: str | None = None
    smtp_password_env: str | None = None
    smtp_password_file: InputFile | None = None
    smtp_starttls: bool = True
    """Upgrade the connection with STARTTLS (RFC 3207) before logging in."""
    smtp_ssl: bool = False
    """Implicit TLS from the first byte (RFC 8314, port 465) instead of STARTTLS."""
    smtp_ca_file: InputFile | None = None
    """A CA bundle for the SMTP server's certificate (a private CA); default: system CAs."""
    smtp_timeout: Annotated[float, Range(0, 3600, above=True)] = 30.0
    """Seconds to wait for the SMTP server to connect and to answer each command."""
    out: OutputPath = "confirm-requests"
    """Folder for the message files and the mail-merge CSV when no SMTP host is set."""
    host: str = "127.0.0.1"
    """Address ``shadowit serve`` binds by default."""
    port: Annotated[int, Range(1, 65535)] = 8765
    threads: Annotated[int, Range(1)] = 4
    """Requests ``shadowit serve`` answers at once (waitress ``threads``)."""
    idle_timeout: Annotated[int, Range(1)] = 30
    """Seconds after which ``shadowit serve`` closes a connection that sends nothing."""
    max_request_line: Annotated[int, Range(1)] = 8192
    """Bytes of request line ``shadowit serve`` reads; a longer one gets 414."""
    max_header_bytes: Annotated[int, Range(1)] = 32768
    """Bytes of request line and headers together; more gets 431."""


@dataclass(frozen=True)
class Config:
    file: Path | None
    store: StoreSettings = field(default_factory=StoreSettings)
    organisation: OrganisationSettings = field(default_factory=OrganisationSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    sources: dict[str, Any] = field(default_factory=dict)
    """Source name -> that connector's validated settings."""
    sanctioned: dict[str, Any] = field(default_factory=dict)
    """The raw ``[sanctioned]`` table; ``scanner.analysis.sanctions`` validates it."""
    confirm: ConfirmSettings = field(default_factory=ConfirmSettings)
    """Ownership confirmation: links, mail and ``shadowit serve``."""
    tables: frozenset[str] = frozenset()
    """The top-level tables the config file has (``"confirm" in tables``: confirmation is
    set up, so ``doctor`` and the scan check its signing key)."""

    def path(self, value: str) -> Path:
        """Resolve a path setting relative to the config file's folder."""
        return paths.resolve(value, self.file)

    @property
    def store_path(self) -> Path:
        return self.path(self.store.path)
