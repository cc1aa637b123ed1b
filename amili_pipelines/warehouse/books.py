"""The books aggregate: what the creditor's ERP and ledger were told, each fact once; the figures
reports and controllers' workbooks show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class FeedbackItem:
    """A fact not yet told to the ERP: its stable key and its row (canonical field -> JSON value:
    amounts and dates as strings)."""

    key: str
    row: dict[str, Any]


@dataclass(frozen=True)
class LedgerLine:
    """A money line to book: a Swedish payout-specification line or a Norwegian settlement.

    ``fees`` is what the creditor was paid for fees (Sweden passes reminder fees on; Norway's
    collection fees stay with Amili), so ``paid_out = principal + interest + fees - commission - vat``.
    The amounts are what is still to book: the whole line the first time, and after Amili corrected
    a booked line, the difference between what it says now and what was booked of it.
    """

    market: str
    line_id: str
    payout_key: str  # Sweden: the payout id; Norway: the settlement date
    payout_date: date
    payout_reference: str | None
    currency: str | None
    principal: Decimal
    interest: Decimal
    fees: Decimal
    commission: Decimal
    vat: Decimal
    paid_out: Decimal
    payout_total: Decimal | None  # Sweden: the bank transfer's own total
    payout_lines_total: Decimal | None = None  # Sweden: what all the payout's lines pay out now
    correction: bool = False  # part of the line was booked before (Amili changed its amounts)


@dataclass(frozen=True)
class ExportedRow:
    kind: str
    item_key: str
    export_day: date
    batch: int
    position: int
    row: dict[str, Any]


class BooksStore(Protocol):
    def feedback_candidates(self, creditor: str, kind: str) -> list[FeedbackItem]:
        """Facts of ``kind`` not yet exported for ``creditor``, in a stable order."""

    def unbooked_lines(self, creditor: str, *, market: str, complete_before: date) -> list[LedgerLine]:
        """Money lines of paid-out payouts not yet booked, or booked with other amounts than they
        have now (then the difference); Norway: settlement days before ``complete_before`` only, so
        that a day is booked once it is over."""

    def record_exports(self, creditor: str, kind: str, export_day: date,
                       rows: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Assign new facts to the next batch of ``export_day``, atomically; the batch number.
        Keys already exported are refused (an error: they would be told twice)."""

    def record_verifications(self, creditor: str, market: str, export_day: date,
                             verifications: Sequence[tuple[str, dict[str, Any], Sequence[LedgerLine]]]) -> int:
        """Like :meth:`record_exports` for ``(key, verification, lines)``, recording the amounts each
        verification booked of each line (a key taken already gets a ``#n`` suffix)."""

    def exported(self, creditor: str) -> list[ExportedRow]:
        """Everything exported for ``creditor``, by kind, day, batch and position."""

    def last_export_day(self, creditor: str) -> date | None: ...


class ReportStore(Protocol):
    """Read-only figures for the report and the controllers' workbooks (rows as dicts)."""

    def headline(self) -> list[dict[str, Any]]: ...

    def ageing(self, *, as_of: date, creditor: str | None = None) -> list[dict[str, Any]]: ...

    def cash_by_month(self, *, creditor: str | None = None, start: date | None = None,
                      end: date | None = None) -> list[dict[str, Any]]: ...

    def collection(self) -> list[dict[str, Any]]: ...

    def quarantine_by_rule(self) -> list[dict[str, Any]]: ...

    def rejections_by_reason(self) -> list[dict[str, Any]]: ...

    def discrepancies(self, *, creditor: str | None = None) -> list[dict[str, Any]]: ...

    def reconciliation(self, *, creditor: str) -> list[dict[str, Any]]: ...

    def open_cases(self, *, creditor: str, as_of: date) -> list[dict[str, Any]]: ...

    def payouts(self, *, creditor: str, start: date, end: date) -> list[dict[str, Any]]: ...
