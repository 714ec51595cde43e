"""Spend converted to one currency only from a rates file; errors name the file and line."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from scanner.analysis import rates
from scanner.core.errors import ConfigError, InputError
from scanner.core.models import Spend
from tests.test_confirm_support import NOW, app_of, inventory, report, scan


def _paid(tmp_path: Path, rates_text: str | None) -> dict[str, object]:
    config = inventory(tmp_path)
    later = NOW + timedelta(days=1)
    scan(
        config,
        later,
        [
            Spend("google", "l1", "mailchimp-id", 100.0, "EUR", later.date()),
            Spend("google", "l2", "mailchimp-id", 50.0, "USD", later.date()),
            Spend("google", "l3", "jasper-id", 20.0, "GBP", later.date()),
        ],
    )
    if rates_text is not None:
        path = tmp_path / "rates.csv"
        path.write_text(rates_text, encoding="utf-8")
        config = replace(
            config, report=replace(config.report, currency="eur", rates_file=str(path))
        )
    return report(config, later)


def test_without_a_rates_file_nothing_is_converted(tmp_path: Path) -> None:
    model = _paid(tmp_path, None)
    assert app_of(model, "Mailchimp")["spend_converted"] is None


def test_rates_file_converts_and_a_missing_rate_gives_no_figure(tmp_path: Path) -> None:
    model = _paid(tmp_path, "currency,rate\nUSD,0.9\n")
    assert app_of(model, "Mailchimp")["spend_converted"] == {"currency": "EUR", "total": 145.0}
    assert app_of(model, "Jasper")["spend_converted"] is None  # GBP has no rate: no guess


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,rate\n", r"rates\.csv:1: the header must name"),
        ("currency,rate\nUSD,abc\n", r"rates\.csv:2: rate 'abc' is not a number"),
        ("currency,rate\nUSD,0.9\nUSD,0.8\n", r"rates\.csv:3: USD is listed twice"),
        ("currency,rate\ndollars,1\n", r"rates\.csv:2: 'dollars' is not a currency code"),
        ("currency,rate\nUSD,0\n", r"rates\.csv:2: rate 0.0 for USD must be more than 0"),
    ],
)
def test_rates_file_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        rates.load(path, "EUR")


def test_rates_file_without_a_currency_is_a_config_error(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    (tmp_path / "rates.csv").write_text("currency,rate\nUSD,0.9\n", encoding="utf-8")
    config = replace(config, report=replace(config.report, rates_file="rates.csv"))
    with pytest.raises(ConfigError, match="report.rates_file is set without report.currency"):
        report(config)
