"""The invoices aggregate: what the sources delivered, what validation said, what may be registered.

``InvoiceStore`` is the interface the sources use cases and registration call; the DuckDB
implementation is :class:`amili_pipelines.warehouse.duckdb.invoices.DuckDBInvoiceStore`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple, Protocol

import pyarrow as pa

from amili_pipelines.domain.invoice import SourceInvoice, invoice_key
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validation.plausibility import ClaimHistory, ClaimRow


class DuplicateNumberRow(NamedTuple):
    """What the cross-invoice rules read of an invoice whose number occurs more than once."""

    source: str
    creditor: str
    invoice_number: str
    location: str
    row: int
    open_balance: Decimal | None
    customer_id_number: str | None
    due_date: date | None
    currency: str | None
    # False: a row of the day's read that was not extracted (paid or not yet due). It counts as a
    # copy of the number, but only extracted rows carry the issues.
    extracted: bool = True

    @property
    def invoice_key(self) -> str:
        return invoice_key(self.creditor, self.invoice_number, self.location, self.row)


class SourceVerdicts(NamedTuple):
    source: str
    extracted: int
    valid: int


class RuleVerdicts(NamedTuple):
    rule: str
    invoices: int
    example: str


class InvoiceStore(Protocol):
    """Extracted invoices per partition and source, their issues and balances, files read."""

    def clear_partition(self, *, partition_date: date, source: str) -> None:
        """Remove a source's rows of one partition (before it is extracted again)."""

    def insert(self, *, invoices: pa.Table | None = None, issues: pa.Table | None = None,
               balances: pa.Table | None = None) -> None:
        """Store tables in the layouts of :mod:`amili_pipelines.warehouse.tables`."""

    def forget_balances(self, *, partition_date: date, source: str) -> None:
        """Drop a source's balances of one day: that day's read was incomplete (a file failed), and an
        invoice missing from it would look paid or removed at the source. The last complete read counts."""

    def file_already_read(self, *, source: str, path: str, fingerprint: str, partition_date: date) -> bool: ...

    def carry_forward_balances(self, *, source: str, path: str, fingerprint: str, partition_date: date) -> int:
        """A file skipped as unchanged in ``partition_date`` still says what it said: its balances as
        last read are recorded for this day too (the source's view of the day stays complete)."""

    def record_file(self, *, source: str, path: str, fingerprint: str, size_bytes: int, rows_read: int,
                    pending_rows: int, partition_date: date) -> None: ...

    def record_extraction(self, *, partition_date: date, source: str, creditor: str, counts: dict[str, int],
                          errors: list[str]) -> None: ...

    def extraction_errors(self, *, partition_date: date) -> dict[str, list[str]]:
        """source -> what could not be read at all in its newest extraction of the day."""

    def record_rule_check(self, *, partition_date: date, source: str, rules_version: str,
                          reference_scheme: str | None) -> None: ...

    def rule_checks(self, *, partition_date: date) -> dict[str, tuple[str, str | None]]: ...

    def partition_sources(self, *, partition_date: date) -> list[str]: ...

    def iter_invoices(self, *, partition_date: date, source: str, batch_rows: int = 20_000,
                      ) -> Iterator[list[SourceInvoice]]: ...

    def delete_issues(self, *, partition_date: date, source: str | None = None,
                      rules: Sequence[str] | None = None) -> None: ...

    def append_issues(self, *, partition_date: date, source: str | None,
                      issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]]) -> int: ...

    def duplicate_number_rows(self, *, partition_date: date) -> list[DuplicateNumberRow]: ...

    def claims_above(self, *, partition_date: date, thresholds: dict[str, Decimal]) -> list[ClaimRow]:
        """The partition's invoices whose open balance is above their creditor's threshold."""

    def claim_history(self, *, before: date, days: int = 365) -> dict[str, ClaimHistory]:
        """Per creditor: distinct valid invoices of the ``days`` before ``before`` and their 95th
        percentile open balance."""

    def set_verdicts_from_issues(self, *, partition_date: date) -> None: ...

    def verdict_summary(self, *, partition_date: date) -> tuple[list[SourceVerdicts], list[RuleVerdicts], int]: ...

    def valid_invoices(self, *, partition_date: date | None = None, creditors: Collection[str] | None = None,
                       after_key: str | None = None, limit: int | None = None) -> list[SourceInvoice]:
        """Valid invoices to register in invoice-key order; ``after_key``/``limit`` page through them."""
        ...
