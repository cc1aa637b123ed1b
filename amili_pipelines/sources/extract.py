"""Use case: read one source for one partition, keep what is unpaid and overdue, store it.

Counting, not filtering: every record read ends in exactly one count (extracted, skipped_paid,
skipped_not_due), and every record with an invoice number gets a row in ``source_balances``.
Records whose balance or due date cannot be read ARE extracted, so validation quarantines them
with a reason instead of the unpaid rule silently dropping them.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice

import pyarrow as pa

from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.source_specs import PeppolSource
from amili_pipelines.domain.validation import RULES_VERSION, validate_invoices
from amili_pipelines.sources.assemble import InvoiceAssembler
from amili_pipelines.sources.parsing import text
from amili_pipelines.sources.readers import snippet
from amili_pipelines.sources.reading import (
    AnySpec,
    SourceFileError,
    Unit,
    fingerprint,
    iter_units,
    open_records,
    read_unit,
)
from amili_pipelines.warehouse import Warehouse
from amili_pipelines.warehouse.tables import balances_table, extraction_tables

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


# The fields the paid / not-due decision reads: an issue on one of them leaves it undecided.
_DECIDING = frozenset({"open_balance", "due_date"})


def unpaid_status(inv: SourceInvoice, *, partition_date: date, grace_days: int) -> str:
    """Unpaid = open balance > 0 and the due date passed by ``grace_days`` as of the partition date.

    Unreadable balance or due date counts as unpaid (extracted, then quarantined), and so does one
    whose lines disagree on it: the first line's "paid" or "not due" must not hide the others'.
    """
    if inv.parse_issues and any(i.field in _DECIDING for i in inv.parse_issues):
        return UNPAID
    bal = inv.open_balance
    if bal is not None and bal <= _ZERO:
        return PAID
    due = inv.due_date
    if due is not None and due + timedelta(days=grace_days) >= partition_date:
        return NOT_DUE
    return UNPAID


# -- one chunk of invoices: status, rules, Arrow tables (in this process or a worker) ----------

@dataclass(frozen=True)
class _Job:
    """What processing a chunk needs besides its records (picklable, sent to worker processes)."""

    source: str
    creditor: str
    partition_date: date
    grace_days: int
    scheme: str | None
    extracted_at: datetime


@dataclass
class _Chunk:
    rows_read: int = 0
    extracted: int = 0
    skipped_paid: int = 0
    skipped_not_due: int = 0
    parse_issue_count: int = 0
    invoices: pa.Table | None = None
    issues: pa.Table | None = None
    balances: pa.Table | None = None
    error: str | None = None  # the unit could not be read on from here (message for the summary)


def _unreadable(location: str, exc: BaseException) -> str:
    return (f"{location}: reading stopped: {type(exc).__name__}: {snippet(exc)}; the rest of this file was not "
            "read (the invoices before it were kept)")


def _process(job: _Job, invoices: Iterable[SourceInvoice], location: str) -> _Chunk:
    """Classify, validate (single-invoice rules) and tabulate invoices. A failure while reading
    keeps what was read before it, as the unit's error.

    The cyclic garbage collector is paused for the chunk (bounded): a chunk allocates hundreds of
    thousands of acyclic objects, and the collections they trigger scan the whole heap each time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _process_gc_paused(job, invoices, location)
    finally:
        if enabled:
            gc.enable()


def _process_gc_paused(job: _Job, invoices: Iterable[SourceInvoice], location: str) -> _Chunk:
    out = _Chunk()
    unpaid: list[SourceInvoice] = []
    balances: list[tuple] = []
    partition_date, grace_days = job.partition_date, job.grace_days
    source, creditor, extracted_at = job.source, job.creditor, job.extracted_at
    try:
        for inv in invoices:
            out.rows_read += 1
            if inv.parse_issues:
                out.parse_issue_count += len(inv.parse_issues)
            status = unpaid_status(inv, partition_date=partition_date, grace_days=grace_days)
            if status is UNPAID:
                out.extracted += 1
                unpaid.append(inv)
            elif status is PAID:
                out.skipped_paid += 1
            else:
                out.skipped_not_due += 1
            if inv.invoice_number:
                balances.append((partition_date, source, creditor, inv.invoice_key, inv.invoice_number,
                                 inv.open_balance, inv.due_date, status, status is UNPAID, inv.location, inv.row,
                                 extracted_at))
    except SourceFileError as exc:
        out.error = str(exc)
        log.warning("source %s: %s", source, exc)
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
        # e.g. a file that vanished, an unknown codec, a corrupt sheet inside an .xlsx. The text of
        # the exception may quote the file: only a short masked snippet of it is kept.
        out.error = _unreadable(location, exc)
        log.warning("source %s: %s", source, out.error)
        log.debug("source %s: reading %s failed", source, location, exc_info=True)
    # The single-invoice rules run here, for the chunk at once (the rules work column-wise);
    # validate_partition adds the cross-invoice rules and sets the final verdict.
    validated = validate_invoices(unpaid, reference_schemes={source: job.scheme}, cross=False) if unpaid else []
    out.invoices, out.issues = extraction_tables(partition_date=partition_date, source=source, validated=validated,
                                                 extracted_at=extracted_at)
    out.balances = balances_table(balances)
    return out


def _process_records(job: _Job, assembler: InvoiceAssembler, records: list[tuple[int, Mapping[str, object]]],
                     location: str) -> _Chunk:
    """Worker entry point: records of whole invoices -> a processed chunk."""
    return _process(job, assembler.invoices(records, location=location), location)


# -- worker processes (opt-in) ---------------------------------------------------------------
# Assembling and validating is pure Python and CPU-bound. With AMILI_EXTRACT_WORKERS=N (N >= 1),
# big tabular files are cut at invoice boundaries into tasks for N worker processes while this
# process reads the file and stores the finished chunks. Off by default: on the 2-core target
# machine the in-process path is faster (shipping records to a worker costs more CPU than it
# saves, and a Dagster step shares the machine), and spawn needs the caller's ``__main__`` guard.

_TASK_INVOICES = 5_000
# Invoices held as Python objects at a time (``chunk_size`` is an upper bound): 20,000 cost
# ~180 MB more peak memory than 5,000 and were no faster.
_BATCH_INVOICES = 5_000
_PARALLEL_MIN_BYTES = 4 << 20


def _worker_count() -> int:
    env = os.environ.get("AMILI_EXTRACT_WORKERS")
    if env is not None and env.strip():
        return max(0, int(env))
    return 0


def _parallel_min_bytes() -> int:
    env = os.environ.get("AMILI_EXTRACT_PARALLEL_MIN_BYTES")
    return int(env) if env is not None and env.strip() else _PARALLEL_MIN_BYTES


def _record_tasks(records: Iterator[tuple[int, Mapping[str, object]]], size: int,
                  ) -> Iterator[list[tuple[int, Mapping[str, object]]]]:
    """Lists of records holding about ``size`` whole invoices each (consecutive records with the
    same invoice number are one invoice, as in :meth:`InvoiceAssembler.invoices`)."""
    task: list[tuple[int, Mapping[str, object]]] = []
    invoices = 0
    prev: str | None = None
    for item in records:
        number = text(item[1].get("invoice_number"))
        if number is None or prev is None or number != prev:  # the record starts an invoice
            if invoices >= size:
                yield task
                task, invoices = [], 0
            invoices += 1
        task.append(item)
        prev = number
    if task:
        yield task


class _Pool:
    """A lazily started process pool for one extract_source call."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def available(self) -> bool:
        """Start the workers once; False (work stays in this process) if they cannot start, e.g.
        a caller's ``__main__`` without the ``if __name__ == "__main__"`` guard that spawn needs."""
        if self.workers < 1:
            return False
        if self._executor is None:
            # spawn: the caller holds a DuckDB connection (threads); never fork it.
            executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
            try:
                for f in [executor.submit(os.getpid) for _ in range(self.workers)]:
                    f.result(timeout=120)
            except Exception as exc:  # noqa: BLE001 - fall back to in-process work
                log.warning("extract worker processes unavailable (%s: %s); working in-process",
                            type(exc).__name__, exc)
                executor.shutdown(wait=False, cancel_futures=True)
                self.workers = 0
                return False
            self._executor = executor
        return True

    def get(self) -> ProcessPoolExecutor:
        assert self._executor is not None
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _chunks_in_workers(pool: _Pool, job: _Job, spec: AnySpec, unit: Unit, *, market, chunk_size: int,
                       ) -> Iterator[_Chunk]:
    """Processed chunks of one tabular unit, in file order, assembled and validated by the pool."""
    stream, assembler = open_records(spec, unit, creditor=job.creditor, market=market)
    executor = pool.get()
    window = 2 * pool.workers + 1  # tasks in flight: bounded memory
    pending: deque[Future[_Chunk]] = deque()
    size = max(1, min(chunk_size, _TASK_INVOICES))
    try:
        for records in _record_tasks(stream.records, size):
            pending.append(executor.submit(_process_records, job, assembler, records, unit.location))
            while len(pending) > window or (pending and pending[0].done()):
                chunk = pending.popleft().result()
                yield chunk
                if chunk.error is not None:
                    return
        while pending:
            chunk = pending.popleft().result()
            yield chunk
            if chunk.error is not None:
                return
    finally:
        for f in pending:
            f.cancel()
        close = getattr(stream.records, "close", None)
        if close is not None:
            close()


def _chunks_in_process(job: _Job, spec: AnySpec, unit: Unit, *, market, chunk_size: int) -> Iterator[_Chunk]:
    invoices = read_unit(spec, unit, creditor=job.creditor, market=market)
    size = max(1, min(chunk_size, _BATCH_INVOICES))
    while True:
        chunk = _process(job, islice(invoices, size), unit.location)
        yield chunk
        if chunk.error is not None or chunk.rows_read < size:
            return


def _use_workers(pool: _Pool, spec: AnySpec, unit: Unit) -> bool:
    if pool.workers < 1 or isinstance(spec, PeppolSource) or unit.path is None:
        return False
    try:
        big = unit.path.stat().st_size >= _parallel_min_bytes()
    except OSError:
        return False
    return big and pool.available()


def extract_source(
    warehouse: Warehouse,
    *,
    creditors: CreditorsFile,
    source_name: str,
    partition_date: date,
    chunk_size: int = 20_000,
) -> ExtractSummary:
    """Read ``source_name`` for ``partition_date`` and replace that partition's rows for the source.

    One transaction: a failure leaves the previous extraction of the partition in place.
    Unreadable files are reported in ``errors`` (and not fingerprinted, so they are retried);
    they never stop the other files. With ``AMILI_EXTRACT_WORKERS`` >= 1, big tabular files are
    assembled and validated by that many worker processes (default 0: all in this process).
    """
    creditor, spec = creditors.source(source_name)
    summary = ExtractSummary(source=source_name, creditor=creditor.key, kind=spec.kind, partition_date=partition_date)
    extracted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    job = _Job(source=source_name, creditor=creditor.key, partition_date=partition_date,
               grace_days=creditor.grace_days, scheme=spec.payment_reference_scheme, extracted_at=extracted_at)
    reader = _UnitReader(warehouse, job=job, spec=spec, creditor=creditor, summary=summary,
                         chunk_size=max(1, chunk_size))
    try:
        # The source's rows of the day are replaced as a whole: one run at a time per source and day.
        with warehouse.exclusive(f"extract/{source_name}/{partition_date}"), warehouse.transaction():
            warehouse.invoices.clear_partition(partition_date=partition_date, source=source_name)
            units = iter_units(spec, base_dir=creditors.base_dir)
            if not units and not getattr(spec, "optional", True):
                summary.files_failed += 1
                summary.errors.append(f"{spec.path}: no file matches this path (relative to {creditors.base_dir}); "
                                      "set 'optional: true' on the source if it may have no file some days")
            for unit in units:
                reader.read(unit)
            if summary.files_failed:
                # What an unreadable file holds is unknown, not gone: without its rows, its invoices
                # would look paid or removed at the source and be reported to Amili as cancelled.
                warehouse.invoices.forget_balances(partition_date=partition_date, source=source_name)
                summary.warnings.append(f"the balances of this read are not kept ({summary.files_failed} file(s) "
                                        "could not be read): the last complete read of the source still counts")
            summary.check()
            # Messages name files, and a file may be named after a debtor: masked before anyone sees them.
            summary.errors = [mask_identity_numbers(e) or "" for e in summary.errors]
            summary.warnings = [mask_identity_numbers(w) or "" for w in summary.warnings]
            warehouse.invoices.record_rule_check(partition_date=partition_date, source=source_name,
                                                 rules_version=RULES_VERSION, reference_scheme=job.scheme)
            warehouse.invoices.record_extraction(partition_date=partition_date, source=source_name,
                                                 creditor=creditor.key, counts=asdict(summary), errors=summary.errors)
    finally:
        reader.pool.close()
    return summary


class _UnitReader:
    """Reads one unit (file or table) of a source into the store and counts it in the summary."""

    def __init__(self, warehouse: Warehouse, *, job: _Job, spec: AnySpec, creditor: CreditorConfig,
                 summary: ExtractSummary, chunk_size: int) -> None:
        self.store = warehouse.invoices
        self.job, self.spec, self.creditor, self.summary = job, spec, creditor, summary
        self.chunk_size = chunk_size
        self.pool = _Pool(_worker_count())

    def read(self, unit: Unit) -> None:
        summary, job = self.summary, self.job
        fp: tuple[str, int] | None = None
        if unit.path is not None:
            try:
                fp = fingerprint(unit.path)
            except OSError as exc:
                summary.files_failed += 1
                summary.errors.append(f"{unit.location}: cannot read file: {exc}")
                return
            if getattr(self.spec, "read_once", False) and self.store.file_already_read(
                source=job.source, path=unit.location, fingerprint=fp[0], partition_date=job.partition_date
            ):
                # Not read again, but still there: what it said about each invoice still holds today.
                # Without this, its invoices would look gone from the source (paid or removed) and be
                # reported back to Amili as cancelled.
                self.store.carry_forward_balances(source=job.source, path=unit.location, fingerprint=fp[0],
                                                  partition_date=job.partition_date)
                summary.files_unchanged += 1
                return
        rows_before, not_due_before = summary.rows_read, summary.skipped_not_due
        error = self._store_chunks(unit)
        if error is not None:
            summary.files_failed += 1
            summary.errors.append(error)
            return
        important = [c for c in unit.missing_columns if c in IMPORTANT_FIELDS]
        if important:
            summary.warnings.append(f"{unit.location}: columns not found: {', '.join(important)} "
                                    "(every invoice will lack them)")
        if unit.path is not None:
            summary.files_read += 1
            if fp is not None:
                self.store.record_file(source=job.source, path=unit.location, fingerprint=fp[0], size_bytes=fp[1],
                                       rows_read=summary.rows_read - rows_before,
                                       pending_rows=summary.skipped_not_due - not_due_before,
                                       partition_date=job.partition_date)

    def _store_chunks(self, unit: Unit) -> str | None:
        """Process and store the unit chunk by chunk; the error that stopped it, if any."""
        market = self.creditor.market
        error: str | None = None
        try:
            if _use_workers(self.pool, self.spec, unit):
                chunks = _chunks_in_workers(self.pool, self.job, self.spec, unit, market=market,
                                            chunk_size=self.chunk_size)
            else:
                chunks = _chunks_in_process(self.job, self.spec, unit, market=market, chunk_size=self.chunk_size)
            for chunk in chunks:
                self._keep(chunk)
                if chunk.error is not None:
                    error = chunk.error
        except SourceFileError as exc:
            error = str(exc)
            log.warning("source %s: %s", self.job.source, exc)
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
            error = _unreadable(unit.location, exc)
            log.warning("source %s: %s", self.job.source, error)
            log.debug("source %s: reading %s failed", self.job.source, unit.location, exc_info=True)
        return error

    def _keep(self, chunk: _Chunk) -> None:
        s = self.summary
        s.rows_read += chunk.rows_read
        s.extracted += chunk.extracted
        s.skipped_paid += chunk.skipped_paid
        s.skipped_not_due += chunk.skipped_not_due
        s.parse_issue_count += chunk.parse_issue_count
        self.store.insert(invoices=chunk.invoices, issues=chunk.issues, balances=chunk.balances)
