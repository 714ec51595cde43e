"""Cell values for the CSV files and the workbook: cleaned, inert, typed.

Spreadsheet-formula injection is neutralised (OWASP "CSV Injection",
https://owasp.org/www-community/attacks/CSV_Injection): a text value starting with
``= + - @``, a tab or a carriage return is never stored as a formula.

- CSV has no cell types, so such a value gets a leading apostrophe (``inert()``): Excel,
  LibreOffice and Sheets then show it as text.
- XLSX cells are typed: such a cell is stored as a string cell (``data_type = "s"``) with the
  ``quotePrefix`` style, so the workbook shows the exact text and no spreadsheet evaluates it
  (openpyxl would otherwise store any string starting with ``=`` as a formula).

Dates and times are real cells in the workbook (``as_date``): a date column holds ``date`` or
``datetime`` values, so sorting and filtering by date works; Excel has no time zones, so a time
is given in UTC (docs/reports.md says so). NUL and other control characters are removed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_CELL = 32_000
"""Excel's cell limit is 32,767 characters."""
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


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


def as_date(value: Any) -> Any:
    """An ISO day (``2026-12-31``) as a ``date``, an ISO time as a naive UTC ``datetime``;
    anything else (None, a text an owner typed that is no date) unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if _DAY.match(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def sheet_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """A value for a write-only sheet: a formula-like text as a string cell with quotePrefix,
    a date or time with its number format; anything else unchanged."""
    if formula_like(value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
        return cell
    return value
