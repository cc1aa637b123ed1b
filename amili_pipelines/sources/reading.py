"""From a source spec to a stream of SourceInvoices, one unit (file or table) at a time."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from amili_pipelines.domain.invoice import Market, SourceInvoice
from amili_pipelines.domain.source_specs import (
    CsvSource,
    ExcelSource,
    JsonlSource,
    ParquetSource,
    PeppolSource,
    SqlSource,
)
from amili_pipelines.sources.assemble import InvoiceAssembler
from amili_pipelines.sources.columns import REQUIRED_FIELDS, resolve_columns
from amili_pipelines.sources.parsing import ValueParser
from amili_pipelines.sources.readers import RecordStream, SourceFileError
from amili_pipelines.sources.readers.csv_reader import read_csv

AnySpec = CsvSource | ExcelSource | JsonlSource | ParquetSource | SqlSource | PeppolSource

__all__ = ["SourceFileError", "Unit", "iter_units", "open_records", "read_unit", "fingerprint"]


@dataclass
class Unit:
    """One file (or the SQL query) of a source."""

    location: str  # as shown in messages: path relative to the creditors file, or the masked URL
    path: Path | None = None  # None for SQL
    missing_columns: list[str] = field(default_factory=list)


def iter_units(spec: AnySpec, *, base_dir: Path) -> list[Unit]:
    if isinstance(spec, SqlSource):
        from amili_pipelines.sources.readers.sql_reader import describe

        where = spec.table or "query"
        return [Unit(location=f"{describe(spec.url)} [{where}]")]
    pattern = spec.path if Path(spec.path).is_absolute() else str(base_dir / spec.path)
    paths = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    units = []
    for p in paths:
        try:
            shown = str(p.relative_to(base_dir))
        except ValueError:
            shown = str(p)
        units.append(Unit(location=shown, path=p))
    return units


def fingerprint(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _parser(spec: AnySpec) -> ValueParser:
    return ValueParser(decimal=getattr(spec, "decimal", "."), thousands=getattr(spec, "thousands", None),
                       date_format=getattr(spec, "date_format", None))


def open_records(spec: AnySpec, unit: Unit, *, creditor: str, market: Market) -> tuple[RecordStream, InvoiceAssembler]:
    """A tabular unit's records and the assembler that turns them into invoices (``spec`` is not PEPPOL).

    Raises SourceFileError when the unit is unreadable. The assembler is picklable, so chunks of
    records can be assembled in another process.
    """
    columns = resolve_columns(preset=spec.column_preset, overrides=spec.columns)
    stream: RecordStream
    if isinstance(spec, CsvSource):
        stream = read_csv(unit.path, columns=columns, delimiter=spec.delimiter, encoding=spec.encoding)  # type: ignore[arg-type]
    elif isinstance(spec, ExcelSource):
        from amili_pipelines.sources.readers.excel_reader import read_excel

        stream = read_excel(unit.path, columns=columns, sheet=spec.sheet, header_row=spec.header_row)  # type: ignore[arg-type]
    elif isinstance(spec, JsonlSource):
        from amili_pipelines.sources.readers.jsonl_reader import read_jsonl

        stream = read_jsonl(unit.path, columns=columns, encoding=spec.encoding)  # type: ignore[arg-type]
    elif isinstance(spec, ParquetSource):
        from amili_pipelines.sources.readers.parquet_reader import read_parquet

        stream = read_parquet(unit.path, columns=columns)  # type: ignore[arg-type]
    elif isinstance(spec, SqlSource):
        from amili_pipelines.sources.readers.sql_reader import read_sql

        stream = read_sql(spec.url, query=spec.query, table=spec.table, columns=columns)
    else:  # pragma: no cover - the union is closed
        raise SourceFileError(f"unsupported source kind {spec.kind!r}")
    unit.missing_columns = stream.missing_columns
    problems = missing_column_problems(spec, columns, stream.missing_columns)
    if problems:
        stream.close()
        raise SourceFileError(f"{unit.location}: " + "; ".join(problems)
                              + ". Nothing of this file was registered; fix the export or the source's 'columns'.")
    present = {f: c for f, c in columns.items() if f not in set(stream.missing_columns)}
    assembler = InvoiceAssembler(source=spec.name, creditor=creditor, market=market, parser=_parser(spec),
                                 columns=present, defaults=spec.defaults,
                                 totals_are_open_balances=spec.totals_are_open_balances,
                                 record_fields=stream.whole_record_fields)
    return stream, assembler


def missing_column_problems(spec: AnySpec, columns: dict[str, str], missing: list[str]) -> list[str]:
    """Why a file cannot be used although it was read: a column every invoice needs is absent, or a
    column the source's own ``columns`` names is not there (a typo there must not pass silently)."""
    absent = set(missing)
    defaults = spec.defaults
    problems = []
    for f in REQUIRED_FIELDS:
        if f not in absent or f in defaults:
            continue
        if f == "open_balance" and spec.totals_are_open_balances and "total_amount" not in absent:
            continue
        names = {"customer_first_name", "customer_last_name"}
        if f == "customer_name" and names <= set(columns) and not names & absent:
            continue
        if f == "customer_id_number" and defaults.get("customer_kind") == "foreign":
            continue
        hint = (" (if nothing was paid on any invoice of this source, say so with 'totals_are_open_balances: true')"
                if f == "open_balance" else "")
        problems.append(f"column {columns[f]!r} ({f}) not found{hint}")
    for f in sorted(set(spec.columns) & absent - set(REQUIRED_FIELDS)):
        problems.append(f"column {spec.columns[f]!r}, configured for {f}, not found")
    return problems


def read_unit(spec: AnySpec, unit: Unit, *, creditor: str, market: Market) -> Iterator[SourceInvoice]:
    """Invoices of one unit. Raises SourceFileError (before yielding) when the unit is unreadable."""
    if isinstance(spec, PeppolSource):
        from amili_pipelines.sources.readers.peppol_reader import read_peppol_file

        assert unit.path is not None
        yield read_peppol_file(unit.path, location=unit.location, source=spec.name, creditor=creditor, market=market)
        return
    stream, assembler = open_records(spec, unit, creditor=creditor, market=market)
    yield from assembler.invoices(stream.records, location=unit.location)
