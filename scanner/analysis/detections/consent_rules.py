"""The consent-phishing rule table: ``scanner/data/consent_rules.toml``, with weights from the
config (``[policy.consent_weights]``). Each rule names its source; the checks themselves are in
``scanner.analysis.detections.consent``."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner.core.errors import ConfigError

RULES_FILE = Path(__file__).parents[2] / "data" / "consent_rules.toml"


@dataclass(frozen=True)
class ConsentRule:
    id: str
    weight: int
    reason: str
    source: str
    values: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    days: int = 0


@dataclass(frozen=True)
class ConsentRules:
    rules: tuple[ConsentRule, ...] = ()
    threshold: int = 4
    """Weights that add up to this open a finding."""
    strong: int = 8
    """From this sum on, the finding is of the stronger severity row."""

    @classmethod
    def shipped(cls) -> ConsentRules:
        return load(RULES_FILE)

    def get(self, rule_id: str) -> ConsentRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def weighted(self, weights: Mapping[str, int]) -> ConsentRules:
        """The same rules with the config's weights; an unknown rule id is a config error."""
        known = {r.id for r in self.rules}
        for key, value in weights.items():
            if key not in known:
                names = ", ".join(sorted(known))
                raise ConfigError(f"policy.consent_weights.{key}: unknown rule (known: {names})")
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"policy.consent_weights.{key}: expected a whole number >= 0")
        rules = tuple(replace(r, weight=weights.get(r.id, r.weight)) for r in self.rules)
        return replace(self, rules=rules)


def load(path: Path) -> ConsentRules:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the consent-phishing rules: {err}") from None
    rules = tuple(_rule(row, path, n) for n, row in enumerate(data.get("rules", [])))
    return ConsentRules(rules, int(data.get("threshold", 4)), int(data.get("strong", 8)))


def _rule(row: Any, path: Path, index: int) -> ConsentRule:
    try:
        return ConsentRule(
            id=str(row["id"]),
            weight=int(row["weight"]),
            reason=str(row["reason"]),
            source=str(row["source"]),
            values=tuple(str(v).casefold() for v in row.get("values", ())),
            minimum=int(row.get("minimum", 0)),
            maximum=int(row.get("maximum", 0)),
            days=int(row.get("days", 0)),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: rules[{index}] lacks or mistypes {err}") from None
