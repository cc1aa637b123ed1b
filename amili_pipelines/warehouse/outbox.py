"""The registration outbox aggregate: one row per invoice and market, exactly once at Amili.

``OutboxStore`` is what the registration use case calls; the states and row types live in
:mod:`amili_pipelines.domain.outbox`. A production implementation must keep the same
guarantees: the intent (``in_flight``) is durable before a request leaves, and a registered
invoice is never handed out for sending again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import RetrySelection
from amili_pipelines.domain.outbox import (
    BatchItemRow,
    OutboxEntry,
    OutboxEvent,
    OutboxRecord,
    OutboxRow,
    OutboxState,
    Outcome,
    WaitingBatch,
)


class OutboxStore(Protocol):
    def enqueue(self, entries: Sequence[OutboxEntry], *, run_id: str | None = None) -> dict[str, int]:
        """Add invoices not yet in the outbox; re-queue rejected ones whose source row changed (as a
        new generation).

        Returns counts ``new``, ``requeued``, ``already``.
        """

    def rows_in_state(
        self, states: Iterable[OutboxState], *, market: Market, creditor: str | None = None, limit: int | None = None,
        sent_since: datetime | None = None, max_sends: int | None = None, invoice_keys: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        """Rows in the given states in key order; with ``sent_since``/``max_sends`` only rows sent
        fewer than ``max_sends`` times since then; with ``invoice_keys`` only those invoices."""

    def mark_in_flight(self, rows: Sequence[OutboxRow], *, run_id: str | None = None,
                       batch_key: str | None = None) -> None:
        """Durably record the intent to send these rows (attempts + 1) before any request leaves."""

    def record_outcomes(self, outcomes: Sequence[Outcome], *, run_id: str | None = None) -> None:
        """Store outcomes atomically, with their events and every case id seen."""

    def record(self, market: Market, invoice_key: str) -> OutboxRecord | None:
        """Everything known about one invoice, or None when it was never queued."""

    def records(self, invoice_key: str) -> list[OutboxRecord]:
        """The invoice's rows, whatever the market."""

    def events(self, market: Market, invoice_key: str) -> list[OutboxEvent]:
        """Its state changes, oldest first."""

    def select(self, states: Iterable[OutboxState], selection: RetrySelection) -> list[OutboxRecord]:
        """Rows in ``states`` matching an operator's selection (keys, creditor, a part of Amili's
        answer, the day the answer was recorded), in market and key order."""

    def requeue_rejected(self, keys: Sequence[tuple[Market, str]], *, detail: str, run_id: str | None = None) -> int:
        """Rejected rows back to pending as a new generation, with an event; returns how many moved."""

    def state_counts(self, *, market: Market | None = None) -> dict[str, int]: ...

    def invoices_with_several_cases(self, *, market: Market | None = None) -> list[tuple[str, str, int]]: ...

    def waiting_batches(self) -> list[WaitingBatch]: ...

    def batch_rows(self, batch_id: str) -> list[BatchItemRow]: ...

    def known_batch_ids(self) -> set[str]: ...
