"""Use case: read one source for one partition, keep what is unpaid and overdue, store it.

Counting, not filtering: every record read ends in exactly one count (extracted, skipped_paid,
skipped_not_due), and every record with an invoice number gets a row in ``source_balances``.
Records whose balance or due date cannot be read ARE extracted, so validation quarantines them
with a reason instead of the unpaid rule silently dropping them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import duckdb

from amili_pipelines.config import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.validated import ValidatedInvoice
from amili_pipelines.domain.validation import RULES_VERSION, validate_invoice
from amili_pipelines.sources.reading import AnySpec, SourceFileError, fingerprint, iter_units, read_unit
from amili_pipelines.warehouse.extraction import (
    append_balances,
    append_extraction,
    clear_extraction,
    file_already_read,
    record_extraction_run,
    record_file,
    record_rule_check,
)

log = logging.getLogger(__name__)
_ZERO = Decimal(0)

UNPAID, PAID, NOT_DUE = "unpaid", "paid", "not_due"
# A missing column for one of these is worth a warning in the summary (optional ones are not).
IMPORTANT_FIELDS = frozenset({"invoice_number", "invoice_date", "due_date", "currency", "open_balance",
                              "total_amount", "customer_kind", "customer_name", "customer_id_number",
                              "line_unit_price", "line_units", "line_total_excl_vat", "line_vat_percent"})


@dataclass
class ExtractSummary:
    source: str
    creditor: str
    kind: str
    partition_date: date
    rows_read: int = 0  # invoices read (a multi-line invoice counts once)
    extracted: int = 0
    skipped_paid: int = 0
    skipped_not_due: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    parse_issue_count: int = 0
    errors: list[str] = field(default_factory=list)  # files/tables that could not be read at all
    warnings: list[str] = field(default_factory=list)  # e.g. columns missing in a file

    def check(self) -> None:
        if self.rows_read != self.extracted + self.skipped_paid + self.skipped_not_due:
            raise AssertionError(f"{self.source}: rows_read {self.rows_read} != extracted {self.extracted} + paid "
                                 f"{self.skipped_paid} + not due {self.skipped_not_due}")

    def metadata(self) -> dict[str, object]:
        """Plain values for Dagster's MaterializeResult metadata."""
        d = asdict(self)
        d["partition_date"] = self.partition_date.isoformat()
        d["errors"] = "\n".join(self.errors) or "none"
        d["warnings"] = "\n".join(self.warnings) or "none"
        return d


def find_source(creditors: CreditorsFile, source_name: str) -> tuple[CreditorConfig, AnySpec]:
    for c in creditors.creditors:
        for s in c.sources:
            if s.name == source_name:
                return c, s
    known = [s.name for c in creditors.creditors for s in c.sources]
    raise KeyError(f"no source {source_name!r} in the creditors file (known: {known})")


def unpaid_status(inv: SourceInvoice, *, partition_date: date, grace_days: int) -> str:
    """Unpaid = open balance > 0 and the due date passed by ``grace_days`` as of the partition date.

    Unreadable balance or due date counts as unpaid (extracted, then quarantined).
    """
    bal = inv.open_balance
    if bal is not None and bal <= _ZERO:
        return PAID
    due = inv.due_date
    if due is not None and due + timedelta(days=grace_days) >= partition_date:
        return NOT_DUE
    return UNPAID


def extract_source(
    conn: duckdb.DuckDBPyConnection,
    *,
    creditors: CreditorsFile,
    source_name: str,
    partition_date: date,
    chunk_size: int = 20_000,
) -> ExtractSummary:
    """Read ``source_name`` for ``partition_date`` and replace that partition's rows for the source.

    One transaction: a failure leaves the previous extraction of the partition in place.
    Unreadable files are reported in ``errors`` (and not fingerprinted, so they are retried);
    they never stop the other files.
    """
    creditor, spec = find_source(creditors, source_name)
    summary = ExtractSummary(source=source_name, creditor=creditor.key, kind=spec.kind, partition_date=partition_date)
    extracted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    chunk: list[ValidatedInvoice] = []
    scheme = spec.payment_reference_scheme
    balances: list[tuple] = []

    def flush() -> None:
        append_extraction(conn, partition_date=partition_date, source=source_name, validated=chunk,
                          extracted_at=extracted_at)
        append_balances(conn, rows=balances)
        chunk.clear()
        balances.clear()

    conn.execute("BEGIN TRANSACTION")
    try:
        clear_extraction(conn, partition_date=partition_date, source=source_name)
        for unit in iter_units(spec, base_dir=creditors.base_dir):
            fp: tuple[str, int] | None = None
            if unit.path is not None:
                try:
                    fp = fingerprint(unit.path)
                except OSError as exc:
                    summary.files_failed += 1
                    summary.errors.append(f"{unit.location}: cannot read file: {exc}")
                    continue
                if getattr(spec, "read_once", False) and file_already_read(
                    conn, source=source_name, path=unit.location, fingerprint=fp[0], partition_date=partition_date
                ):
                    summary.files_unchanged += 1
                    continue
            rows_before, not_due_before = summary.rows_read, summary.skipped_not_due
            try:
                for inv in read_unit(spec, unit, creditor=creditor.key, market=creditor.market):
                    summary.rows_read += 1
                    if inv.parse_issues:
                        summary.parse_issue_count += len(inv.parse_issues)
                    status = unpaid_status(inv, partition_date=partition_date, grace_days=creditor.grace_days)
                    if status is UNPAID:
                        summary.extracted += 1
                        # The single-invoice rules run here, while the invoice is in hand; validate_partition
                        # adds the cross-invoice rules and sets the final verdict.
                        chunk.append(ValidatedInvoice(inv, tuple(validate_invoice(inv, reference_scheme=scheme))))
                    elif status is PAID:
                        summary.skipped_paid += 1
                    else:
                        summary.skipped_not_due += 1
                    if inv.invoice_number:
                        balances.append((partition_date, source_name, creditor.key, inv.invoice_key,
                                         inv.invoice_number, inv.open_balance, inv.due_date, status,
                                         status is UNPAID, inv.location, inv.row, extracted_at))
                    if len(chunk) >= chunk_size or len(balances) >= chunk_size:
                        flush()
            except SourceFileError as exc:
                summary.files_failed += 1
                summary.errors.append(str(exc))
                log.warning("source %s: %s", source_name, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
                # e.g. a file that vanished, an unknown codec, a corrupt sheet inside an .xlsx
                summary.files_failed += 1
                summary.errors.append(f"{unit.location}: {type(exc).__name__}: {exc}")
                log.exception("source %s: reading %s failed", source_name, unit.location)
                continue
            important = [c for c in unit.missing_columns if c in IMPORTANT_FIELDS]
            if important:
                summary.warnings.append(f"{unit.location}: columns not found: {', '.join(important)} "
                                        "(every invoice will lack them)")
            if unit.path is not None:
                summary.files_read += 1
                if fp is not None:
                    record_file(conn, source=source_name, path=unit.location, fingerprint=fp[0], size_bytes=fp[1],
                                rows_read=summary.rows_read - rows_before,
                                pending_rows=summary.skipped_not_due - not_due_before,
                                partition_date=partition_date)
        flush()
        summary.check()
        record_rule_check(conn, partition_date=partition_date, source=source_name, rules_version=RULES_VERSION,
                          reference_scheme=scheme)
        record_extraction_run(conn, partition_date=partition_date, source=source_name, creditor=creditor.key,
                              counts=asdict(summary), errors=summary.errors)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return summary
