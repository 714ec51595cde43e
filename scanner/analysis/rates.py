"""Currency rates for the spend figures: never guessed, only from a file the config names.

Without ``[report] rates_file`` spend stays one total per currency. With it (and
``[report] currency``), the report also gives each app's spend in that currency. The file is a
CSV with a header ``currency,rate``: ``rate`` is how many units of the report currency one unit
of ``currency`` is worth (``USD,0.92`` with ``currency = "EUR"``). An app paid in a currency the
file does not list gets no converted figure at all, never a partial sum.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scanner.core.errors import InputError

_CODE = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Rates:
    currency: str
    """The report currency everything converts to."""
    rates: Mapping[str, float] = field(default_factory=dict)

    def convert(self, totals: Iterable[tuple[str, float]]) -> float | None:
        """The sum of ``(currency, total)`` rows in the report currency, or None when one
        currency has no rate."""
        converted = 0.0
        for currency, total in totals:
            code = currency.upper()
            rate = 1.0 if code == self.currency else self.rates.get(code)
            if rate is None:
                return None
            converted += total * rate
        return round(converted, 2)


def load(path: Path, currency: str) -> Rates:
    """Rates from ``path``; every error names the file and line."""
    target = currency.strip().upper()
    if not _CODE.fullmatch(target):
        raise InputError(f"report.currency: {currency!r} is not a currency code like EUR")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise InputError(f"{path}: cannot read the rates file (report.rates_file): {err}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not {"currency", "rate"} <= set(reader.fieldnames or []):
        raise InputError(f"{path}:1: the header must name the columns currency and rate")
    rates: dict[str, float] = {}
    for row in reader:
        where = f"{path}:{reader.line_num}"
        code = (row.get("currency") or "").strip().upper()
        if not _CODE.fullmatch(code):
            raise InputError(f"{where}: {row.get('currency')!r} is not a currency code like USD")
        try:
            rate = float((row.get("rate") or "").strip())
        except ValueError:
            raise InputError(f"{where}: rate {row.get('rate')!r} is not a number") from None
        if rate <= 0:
            raise InputError(f"{where}: rate {rate} for {code} must be more than 0")
        if code in rates:
            raise InputError(f"{where}: {code} is listed twice; keep one rate")
        rates[code] = rate
    return Rates(target, rates)
