"""Where every invoice stands: a read model across the invoices and outbox aggregates."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol


@dataclass(frozen=True)
class MarketAccounting:
    """One market's newest extraction of every invoice, by where it stands now."""

    extracted: int
    valid: int
    quarantined: int
    registered: int
    rejected: int
    waiting_for_batch: int
    not_yet_sent: int  # pending, in flight or unknown outcome
    not_queued: int  # valid but not in the outbox (should be 0 after a registration run)

    @property
    def accounted_for(self) -> bool:
        """Every extracted invoice is in exactly one visible state, and validation lost none."""
        placed = (self.registered + self.rejected + self.quarantined + self.waiting_for_batch
                  + self.not_yet_sent + self.not_queued)
        return placed == self.extracted and self.valid + self.quarantined == self.extracted


ACCOUNTING_COLUMNS = tuple(f.name for f in fields(MarketAccounting))

# A first query for someone who opens the operational file (printed by `make demo` and `run`).
EXAMPLE_QUERY = (
    "SELECT invoice_key, case_id, ocr_number, registered_at FROM registrations ORDER BY registered_at LIMIT 10;"
)


class StatusStore(Protocol):
    def accounting(self) -> dict[str, MarketAccounting]: ...

    def outbox_by_state(self) -> list[tuple[str, str, int]]: ...

    def registered_by_market(self) -> dict[str, int]: ...
