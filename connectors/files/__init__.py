"""File imports: expense lines and usage exports (CSV or JSON lines) as source records.

Each configured import names a file, what it holds (``expenses`` or ``usage``) and which column
holds which field. An expense row becomes a ``RawApp(kind="expense")`` plus a ``Spend``; a usage
row (a CASB or browser-extension export) a ``RawApp(kind="usage")`` plus a ``SignIn``. Records
carry the import's ``source_name`` (default: the kind), so reports say "source: expenses".

Cells are text and stay text: nothing is evaluated, formula prefixes (``=``, ``+``, ``-``, ``@``)
and HTML are kept verbatim for the report layer to escape; NUL characters are dropped and cells
longer than ``max_cell`` are cut (with a warning). A row that cannot be read (missing value,
unparseable date or amount, undecodable bytes) becomes a ``SourceWarning`` naming
``file:line`` and the reason; every other row is still imported. A missing file, an unknown
field or a mapping to a column the file lacks is a ``ConfigError`` (exit 2) naming both.

After a whole file the stream's cursor records the file's SHA-256 (``sha256sum`` format, one
line per file), so an unchanged file is skipped next scan; ``--full`` imports it again.
"""

from connectors.files.collect import (
    SOURCE,
    SPEC,
    FilesConnector,
    FilesSettings,
    ImportSettings,
    factory,
)
from connectors.files.parse import RowError, parse_amount, parse_when, read_cursor

__all__ = [
    "SOURCE",
    "SPEC",
    "FilesConnector",
    "FilesSettings",
    "ImportSettings",
    "RowError",
    "factory",
    "parse_amount",
    "parse_when",
    "read_cursor",
]
