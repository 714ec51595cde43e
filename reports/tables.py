"""``findings.csv``, ``apps.csv`` and ``inventory.xlsx`` (sheets apps, findings, grants,
users-by-app, spend): CSV through pandas, the workbook through openpyxl.

Spreadsheet-formula injection is neutralised (OWASP "CSV Injection",
https://owasp.org/www-community/attacks/CSV_Injection): a text value starting with
``= + - @``, a tab or a carriage return is never stored as a formula.

- CSV has no cell types, so such a value gets a leading apostrophe (``inert()``): Excel,
  LibreOffice and Sheets then show it as text.
- XLSX cells are typed: such a cell is stored as a string cell (``data_type = "s"``) with the
  ``quotePrefix`` style, so the workbook shows the exact text and no spreadsheet evaluates it
  (openpyxl would otherwise store any string starting with ``=`` as a formula). The workbook
  is written by openpyxl in write-only mode, which streams rows and keeps a 5,000-app
  inventory fast.

NUL and other control characters are removed from both.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from reports.base import write_private

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_CELL = 32_000
"""Excel's cell limit is 32,767 characters."""
WIDE = {"app": 28, "reasons": 60, "remediation": 50, "meaning": 50, "risk_reasons": 60, "scope": 36}


def clean(value: Any) -> Any:
    """A cell value: lists joined with ``; ``, control characters removed, within Excel's limit."""
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    if not isinstance(value, str):
        return value
    return _CONTROL.sub("", value)[:MAX_CELL]


def formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_START)


def inert(value: Any) -> Any:
    """A CSV cell value that no spreadsheet will evaluate (a leading apostrophe if needed)."""
    value = clean(value)
    return "'" + value if formula_like(value) else value


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
            # What a spreadsheet needs to not read a missing figure as 0: ``users`` is then a
            # lower bound, and ``last_sign_in`` is unknown rather than "never".
            "users_unknown": a.get("users_unknown", False),
            "people_disabled": a.get("people_disabled", 0),
            "failed_sign_ins": a.get("failed_sign_ins", 0),
            "access": a.get("access", ""),
            # How an IdP fronts it (okta:saml...); empty: no SSO, leavers keep vendor accounts.
            "sso": a.get("sso", []),
            "spend": [f"{r['total']:.2f} {r['currency']}" for r in a.get("spend_by_currency", [])],
            "risk_score": a["risk_score"],
            "risk_level": a["risk_level"],
            "risk_reasons": a["risk_reasons"],
            "scopes": [s["scope"] for s in a["scopes"]],
            "sources": a["sources"],
            "client_ids": a["client_ids"],
            "matched_by": [f"{m['rule']}: {m['value']}" for m in a["matched_by"]],
            "first_seen": a["first_seen"],
            "last_sign_in": a["last_sign_in"],
            "sign_ins_unknown": a.get("sign_ins_unknown", False),
            "open_findings": len([f for f in a["findings"] if f["open"]]),
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


def spend_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per app and currency paid (never converted), with its contract from the
    sanctioned list: marketing apps first, so marketing operations read their spend at the top
    (filter ``marketing``)."""
    rows = []
    for a in model["apps"]:
        paid = a.get("spend_by_currency", [])
        if not paid and a.get("annual_cost") is None:
            continue
        for r in paid or [{"currency": None, "total": None}]:
            rows.append(
                {
                    "app": a["name"],
                    "category": a["category"],
                    "marketing": a["is_marketing"],
                    "sanction_status": a["sanction_status"],
                    "owner": a["owner"],
                    "currency": r["currency"],
                    "paid_in_period": r["total"],
                    # The app's whole spend in report.currency (every currency it was paid in).
                    "converted": (a.get("spend_converted") or {}).get("total"),
                    "converted_currency": (a.get("spend_converted") or {}).get("currency"),
                    "annual_cost": a.get("annual_cost"),
                    "cost_currency": a.get("cost_currency"),
                    "renewal_date": a.get("renewal_date"),
                    "notice_days": a.get("notice_days"),
                    "users": a["users"],
                    "last_sign_in": a["last_sign_in"],
                }
            )
    rows.sort(key=lambda r: (not r["marketing"], str(r["app"]).casefold()))
    return rows


def frame(rows: list[dict[str, Any]], cell: Callable[[Any], Any] = inert) -> pd.DataFrame:
    return pd.DataFrame(rows).map(cell) if rows else pd.DataFrame()


def text_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """A formula-like text as a string cell with quotePrefix; anything else unchanged."""
    if not formula_like(value):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def write_sheet(book: Workbook, name: str, rows: list[dict[str, Any]]) -> None:
    """One sheet in write-only mode (streamed, fast for large inventories): a frozen header
    row with filter buttons, column widths that fit the headers, then the rows."""
    sheet = book.create_sheet(name)
    if not rows:
        return
    header = list(rows[0])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    for index, column in enumerate(header, start=1):
        width = max(len(column) + 4, WIDE.get(column, 12))
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append(header)
    for row in rows:
        sheet.append([text_cell(sheet, clean(row[column])) for column in header])


class CsvReport:
    name = "csv"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        written = []
        for filename, rows in (
            ("findings.csv", finding_rows(model)),
            ("apps.csv", app_rows(model)),
        ):
            buffer = io.StringIO()
            # RFC 4180 line ends: a cell holding a bare CR is then quoted, not split into a
            # new row that could start with "=" (a formula the apostrophe did not cover).
            frame(rows).to_csv(buffer, index=False, lineterminator="\r\n")
            written.append(write_private(out_dir / filename, buffer.getvalue().encode("utf-8")))
        return written


class XlsxReport:
    name = "xlsx"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        book = Workbook(write_only=True)
        for sheet, rows in (
            ("apps", app_rows(model)),
            ("findings", finding_rows(model)),
            ("grants", grant_rows(model)),
            ("users-by-app", user_rows(model)),
            ("spend", spend_rows(model)),
        ):
            write_sheet(book, sheet, rows)
        buffer = io.BytesIO()
        book.save(buffer)
        return [write_private(out_dir / "inventory.xlsx", buffer.getvalue())]
