"""``findings.csv``, ``apps.csv``, ``ownership.csv`` and ``inventory.xlsx`` (sheets apps,
findings, grants, users-by-app, spend, ownership): CSV through pandas, the workbook through
openpyxl. Cell values (inert formulas, typed dates) are ``reports.cells``.

Every table has a fixed list of columns (``COLUMNS``), so an empty table still has its header
row, in the CSV and on its sheet. A CSV file starts with a UTF-8 byte order mark unless
``[report] csv_bom = false``: Excel on Windows reads a CSV without one in the local code page
and garbles every non-ASCII name. The workbook is written by openpyxl in write-only mode, which
streams rows and keeps a 5,000-app inventory fast; its date columns hold real dates.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from reports.base import write_private
from reports.cells import MAX_CELL as MAX_CELL
from reports.cells import as_date, sheet_cell
from reports.cells import clean as clean
from reports.cells import formula_like as formula_like
from reports.cells import inert as inert

BOM = "\ufeff"
DATE_COLUMNS = frozenset(
    {"first_seen", "last_sign_in", "opened", "decided_until", "renewal_date", "answered_at"}
)
"""Columns holding an ISO date or time: real dates in the workbook."""
WIDE = {"app": 28, "reasons": 60, "remediation": 50, "meaning": 50, "risk_reasons": 60, "scope": 36}
"""Columns that are wide whatever the data (long free text)."""
MIN_WIDTH, MAX_WIDTH, DATE_WIDTH = 8, 60, 18
WIDTH_SAMPLE = 500
"""Rows read to size the columns (the widths are set before the rows stream out)."""


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


def ownership_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per app from its ``ownership`` block (``reports.ownership``), in words."""
    rows = []
    for a in model["apps"]:
        o = a.get("ownership") or {}
        rows.append(
            {
                "app": a["name"],
                "owner": o.get("owner"),
                "owner_source": o.get("owner_source_text"),
                "team": o.get("team"),
                "purpose": o.get("purpose"),
                "data_held": o.get("data_held"),
                "renewal_date": o.get("renewal_date"),
                "answer": o.get("answer_text"),
                "answered_by": o.get("answered_by"),
                "answered_at": o.get("answered_at"),
            }
        )
    return rows


Rows = Callable[[Mapping[str, Any]], list[dict[str, Any]]]

COLUMNS: dict[Rows, tuple[str, ...]] = {
    app_rows: (
        "app",
        "vendor",
        "category",
        "marketing",
        "marketing_reason",
        "sanction_status",
        "owner",
        "users",
        "users_unknown",
        "people_disabled",
        "failed_sign_ins",
        "access",
        "sso",
        "spend",
        "risk_score",
        "risk_level",
        "risk_reasons",
        "scopes",
        "sources",
        "client_ids",
        "matched_by",
        "first_seen",
        "last_sign_in",
        "sign_ins_unknown",
        "open_findings",
    ),
    finding_rows: (
        "id",
        "app",
        "kind",
        "severity",
        "status",
        "reasons",
        "remediation",
        "opened",
        "decided_by",
        "decision_reason",
        "decided_until",
    ),
    grant_rows: ("app", "scope", "level", "meaning", "consent", "grants"),
    user_rows: ("app", "department", "users"),
    spend_rows: (
        "app",
        "category",
        "marketing",
        "sanction_status",
        "owner",
        "currency",
        "paid_in_period",
        "converted",
        "converted_currency",
        "annual_cost",
        "cost_currency",
        "renewal_date",
        "notice_days",
        "users",
        "last_sign_in",
    ),
    ownership_rows: (
        "app",
        "owner",
        "owner_source",
        "team",
        "purpose",
        "data_held",
        "renewal_date",
        "answer",
        "answered_by",
        "answered_at",
    ),
}
"""Each table's columns, in order: the header row even when the table is empty."""

CSV_FILES: tuple[tuple[str, Rows], ...] = (
    ("findings.csv", finding_rows),
    ("apps.csv", app_rows),
    ("ownership.csv", ownership_rows),
)
SHEETS: tuple[tuple[str, Rows], ...] = (
    ("apps", app_rows),
    ("findings", finding_rows),
    ("grants", grant_rows),
    ("users-by-app", user_rows),
    ("spend", spend_rows),
    ("ownership", ownership_rows),
)


def frame(
    rows: list[dict[str, Any]], columns: Sequence[str], cell: Callable[[Any], Any] = inert
) -> pd.DataFrame:
    """The rows as a frame with exactly ``columns`` (a header even with no rows)."""
    table = pd.DataFrame(rows, columns=list(columns))
    return table.map(cell) if rows else table


def column_width(column: str, rows: Sequence[Mapping[str, Any]]) -> float:
    """Wide enough for the header and the longest value among the first rows (a date's
    display), within ``MIN_WIDTH`` and ``MAX_WIDTH``; long free text at its ``WIDE`` width."""
    if column in WIDE:
        return max(len(column) + 4, WIDE[column])
    if column in DATE_COLUMNS:
        return max(len(column) + 4, DATE_WIDTH)
    longest = max((len(str(clean(r[column]))) for r in rows[:WIDTH_SAMPLE]), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, len(column) + 4, longest + 2)))


def write_sheet(
    book: Workbook, name: str, rows: list[dict[str, Any]], columns: Sequence[str]
) -> None:
    """One sheet in write-only mode (streamed, fast for large inventories): a frozen header
    row with filter buttons, column widths that fit the data, then the rows, dates as dates."""
    sheet = book.create_sheet(name)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    for index, column in enumerate(columns, start=1):
        width = column_width(column, rows)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append(list(columns))
    dated = [column in DATE_COLUMNS for column in columns]
    for row in rows:
        sheet.append(
            [
                sheet_cell(sheet, as_date(value) if is_date else value)
                for value, is_date in zip((clean(row[c]) for c in columns), dated, strict=True)
            ]
        )


class CsvReport:
    name = "csv"

    def __init__(self, bom: bool = True) -> None:
        self.bom = bom
        """Start each file with a UTF-8 byte order mark (``[report] csv_bom``)."""

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        written = []
        for filename, builder in CSV_FILES:
            buffer = io.StringIO()
            if self.bom:
                buffer.write(BOM)
            # RFC 4180 line ends: a cell holding a bare CR is then quoted, not split into a
            # new row that could start with "=" (a formula the apostrophe did not cover).
            frame(builder(model), COLUMNS[builder]).to_csv(
                buffer, index=False, lineterminator="\r\n"
            )
            written.append(write_private(out_dir / filename, buffer.getvalue().encode("utf-8")))
        return written


class XlsxReport:
    name = "xlsx"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        book = Workbook(write_only=True)
        for sheet, builder in SHEETS:
            write_sheet(book, sheet, builder(model), COLUMNS[builder])
        buffer = io.BytesIO()
        book.save(buffer)
        return [write_private(out_dir / "inventory.xlsx", buffer.getvalue())]
