"""The webhook inbox: every delivery Amili pushed, kept durably until the run it triggered succeeded.

The receiver writes to it (and must not answer 2xx before ``accept`` returned); the inbox sensor
reads it, claims events for a run and completes the claim once that run succeeded. It lives apart
from the operational DuckDB file, so the receiver is a second writer that never waits for a run,
and the sensor never opens the operational store. The file implementation is
:mod:`amili_pipelines.warehouse.spool`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class InboxEvent:
    key_hash: str  # the delivery's name in the inbox, derived from its IdempotencyKey (without one, its envelope id)
    idempotency_key: str | None  # None: delivered without the header, de-duplicated on event_id alone
    received_at: datetime  # naive UTC
    event: str  # as the envelope names it
    event_id: str | None
    body: str  # the raw body as received (what the signature covered)


@dataclass(frozen=True, slots=True)
class Claim:
    """Events handed to one run. A failed run keeps its claim: the next attempt is the same events."""

    claim_id: str
    kind: str  # what the run does: batch_results | settlements | cases | nothing (ignored events)
    event_hashes: tuple[str, ...]
    created_at: datetime
    run_config: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0  # failed runs so far
    failed_at: datetime | None = None
    description: str = ""


class WebhookInbox(Protocol):
    location: str

    def accept(self, *, idempotency_key: str | None, event: str, event_id: str | None, body: bytes,
               received_at: datetime) -> bool:
        """Store a delivery durably. False when its IdempotencyKey, or its envelope id (Amili's retry under
        a new key, a replayed body), was stored before: nothing new. ValueError when it has neither."""

    def new_events(self, *, limit: int) -> list[InboxEvent]:
        """Accepted events no claim holds yet, oldest first."""

    def events(self, hashes: Sequence[str]) -> list[InboxEvent]: ...

    def claim(self, claim: Claim) -> Claim:
        """Record the claim, then hold its events (they leave ``new_events``)."""

    def open_claims(self) -> list[Claim]:
        """Claims whose run has not succeeded yet, oldest first."""

    def complete(self, claim_id: str) -> None:
        """The claim's run succeeded: its events are processed and the claim is closed."""

    def failed(self, claim_id: str, *, at: datetime) -> Claim:
        """The claim's run failed: count it; the events stay claimed for the next attempt."""

    def is_processed(self, key_hash: str) -> bool: ...

    def counts(self) -> dict[str, int]:
        """Events by state (new, claimed, processed) and open claims."""

    def prune(self, *, received_before: datetime) -> int:
        """Forget processed events received before this (naive UTC); returns how many. Events not yet
        processed are kept whatever their age. A redelivery of a forgotten event is taken as new and
        its run, an idempotent read of Amili, runs once more."""

    def repair(self) -> int:
        """Queue events a crash left stored but not queued; returns how many."""
