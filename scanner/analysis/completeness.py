"""The completeness ledger: which streams each source could not read in a scan, and what follows.

A source that could not read a stream (it yielded ``Skipped``: a missing permission, no
licence, throttling that outlasted the retries) ended ``partial``; one that failed read
nothing reliable. The figures and findings that depend on such a stream are not computed
from what happens to be stored: a figure reads "unknown", never 0, and a finding whose
condition needs the stream is neither opened, refreshed nor resolved by the scan: it stays
as it was, marked "not re-checked".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.core.models import SourceStatus

ALL = "*"
"""Stands for every stream of a source that failed."""

SIGN_IN_STREAMS = frozenset(
    {"signins", "signin_activity", "login_events", "saml_events", "bigquery_events"}
)
"""Streams that carry sign-in events (Entra ``signins`` and per-app ``signin_activity``, Okta's
System Log ``signins``, Google's ``login_events`` and ``saml_events`` or its BigQuery export's
``bigquery_events``, file usage ``signins``):
users seen signing in, sign-in counts and last sign-in come from them."""

GRANT_STREAMS = frozenset({"grants"})
"""Streams that carry grants (OAuth consents, tokens, app assignments): users holding grants."""

NEEDS: Mapping[str, frozenset[str]] = {
    "dormant": SIGN_IN_STREAMS | GRANT_STREAMS,
    "over_scoped": GRANT_STREAMS,
    "risky_scopes": GRANT_STREAMS,
    "admin_consent": GRANT_STREAMS,
    "unverified_publisher": frozenset({"apps"}),
    "owner_unconfirmed": frozenset({"users"}),
    "unsanctioned": frozenset(),
    "banned": frozenset(),
    "lookalike": frozenset(),
    "stale_sanction": frozenset(),
    "new_app": frozenset(),
    # Reply URLs and names come from the listing; the toolkit and low-consent rules read the
    # grants, and "named after a person" the directory.
    "consent_phishing": frozenset({"apps", "grants", "users"}),
    # Who left comes from the directory; what they still hold, from the grants.
    "leaver_access": GRANT_STREAMS | {"users"},
    # Users from grants and sign-ins, whether they left from the directory.
    "orphaned_app": SIGN_IN_STREAMS | GRANT_STREAMS | {"users"},
    # SSO is known from the listing (SAML/OIDC apps) and SSO/SAML sign-ins.
    "no_sso": SIGN_IN_STREAMS | {"apps"},
    "unused_spend": SIGN_IN_STREAMS | {"spend"},
    "renewal_due": frozenset(),
    "overlap": SIGN_IN_STREAMS | GRANT_STREAMS,
    "has_alternative": SIGN_IN_STREAMS | GRANT_STREAMS,
}
"""The streams each finding kind's condition is evaluated from. A kind that needs none is
judged from the app's presence and the policy, which a present app always allows; a kind
not listed here is treated as needing every stream."""

_LABELS = {"sign-ins": SIGN_IN_STREAMS, "grants": GRANT_STREAMS}


@dataclass(frozen=True)
class Ledger:
    """Streams not collected, per record source, in one scan."""

    missing: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        statuses: Iterable[SourceStatus],
        record_sources: Mapping[str, Iterable[str]] | None = None,
    ) -> Ledger:
        """From the sources' end states; ``record_sources`` maps a connector to the source
        names its records carried (a file import may name its own)."""
        missing: dict[str, frozenset[str]] = {}
        for status in statuses:
            streams = not_collected(status)
            if not streams:
                continue
            names = {status.source, *((record_sources or {}).get(status.source, ()))}
            for name in names:
                missing[name] = missing.get(name, frozenset()) | streams
        return cls(missing)

    def streams_missing(self, sources: Iterable[str]) -> frozenset[str]:
        """Every stream not collected by any of ``sources`` (``ALL`` when one failed)."""
        out: frozenset[str] = frozenset()
        for source in sources:
            out |= self.missing.get(source, frozenset())
        return out

    def sign_ins_missing(self, sources: Iterable[str]) -> bool:
        """Whether a sign-in stream of one of ``sources`` was not collected."""
        return _touches(self.streams_missing(sources), SIGN_IN_STREAMS)

    def users_missing(self, sources: Iterable[str]) -> bool:
        """Whether users could come from a stream of ``sources`` that was not collected."""
        return _touches(self.streams_missing(sources), SIGN_IN_STREAMS | GRANT_STREAMS)

    def sign_in_gaps(self) -> frozenset[str]:
        """The sources whose sign-ins were not (all) collected."""
        return frozenset(
            s for s, streams in self.missing.items() if _touches(streams, SIGN_IN_STREAMS)
        )

    def not_rechecked(self, kind: str, sources: Sequence[str]) -> str | None:
        """Why a finding of ``kind`` on an app seen by ``sources`` could not be re-checked, or
        None when this scan could evaluate it."""
        missing = self.streams_missing(sources)
        if not missing:
            return None
        failed = sorted(s for s in sources if ALL in self.missing.get(s, frozenset()))
        if failed:
            return f"not re-checked: {', '.join(failed)} failed in this scan"
        lacking = NEEDS.get(kind, missing) & missing
        if not lacking:
            return None
        labels = [name for name, streams in _LABELS.items() if lacking & streams]
        labels += sorted(lacking - SIGN_IN_STREAMS - GRANT_STREAMS)
        return f"not re-checked: {' and '.join(labels)} not collected"


def not_collected(status: SourceStatus) -> frozenset[str]:
    """The streams a source could not read: each ``Skipped`` one (kept as "stream: reason"),
    or ``ALL`` when the source failed."""
    if status.status == "failed":
        return frozenset({ALL})
    return frozenset(text.split(":", 1)[0].strip() for text in status.skipped)


def _touches(missing: frozenset[str], streams: frozenset[str]) -> bool:
    return ALL in missing or bool(missing & streams)
