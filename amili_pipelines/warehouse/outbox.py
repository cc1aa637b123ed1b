"""The registration outbox aggregate: one row per invoice and market, exactly once at Amili.

``OutboxStore`` is what the registration use case calls; the states and row types live in
:mod:`amili_pipelines.domain.outbox`. A production implementation must keep the same
guarantees: the intent (``in_flight``) is durable before a request leaves, a registered invoice
is never handed out for sending again, and a row is worked on by one run at a time (``claim``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
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


# How long a run's claim on an outbox row holds before another run may take it over (the claiming
# run died): longer than one chunk can take to send, retries and timeouts included.
DEFAULT_LEASE_S = 600.0


def outbox_lease() -> timedelta:
    env = os.environ.get("AMILI_OUTBOX_LEASE_S")
    return timedelta(seconds=float(env) if env else DEFAULT_LEASE_S)


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

    def claim(
        self, states: Iterable[OutboxState], *, market: Market, run_id: str, limit: int, creditor: str | None = None,
        sent_since: datetime | None = None, max_sends: int | None = None, invoice_keys: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        """Up to ``limit`` rows in ``states`` that no live run holds, now held by ``run_id`` until its
        outcomes are recorded (or its lease passes: then it is taken to be dead). Two runs working
        at the same time never get the same row."""

    def release_claims(self, *, run_id: str) -> int:
        """Drop every claim of ``run_id`` (a run known to be dead, or one stopping early)."""

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

    def requeue_waiting(self, market: Market, invoice_key: str, *, batch_id: str, detail: str,
                        run_id: str | None = None) -> bool:
        """A row still waiting for the finished batch ``batch_id`` back to pending as a new generation,
        with an event (an operator's word that the batch does not hold it). Conditional in one
        statement: a row that meanwhile left that batch (registered, rejected, released and sent again
        by someone else) is not touched and False is returned, so it is never sent twice."""

    def state_counts(self, *, market: Market | None = None, unclaimed: bool = False) -> dict[str, int]:
        """Rows per state; ``unclaimed``: only rows no live run holds (what is left for a person or
        the next run, not what a parallel run is working on right now)."""

    def invoices_with_several_cases(self, *, market: Market | None = None) -> list[tuple[str, str, int]]: ...

    def waiting_batches(self) -> list[WaitingBatch]: ...

    def batch_rows(self, batch_id: str) -> list[BatchItemRow]: ...

    def known_batch_ids(self) -> set[str]: ...
