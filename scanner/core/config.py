"""The validated configuration every layer reads: one frozen dataclass per config section.

``scanner.app.config`` builds these from ``config.toml`` (naming the key path and the file on
every error); analysis, store and reports only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StoreSettings:
    path: str = "shadowit.db"
    """The SQLite inventory; relative to the config file."""
    signin_retention_days: int = 90
    """Raw sign-in events older than this are pruned after aggregation (daily counts stay)."""


@dataclass(frozen=True)
class OrganisationSettings:
    name: str = "Our company"
    marketing_departments: tuple[str, ...] = ("Marketing",)
    """Departments (IdP ``department``) whose people count as marketing users."""
    marketing_groups: tuple[str, ...] = ()
    """Groups or org units (e.g. Google ``/Marketing``) whose members count as marketing."""
    marketing_share: float = 0.5
    """An app counts as marketing when more than this share of its users are marketing users."""
    own_domains: tuple[str, ...] = ()
    """The company's domains: apps served from them are internal."""
    own_tenant_ids: tuple[str, ...] = ()
    """Entra tenant ids of the company: apps registered there are internal."""


@dataclass(frozen=True)
class PolicySettings:
    dormant_days: int = 90
    """A grant with no sign-in for this many days is dormant."""
    new_app_days: int = 7
    """An app stays "new" (a new_app finding) for this many days after it was first seen."""
    review_period_days: int = 180
    """An owner's confirmation older than this is asked again."""
    severity: dict[str, str] = field(default_factory=dict)
    """Overrides of the severity table, e.g. ``unsanctioned_marketing = "high"``."""
    consent_weights: dict[str, int] = field(default_factory=dict)
    """Weights of the consent-phishing rules (``scanner/data/consent_rules.toml``), e.g.
    ``name_test = 0`` to turn one off."""
    renewal_window_days: int = 45
    """A renewal_due finding opens this many days before a contract's notice deadline."""
    overlap_min_tools: int = 3
    """An overlap finding (info) opens when this many tools of one category are in use."""


@dataclass(frozen=True)
class CatalogSettings:
    file: str | None = None
    """A CSV or TOML file of extra or overriding catalog entries (the shipped columns)."""
    scopes_file: str | None = None
    """A CSV of extra or overriding scope sensitivities (scope, level, meaning)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Extra spellings: ``"Hubspot CRM Sync" = "HubSpot"``."""
    categories: dict[str, str] = field(default_factory=dict)
    """Category overrides: ``"Notion" = "collaboration"``."""


@dataclass(frozen=True)
class ReportSettings:
    out: str = "reports"
    formats: tuple[str, ...] = ("html", "json", "csv", "xlsx")
    redact_users: bool = False
    currency: str | None = None
    """With ``rates_file``: the currency each app's spend is also given in."""
    rates_file: str | None = None
    """A CSV ``currency,rate`` (units of ``currency`` per unit); without it, no conversion."""


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
    secret_file: str | None = None
    """Or a file holding it."""
    link_base_url: str = "http://127.0.0.1:8765"
    """Where ``shadowit serve`` is reachable for the people asked (the reverse proxy's URL)."""
    expiry_days: int = 14
    """A link stops working this many days after it was sent."""
    reminder_days: int = 3
    """Remind after this many days without an answer."""
    max_reminders: int = 2
    """Remind at most this many times; then the link expires and the fallback is asked."""
    fallback_owner: str | None = None
    """Asked when no likely owner is known (e.g. the marketing-ops lead)."""
    from_addr: str = "shadowit@localhost"
    smtp_host: str | None = None
    """Send by SMTP through this host; without it, ``confirm send`` writes message files."""
    smtp_port: int | None = None
    """Default 587 with STARTTLS, 465 with implicit TLS, 25 without TLS."""
    smtp_username: str | None = None
    smtp_password_env: str | None = None
    smtp_password_file: str | None = None
    smtp_starttls: bool = True
    """Upgrade the connection with STARTTLS (RFC 3207) before logging in."""
    smtp_ssl: bool = False
    """Implicit TLS from the first byte (RFC 8314, port 465) instead of STARTTLS."""
    smtp_ca_file: str | None = None
    """A CA bundle for the SMTP server's certificate (a private CA); default: system CAs."""
    smtp_timeout: float = 30.0
    out: str = "confirm-requests"
    """Folder for the message files and the mail-merge CSV when no SMTP host is set."""
    host: str = "127.0.0.1"
    """Address ``shadowit serve`` binds by default."""
    port: int = 8765
    threads: int = 4
    """Requests ``shadowit serve`` answers at once (waitress ``threads``)."""
    idle_timeout: int = 30
    """Seconds after which ``shadowit serve`` closes a connection that sends nothing."""
    max_request_line: int = 8192
    """Bytes of request line ``shadowit serve`` reads; a longer one gets 414."""
    max_header_bytes: int = 32768
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

    def path(self, value: str) -> Path:
        """Resolve a path setting relative to the config file's folder."""
        p = Path(value).expanduser()
        if not p.is_absolute() and self.file is not None:
            p = self.file.parent / p
        return p

    @property
    def store_path(self) -> Path:
        return self.path(self.store.path)
