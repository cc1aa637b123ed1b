"""Everything known about one invoice, across every aggregate (a read model for people: ``show``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Rows = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class InvoiceHistory:
    """One invoice's story, oldest facts first within each part. Values are as stored: whoever
    shows them masks identity numbers (the request bodies and case documents hold them)."""

    invoice_key: str
    source_rows: Rows = ()  # each extraction of it: partition, source, file and row, amounts, verdict
    issues: Rows = ()  # what validation said, per extraction
    balances: Rows = ()  # what each source said about its balance, newest per source
    registrations: Rows = ()  # the outbox row per market: state, attempts, generation, case, Amili's rejection
    requests: Rows = ()  # the request body (Sweden) or batch item (Norway) it is sent with, per market
    registration_events: Rows = ()  # every state change of the registration
    cases_seen: Rows = ()  # every case Amili reported for it (more than one is a problem)
    cases: Rows = ()  # the cases as last read from Amili
    settlements: Rows = ()  # money lines of those cases
    actions: Rows = ()  # what was reported back or asked of Amili about the case
    action_events: Rows = ()
    audit: Rows = ()  # operator actions: who, when, what, why, Amili's answer
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return bool(self.source_rows or self.registrations or self.cases or self.audit)


class HistoryStore(Protocol):
    def invoice(self, invoice_key: str) -> InvoiceHistory:
        """Everything stored about ``invoice_key`` (``known`` is False when nothing is)."""

    def similar_keys(self, text: str, *, limit: int = 5) -> list[str]:
        """Invoice keys that contain ``text`` (a number typed without its creditor), for a hint."""
