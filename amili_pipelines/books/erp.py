"""ERP feedback files: what the creditor's ERP must learn to keep its books right.

Per creditor and business day, one file per kind (CSV and/or Excel, in the ERP's own columns):

* ``handed_over``: invoices handed to Amili (the claim moved: case id, Amili's reference, amount);
* ``payments``: money Amili collected and paid out, per case and payout (capital, interest, fees,
  Amili's commission and VAT, what reached the bank, payout date and reference);
* ``closed_without_payment``: cases Amili closed with capital left unpaid (to write off);
* ``creditor_actions``: direct payments, credits and cancellations reported to Amili.

Each fact goes into exactly one file, the first time it is exported (the export ledger in the
books store keeps the row as exported): re-running a day rebuilds its files byte for byte, a
second run of the same day with news writes a new batch (``..._2.csv``), never two files with the
same rows. Money already told that Amili changes later (a late line of the same payout and case,
a corrected line, a line moved to another case) is told as the difference, in a row of its own.
Every file is listed in ``erp/manifest.json`` with its checksum and totals. The files carry
invoice numbers, Amili's case ids, references and amounts: no names, no identity numbers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from amili_pipelines.books.files import (
    Manifest,
    Sheet,
    csv_bytes,
    masked,
    remove_leftovers,
    write_counted,
    xlsx_bytes,
)
from amili_pipelines.domain.books import (
    AMOUNT_FIELDS,
    DATE_FIELDS,
    FEEDBACK_FIELDS,
    FEEDBACK_KINDS,
    IDENTIFIER_FIELDS,
)
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.warehouse import Warehouse
from amili_pipelines.warehouse.books import ExportedRow


@dataclass
class FeedbackSummary:
    day: str = ""
    new_rows: dict[str, int] = field(default_factory=dict)  # "<creditor>/<kind>" -> rows exported now
    files_written: int = 0
    files_unchanged: int = 0
    files_rewritten: int = 0  # an existing file whose bytes differed (the creditor's format changed)
    files_total: int = 0
    folders: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "new_rows"}
        out["folders"] = ", ".join(self.folders)
        for key, n in sorted(self.new_rows.items()):
            out[f"new_{key.replace('/', '_').replace('-', '_')}"] = n
        return out


def erp_folder(books_dir: Path, creditor: str) -> Path:
    return Path(books_dir) / creditor / "erp"


def file_name(creditor: str, kind: str, day: date, batch: int, ext: str) -> str:
    return f"{creditor}_{kind}_{day.isoformat()}_{batch}.{ext}"


def may_assign(last_export_day: date | None, day: date) -> bool:
    """New facts go to ``day`` unless a later day was already exported: re-running an earlier day
    only rebuilds its files (a backfill never moves a fact into a past file)."""
    return last_export_day is None or day >= last_export_day


def export_new_facts(warehouse: Warehouse, creditor: str, day: date, kinds: tuple[str, ...]) -> dict[str, int]:
    """Assign every fact not yet told to the ERP to the next batch of ``day``; rows per kind."""
    counts: dict[str, int] = {}
    # Parallel runs (production profile): one at a time assigns a creditor's facts to files.
    with warehouse.exclusive(f"books/{creditor}"):
        if not may_assign(warehouse.books.last_export_day(creditor), day):
            return counts
        for kind in kinds:
            items = warehouse.books.feedback_candidates(creditor, kind)
            if items:
                warehouse.books.record_exports(creditor, kind, day, [(i.key, i.row) for i in items])
                counts[kind] = len(items)
    return counts


def _typed(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in AMOUNT_FIELDS:
        return Decimal(str(value))
    if name in DATE_FIELDS:
        return date.fromisoformat(value)
    return value if name in IDENTIFIER_FIELDS else masked(value)


def _csv_text(value: Any, *, decimal: str, date_format: str) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", decimal)
    if isinstance(value, date):
        return value.strftime(date_format)
    return value


def render(creditor: CreditorConfig, kind: str, rows: list[dict[str, Any]], *, ext: str, day: date) -> bytes:
    """One feedback file's bytes, in the creditor's ERP format."""
    dialect = creditor.books.erp_feedback.dialect()
    fields = FEEDBACK_FIELDS[kind]
    header = [dialect.columns[f] for f in fields]
    typed = [[_typed(f, row.get(f)) for f in fields] for row in rows]
    if ext == "csv":
        lines = [[_csv_text(v, decimal=dialect.decimal, date_format=dialect.date_format) for v in r] for r in typed]
        return csv_bytes(header, lines, delimiter=dialect.delimiter, encoding=dialect.encoding)
    money = frozenset(i for i, f in enumerate(fields) if f in AMOUNT_FIELDS)
    return xlsx_bytes([Sheet(title=kind, header=header, rows=typed, money_columns=money)], stamp=day,
                      title=f"{creditor.name}: {kind} {day.isoformat()}")


def _totals(kind: str, rows: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        for f in FEEDBACK_FIELDS[kind]:
            if f in AMOUNT_FIELDS and row.get(f) is not None:
                out[f] += Decimal(str(row[f]))
    return {k: f"{v:.2f}" for k, v in sorted(out.items())}


def write_files(creditor: CreditorConfig, exported: list[ExportedRow], folder: Path, *, day: date,
                summary: FeedbackSummary, label: str = "erp") -> Manifest:
    """(Re)write every batch's files that are missing, differ, or belong to ``day``; update the manifest."""
    remove_leftovers(folder)
    manifest = Manifest(folder)
    batches: dict[tuple[str, date, int], list[dict[str, Any]]] = defaultdict(list)
    for e in exported:
        batches[(e.kind, e.export_day, e.batch)].append(e.row)
    for (kind, export_day, batch), rows in sorted(batches.items()):
        for ext in creditor.books.erp_feedback.formats:
            path = folder / file_name(creditor.key, kind, export_day, batch, ext)
            summary.files_total += 1
            manifest.check_same_rows(path, rows=len(rows), totals=_totals(kind, rows))
            if export_day != day and manifest.knows(path):
                summary.files_unchanged += 1
                continue
            written = write_counted(path, render(creditor, kind, rows, ext=ext, day=export_day), summary)
            manifest.add(written, kind=kind, day=export_day.isoformat(), batch=batch, format=ext, rows=len(rows),
                         totals=_totals(kind, rows), of=label)
    manifest.save()
    return manifest


def write_erp_feedback(warehouse: Warehouse, *, creditors: CreditorsFile, books_dir: str | Path,
                       day: date | None = None) -> FeedbackSummary:
    """Export what is new to every creditor's ERP for ``day`` (default today) and (re)write its files."""
    started = time.perf_counter()
    day = day or utcnow().date()
    summary = FeedbackSummary(day=day.isoformat())
    for creditor in creditors.creditors:
        counts = export_new_facts(warehouse, creditor.key, day, FEEDBACK_KINDS)
        for kind, n in counts.items():
            summary.new_rows[f"{creditor.key}/{kind}"] = n
        folder = erp_folder(Path(books_dir), creditor.key)
        # One run at a time reads what was exported and writes the folder's files and manifest: a run
        # that read the exports before another run's news must not save its older manifest last (the
        # news's files would be on disk, unlisted, until some later run).
        with warehouse.exclusive(f"books/{creditor.key}/erp-files"):
            exported = [e for e in warehouse.books.exported(creditor.key) if e.kind in FEEDBACK_KINDS]
            if exported:
                write_files(creditor, exported, folder, day=day, summary=summary)
                summary.folders.append(str(folder))
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
