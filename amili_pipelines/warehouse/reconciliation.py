"""The reconciliation aggregate: per case, what we claimed against what came back; what does not add up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple, Protocol

# Discrepancies that mean money is wrong (blocking checks fail on them); the rest need a look.
ERROR_REASONS = ("paid_out_exceeds_claimed", "settlement_for_unknown_case", "invoice_with_two_cases")
WARNING_REASONS = ("closed_but_source_unpaid", "amounts_do_not_match_case")


class Discrepancy(NamedTuple):
    reason: str
    market: str
    invoice_number: str
    case_id: str
    line_id: str
    amount: Decimal | None
    detail: str


@dataclass
class ReconciliationTotals:
    cases_by_status: dict[str, int] = field(default_factory=dict)
    # currency -> (claimed, paid out, remaining)
    money_by_currency: dict[str, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)
    discrepancies: dict[tuple[str, str], int] = field(default_factory=dict)  # (reason, severity) -> count


@dataclass(frozen=True)
class ReconciliationRun:
    mode: str               # full | incremental
    reason: str             # why a full rebuild, or what an incremental run took in
    cases_recomputed: int   # rows written (every case in a full rebuild)


class ReconciliationStore(Protocol):
    def rebuild(self, *, as_of: date, grace_days: Mapping[str, int] | None = None,
                full: bool = False) -> ReconciliationRun:
        """Bring the reconciliation and its discrepancies up to date with every stored fact, atomically.

        Only the cases whose inputs changed since the last run are recomputed, unless ``full`` (or
        a first run, a migration, changed rules or grace days): the result is the same either way.
        ``grace_days`` (creditor -> days) is how long after Amili closed a case as paid the
        creditor's source may still show it unpaid before that counts (``closed_but_source_unpaid``);
        a creditor not named gets none."""

    def totals(self) -> ReconciliationTotals: ...

    def discrepancies(self, reasons: Sequence[str]) -> list[Discrepancy]: ...
