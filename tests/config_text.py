"""Config text the tests write: the expense-card import of tests/data/imports, as TOML."""

from __future__ import annotations

EXPENSE_COLUMNS = """\
[sources.files.imports.columns]
vendor = "Merchant"
amount = "Amount"
currency = "Currency"
date = "Date"
email = "Employee Email"
"""


def files_source(path: str = "expenses.csv", options: str = "") -> str:
    """A ``[sources.files]`` table importing the expense file at ``path`` (``options``: more
    lines of the table, e.g. ``max_cell = 200000``)."""
    return (
        f'[sources.files]\n{options}[[sources.files.imports]]\npath = "{path}"\n'
        f'kind = "expenses"\n{EXPENSE_COLUMNS}'
    )
