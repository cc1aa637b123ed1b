"""The cases aggregate: Amili's cases and the money lines and payouts reported for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from amili_pipelines.domain.cases import CaseRecord, PayoutRecord, SettlementLine


class CaseStore(Protocol):
    def upsert_cases(self, cases: Sequence[CaseRecord]) -> tuple[int, int, int]:
        """Insert or update cases by (market, case id), matched to their invoices.

        A case without the debtor's identity number takes the one of its invoice as extracted.
        Returns (inserted, updated, unmatched).
        """

    def case(self, market: str, case_id: str) -> CaseRecord | None:
        """One stored case (its invoice key as matched), or None."""

    def se_cases_updated_until(self, amili_creditor: str | None = None) -> datetime | None:
        """Newest Swedish ``_updated`` stored (of one Amili creditor, when given): the next
        incremental read starts there."""

    def closed_count(self) -> int: ...

    def open_case_ids(self, market: str, creditor: str) -> set[str]:
        """Ids of the stored cases of one creditor that are not closed."""


class SettlementStore(Protocol):
    def upsert_lines(self, lines: Sequence[SettlementLine]) -> tuple[int, int]:
        """Insert or update money lines by (market, line id) and tie them to their cases."""

    def upsert_payouts(self, payouts: Sequence[PayoutRecord]) -> tuple[int, int]: ...

    def line(self, market: str, line_id: str) -> SettlementLine | None:
        """One stored line (its case and invoice as resolved), or None."""

    def lines(self, market: str, line_ids: Sequence[str]) -> dict[str, SettlementLine]:
        """The stored lines among ``line_ids``, by line id (one query, for a whole listing)."""

    def no_newest_settlement_date(self, organization_id: str) -> date | None: ...

    def se_lines_updated_until(self, amili_creditor: str | None = None) -> datetime | None: ...

    def se_payouts_updated_until(self, amili_creditor: str | None = None) -> datetime | None: ...

    def totals(self) -> tuple[int, dict[str, Decimal]]:
        """(number of lines, total paid out per currency: kronor and kroner are never added up)."""
