"""The files connector: reads each configured import and yields its records page by page."""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from connectors.base import ConnectorContext, ConnectorSpec, Probe
from connectors.files.parse import (
    UNDECODABLE,
    RowError,
    _quote,
    clean_cell,
    domain_of,
    file_sha256,
    parse_amount,
    parse_currency,
    parse_when,
    read_cursor,
    row_hash,
    write_cursor,
)
from scanner.core.errors import ConfigError
from scanner.core.models import Checkpoint, RawApp, SignIn, SourceRecord, SourceWarning, Spend
from scanner.core.names import one_line

log = logging.getLogger(__name__)

SOURCE = "files"
Kind = Literal["expenses", "usage"]

FIELDS: dict[str, dict[str, bool]] = {
    # field -> required?  (usage needs one of app / domain, checked separately)
    "expenses": {
        "vendor": True,
        "amount": True,
        "currency": True,
        "date": True,
        "email": False,
        "id": False,
    },
    "usage": {"app": False, "domain": False, "user": False, "last_used": True, "id": False},
}
STREAM = {"expenses": "spend", "usage": "signins"}
APP_KIND = {"expenses": "expense", "usage": "usage"}
PAGE_ROWS = 500
"""Rows between two commit points."""
SNIFF_BYTES = 16 * 1024
"""The Sniffer's regular expressions grow slow on long samples; the first lines suffice."""
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class ImportSettings:
    """One ``[[sources.files.imports]]`` table."""

    path: str
    kind: Kind
    columns: dict[str, str] = field(default_factory=dict)
    """Field -> column header (CSV) or key (JSON lines); a field not mapped uses its own name.
    Expenses: vendor, amount, currency, date, email, id. Usage: app, domain, user, last_used, id."""
    format: Literal["csv", "jsonl"] | None = None
    """Default from the extension: .csv/.tsv/.txt -> csv, .jsonl/.ndjson -> jsonl."""
    delimiter: str | None = None
    """CSV delimiter; detected from the file when unset (``,`` ``;`` tab ``|``)."""
    encoding: str = "utf-8-sig"
    source_name: str | None = None
    """The source the records carry, e.g. ``expenses`` (default: the kind)."""
    date_format: str | None = None
    """``strptime`` format such as ``%d/%m/%Y``; ISO 8601 is always understood."""
    currency: str | None = None
    """Currency for every row when the file has no currency column, e.g. ``EUR``."""
    decimal: Literal[".", ","] = "."
    """Decimal separator of amounts: ``,`` for ``1.234,56``."""


@dataclass(frozen=True)
class FilesSettings:
    """``[sources.files]``: the files to import on every scan."""

    enabled: bool = True
    imports: tuple[ImportSettings, ...] = ()
    max_cell: int = 1000
    """Longer cells are cut to this many characters (with a warning)."""


@dataclass(frozen=True)
class Plan:
    """One import, validated: where the file is and which column holds which field."""

    index: int
    settings: ImportSettings
    path: Path
    format: Literal["csv", "jsonl"]
    source_name: str
    mapping: dict[str, str]
    """Fields the file provides -> their column."""

    @property
    def key(self) -> str:
        return f"sources.files.imports[{self.index}]"

    @property
    def label(self) -> str:
        return self.path.name


# -- the connector --------------------------------------------------------------------------


class FilesConnector:
    """Imports every configured file; validates files and mappings when it is built."""

    name: ClassVar[str] = SOURCE

    def __init__(self, settings: FilesSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context
        where = f" ({context.config_path})" if context.config_path else ""
        if settings.max_cell < 1:
            raise ConfigError(f"sources.files.max_cell: expected at least 1{where}")
        self.plans = [self._plan(i, imp, where) for i, imp in enumerate(settings.imports)]

    # -- validation -----------------------------------------------------------------------
    def _plan(self, index: int, imp: ImportSettings, where: str) -> Plan:
        key = f"sources.files.imports[{index}]"
        path = self.context.resolve_path(imp.path)
        if not path.is_file():
            raise ConfigError(f"{key}.path: file {path} does not exist{where}")
        fmt = imp.format or _format_from_name(path)
        if fmt is None:
            raise ConfigError(
                f'{key}.format: cannot tell the format of {path.name}; set format = "csv" '
                f'or "jsonl"{where}'
            )
        try:
            codecs.lookup(imp.encoding)
        except LookupError:
            raise ConfigError(f"{key}.encoding: unknown encoding {imp.encoding!r}{where}") from None
        if imp.delimiter is not None and len(imp.delimiter) != 1:
            raise ConfigError(
                f"{key}.delimiter: expected one character, got {imp.delimiter!r}{where}"
            )
        known = FIELDS[imp.kind]
        for name in imp.columns:
            if name not in known:
                raise ConfigError(
                    f"{key}.columns.{name}: unknown field for {imp.kind} "
                    f"(known: {', '.join(known)}){where}"
                )
        columns = self._columns(path, fmt, imp)
        mapping: dict[str, str] = {}
        for name, required in known.items():
            column = imp.columns.get(name, name)
            if column in columns:
                mapping[name] = column
            elif name in imp.columns or (required and not _defaulted(name, imp)):
                raise ConfigError(
                    f"{key}.columns.{name}: column {column!r} is not in {path} "
                    f"(its columns: {_list(columns)}){where}"
                )
        if imp.kind == "usage" and not ({"app", "domain"} & set(mapping)):
            raise ConfigError(
                f"{key}.columns: map app or domain; {path} has neither an 'app' nor a 'domain' "
                f"column (its columns: {_list(columns)}){where}"
            )
        return Plan(index, imp, path, fmt, imp.source_name or imp.kind, mapping)

    def _columns(self, path: Path, fmt: str, imp: ImportSettings) -> list[str]:
        """The header of a CSV, or the keys of the first object of a JSON-lines file."""
        if fmt == "csv":
            with _open_text(path, imp.encoding) as handle:
                reader = csv.reader(handle, delimiter=_delimiter(handle, imp.delimiter))
                try:
                    header = next(reader, [])
                except csv.Error:
                    header = []
            return _header(header)
        with _open_text(path, imp.encoding) as handle:
            for line in handle:
                try:
                    first = json.loads(line) if line.strip() else None
                except (ValueError, RecursionError):
                    first = None
                if isinstance(first, dict):
                    return [str(k) for k in first]
                if line.strip():
                    break
        return []

    # -- collect --------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        cursors = {} if self.context.full else dict(since)
        known = {stream: read_cursor(cursors.get(stream)) for stream in set(STREAM.values())}
        for plan in self.plans:
            stream = STREAM[plan.settings.kind]
            digest = file_sha256(plan.path)
            if known[stream].get(plan.settings.path) == digest:
                log.info("files: %s is unchanged since the last scan; skipped", one_line(plan.path))
                continue
            yield from self._import(plan, stream)
            known[stream][plan.settings.path] = digest
            yield Checkpoint(SOURCE, stream, cursor=write_cursor(known[stream]))

    def _import(self, plan: Plan, stream: str) -> Iterator[SourceRecord]:
        rows = _csv_rows(plan) if plan.format == "csv" else _jsonl_rows(plan)
        seen_apps: set[str] = set()
        seen_rows: dict[str, int] = {}
        since_commit = 0
        for line, cells, problem in rows:
            records: list[SourceRecord] = []
            try:
                if problem:
                    raise RowError(problem)
                records = self._records(plan, line, cells, seen_rows)
            except RowError as err:
                # One warning per rejected row: the scan summary counts them.
                yield SourceWarning(SOURCE, stream, f"{plan.label}:{line}: {err}")
                continue
            for record in records:
                if isinstance(record, RawApp):
                    if record.client_id in seen_apps:
                        continue
                    seen_apps.add(record.client_id)
                yield record
            since_commit += 1
            if since_commit >= PAGE_ROWS:
                since_commit = 0
                yield Checkpoint(SOURCE, stream)

    def _records(
        self, plan: Plan, line: int, cells: Mapping[str, Any], seen_rows: dict[str, int]
    ) -> list[SourceRecord]:
        values: dict[str, str | None] = {}
        cut: list[str] = []
        for name, column in plan.mapping.items():
            text, was_cut = clean_cell(cells.get(column), self.settings.max_cell)
            if text is not None and UNDECODABLE in text:
                raise RowError(
                    f"column {column!r} has bytes that are not {plan.settings.encoding}; set "
                    f"{plan.key}.encoding"
                )
            values[name] = text
            if was_cut:
                cut.append(column)
        content = [f"{k}={v}" for k, v in sorted(values.items())]
        base = row_hash(plan.source_name, plan.settings.kind, *content)
        seen_rows[base] = seen_rows.get(base, 0) + 1
        row_id = values.get("id") or row_hash(base, str(seen_rows[base]))
        if plan.settings.kind == "expenses":
            records = self._expense(plan, values, row_id)
        else:
            records = self._usage(plan, values, row_id)
        warnings: list[SourceRecord] = [
            SourceWarning(
                SOURCE,
                STREAM[plan.settings.kind],
                f"{plan.label}:{line}: column {column!r} is longer than "
                f"{self.settings.max_cell} characters; kept the first {self.settings.max_cell}",
            )
            for column in cut
        ]
        return warnings + records

    def _expense(
        self, plan: Plan, values: Mapping[str, str | None], row_id: str
    ) -> list[SourceRecord]:
        vendor = _required(values, "vendor", plan)
        amount, symbol = parse_amount(_required(values, "amount", plan), plan.settings.decimal)
        currency = parse_currency(values.get("currency"), plan.settings.currency, symbol)
        on = parse_when(_required(values, "date", plan), plan.settings.date_format).date()
        app = RawApp(source=plan.source_name, client_id=vendor, name=vendor, kind="expense")
        spend = Spend(
            source=plan.source_name,
            line_id=row_id,
            client_id=vendor,
            amount=amount,
            currency=currency,
            on=on,
            user_email=_email(values.get("email")),
        )
        return [app, spend]

    def _usage(
        self, plan: Plan, values: Mapping[str, str | None], row_id: str
    ) -> list[SourceRecord]:
        name = values.get("app")
        domain_text = values.get("domain")
        domain = domain_of(domain_text.lower()) if domain_text else None
        if domain_text and not domain and not name:
            raise RowError(f"domain {_quote(domain_text)} is not a domain name")
        if not name and not domain:
            raise RowError(f"no app name or domain ({_columns_of(plan, 'app', 'domain')} empty)")
        key = name or domain
        assert key is not None
        at = parse_when(_required(values, "last_used", plan), plan.settings.date_format)
        app = RawApp(
            source=plan.source_name,
            client_id=key,
            name=key,
            kind="usage",
            domains=(domain,) if domain else (),
        )
        user = values.get("user")
        signin = SignIn(
            source=plan.source_name,
            event_id=row_id,
            client_id=key,
            at=at,
            user_id=None if _email(user) else user,
            user_email=_email(user),
            app_name=name or domain,
            kind="usage",
        )
        return [app, signin]

    def check(self) -> Iterator[Probe]:
        """Every file was found and its columns match (the constructor checked); say so."""
        for plan in self.plans:
            yield Probe(
                SOURCE,
                plan.key,
                True,
                f"{plan.path} ({plan.format}, {plan.settings.kind}): columns "
                + ", ".join(f"{k}={v!r}" for k, v in plan.mapping.items()),
            )


# -- readers --------------------------------------------------------------------------------

Row = tuple[int, dict[str, Any], str | None]
"""(line number, cells by column, reason the row cannot be read or None)."""


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    # Undecodable bytes become U+FFFD and reject only the rows they are in.
    return path.open("r", encoding=encoding, errors="replace", newline="")


def _delimiter(handle: io.TextIOWrapper, configured: str | None) -> str:
    """The configured delimiter, or one ``csv.Sniffer`` finds, checked against the header."""
    if configured:
        return configured
    sample = handle.read(SNIFF_BYTES)
    handle.seek(0)
    header = sample.splitlines()[0] if sample else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and counts.get(sniffed):
        return sniffed
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(cells: list[str]) -> list[str]:
    return [c.replace("\x00", "").replace("\ufeff", "").strip() for c in cells]


def _csv_rows(plan: Plan) -> Iterator[Row]:
    with _open_text(plan.path, plan.settings.encoding) as handle:
        reader = csv.reader(handle, delimiter=_delimiter(handle, plan.settings.delimiter))
        header = _header(next(reader, []))
        index: dict[str, int] = {}
        for position, column in enumerate(header):
            index.setdefault(column, position)
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                last_line = reader.line_num
                yield start, {}, f"not readable as CSV ({err})"
                continue
            last_line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            extra = cells[len(header) :]
            if len(cells) < len(header) or any(c.strip() for c in extra):
                yield (
                    start,
                    {},
                    (
                        f"has {len(cells)} fields, the header has {len(header)} "
                        "(a missing or unquoted delimiter?)"
                    ),
                )
                continue
            yield start, {column: cells[pos] for column, pos in index.items()}, None


def _jsonl_rows(plan: Plan) -> Iterator[Row]:
    with _open_text(plan.path, plan.settings.encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line.replace("\ufeff", "", 1) if number == 1 else line)
            except (ValueError, RecursionError) as err:
                yield number, {}, f"not valid JSON ({type(err).__name__})"
                continue
            if not isinstance(item, dict):
                yield number, {}, "not a JSON object"
                continue
            cells: dict[str, Any] = {}
            bad = None
            for key, value in item.items():
                if isinstance(value, dict | list):
                    if key in plan.mapping.values():
                        bad = f"key {str(key)!r} holds a {type(value).__name__}, not a value"
                    continue
                cells[str(key)] = None if value is None else _scalar(value)
            yield number, cells, bad


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- small helpers --------------------------------------------------------------------------


def _format_from_name(path: Path) -> Literal["csv", "jsonl"] | None:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return None


def _defaulted(name: str, imp: ImportSettings) -> bool:
    """Required fields that a setting can stand in for."""
    return name == "currency" and imp.currency is not None


def _required(values: Mapping[str, str | None], name: str, plan: Plan) -> str:
    value = values.get(name)
    if value is None:
        raise RowError(f"no {name} (column {plan.mapping.get(name, name)!r} is empty)")
    return value


def _columns_of(plan: Plan, *names: str) -> str:
    return " and ".join(repr(plan.mapping[n]) for n in names if n in plan.mapping)


def _email(value: str | None) -> str | None:
    if value and "@" in value and " " not in value:
        return value.lower()
    return None


def _list(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns[:20]) or "none"


def factory(settings: FilesSettings, context: ConnectorContext) -> FilesConnector:
    return FilesConnector(settings, context)


SPEC = ConnectorSpec(
    SOURCE,
    FilesSettings,
    factory,
    "File imports: expense lines and usage exports (CSV or JSON lines) with a column mapping",
)
