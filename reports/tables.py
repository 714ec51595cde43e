"""``findings.csv``, ``apps.csv`` and ``inventory.xlsx`` (sheets apps, findings, grants,
users-by-app), through pandas and openpyxl.

Spreadsheet-formula injection is neutralised: any text cell starting with ``= + - @``, a tab or
a carriage return gets a leading apostrophe, so Excel, LibreOffice and Sheets show it as text
(OWASP "CSV Injection"). NUL and other control characters are removed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from reports.base import write_private

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_CELL = 32_000
"""Excel's cell limit is 32,767 characters."""


def inert(value: Any) -> Any:
    """A cell value that no spreadsheet will evaluate."""
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("", value)[:MAX_CELL]
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def app_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "app": a["name"],
            "vendor": a["vendor"],
            "category": a["category"],
            "marketing": a["is_marketing"],
            "marketing_reason": a["marketing_reason"],
            "sanction_status": a["sanction_status"],
            "owner": a["owner"],
            "users": a["users"],
            "risk_score": a["risk_score"],
            "risk_level": a["risk_level"],
            "risk_reasons": a["risk_reasons"],
            "scopes": [s["scope"] for s in a["scopes"]],
            "sources": a["sources"],
            "client_ids": a["client_ids"],
            "matched_by": [f"{m['rule']}: {m['value']}" for m in a["matched_by"]],
            "first_seen": a["first_seen"],
            "last_sign_in": a["last_sign_in"],
            "open_findings": len([f for f in a["findings"] if f["status"] != "resolved"]),
        }
        for a in model["apps"]
    ]


def finding_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": f["id"],
            "app": f["app"],
            "kind": f["kind"],
            "severity": f["severity"],
            "status": f["status"],
            "reasons": f["reasons"],
            "remediation": f["remediation"],
            "opened": f["opened"],
            "decided_by": f["decided_by"],
            "decision_reason": f["decision_reason"],
            "decided_until": f["decided_until"],
        }
        for f in model["findings"]
    ]


def grant_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "app": a["name"],
            "scope": s["scope"],
            "level": s["level"],
            "meaning": s["meaning"],
            "consent": s.get("consent", []),
            "grants": s.get("grants", 0),
        }
        for a in model["apps"]
        for s in a["scopes"]
    ]


def user_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"app": a["name"], "department": d["department"], "users": d["users"]}
        for a in model["apps"]
        for d in a["departments"]
    ]


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows).map(inert) if rows else pd.DataFrame()


class CsvReport:
    name = "csv"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        written = []
        for filename, rows in (
            ("findings.csv", finding_rows(model)),
            ("apps.csv", app_rows(model)),
        ):
            buffer = io.StringIO()
            frame(rows).to_csv(buffer, index=False)
            written.append(write_private(out_dir / filename, buffer.getvalue().encode("utf-8")))
        return written


class XlsxReport:
    name = "xlsx"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            for sheet, rows in (
                ("apps", app_rows(model)),
                ("findings", finding_rows(model)),
                ("grants", grant_rows(model)),
                ("users-by-app", user_rows(model)),
            ):
                frame(rows).to_excel(writer, sheet_name=sheet, index=False)
        return [write_private(out_dir / "inventory.xlsx", buffer.getvalue())]
