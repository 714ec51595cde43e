"""Whatever bytes a file holds, the importer yields records or raises one of our errors."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import ConnectorContext
from connectors.files import FilesConnector, FilesSettings, ImportSettings
from scanner.core.errors import ShadowitError
from scanner.core.models import Checkpoint, RawApp, SignIn, SourceWarning, Spend

EXPECTED = (RawApp, Spend, SignIn, SourceWarning, Checkpoint)
HEADER = {
    "expenses": ["date", "vendor", "amount", "currency", "email"],
    "usage": ["app", "domain", "user", "last_used"],
}

cells = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["=1+1", "+cmd", "-1", "@SUM(A1)", "<b>x</b>", "\x00", '"', ";", ",", "\r\n"]),
    st.sampled_from(["2026-11-03", "03.11.2026", "1,234.50", "(9.99)", "EUR", "a@b.example"]),
)


def import_bytes(data: bytes, kind: str, suffix: str, max_cell: int = 1000) -> list[object]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(data)
        imp = ImportSettings(str(path), kind)  # type: ignore[arg-type]
        try:
            conn = FilesConnector(
                FilesSettings(imports=(imp,), max_cell=max_cell), ConnectorContext()
            )
            return list(conn.collect({}))
        except ShadowitError as err:
            assert str(err)
            return []


def check(records: list[object]) -> None:
    for record in records:
        assert isinstance(record, EXPECTED), record
        if isinstance(record, Spend):
            assert math.isfinite(record.amount) and len(record.currency) == 3
        if isinstance(record, RawApp):
            assert record.name and "\x00" not in record.name
        if isinstance(record, SourceWarning):
            assert record.message.startswith("export")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), kind=st.sampled_from(["expenses", "usage"]))
def test_arbitrary_bytes_never_crash(data: bytes, kind: str) -> None:
    check(import_bytes(data, kind, ".csv"))
    check(import_bytes(data, kind, ".jsonl"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["expenses", "usage"]),
    rows=st.lists(st.lists(cells, min_size=0, max_size=6), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    bom=st.booleans(),
)
def test_arbitrary_rows_import_or_warn(
    kind: str, rows: list[list[str]], delimiter: str, bom: bool
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(HEADER[kind])
    writer.writerows(rows)
    data = (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8", "surrogatepass")
    records = import_bytes(data, kind, ".csv", max_cell=20)
    check(records)
    imported = sum(isinstance(r, Spend | SignIn) for r in records)
    rejected = sum(isinstance(r, SourceWarning) and "longer than" not in r.message for r in records)
    nonblank = [r for r in rows if any(c.strip() for c in r)]
    # Every row that is not blank is either imported or reported, never lost.
    assert imported + rejected == len(nonblank)
