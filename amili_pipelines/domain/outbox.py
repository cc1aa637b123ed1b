"""The registration outbox's vocabulary: one row per invoice and market, and its state machine.

    pending ──▶ in_flight ──▶ registered
                   │    ├──▶ rejected            (the API said no, with its own reasons)
                   │    ├──▶ waiting_for_batch   (Norway: accepted into a batch, result pending)
                   │    └──▶ unknown_outcome     (maybe applied: timeout, 502, dropped connection)
                   └──(crash)──▶ still in_flight

``in_flight`` and ``unknown_outcome`` are both "we do not know": before anything is sent again,
the engine looks the invoice up at Amili and moves it to registered / waiting_for_batch, or back
to pending when Amili has never seen it. Registered invoices are never sent again.

A rejected invoice goes back to pending when its source row changes or an operator retries it, and
a Norwegian one when its finished batch proves Amili lacks it; each such return starts a new
*generation*, so Norway's batch ``IdempotencyKey`` differs from the one Amili already answered (a
repeated key would only return the old batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from amili_pipelines.domain.invoice import Market


class OutboxState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    WAITING_FOR_BATCH = "waiting_for_batch"
    REGISTERED = "registered"
    REJECTED = "rejected"
    UNKNOWN_OUTCOME = "unknown_outcome"


UNRESOLVED = (OutboxState.IN_FLIGHT, OutboxState.UNKNOWN_OUTCOME)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """What to send for one invoice; built from a valid invoice by the registration use case."""

    market: Market
    invoice_key: str
    creditor: str
    invoice_number: str
    idempotency_key: str
    content_hash: str | None
    payload: dict | None  # None when ``body`` carries the request
    claimed_amount: Decimal | None
    currency: str | None
    # The request body as it goes on the wire (Sweden), serialised once here instead of on every
    # send; it is stored as the payload. None: the payload is sent the long way (Norway's items).
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as the engine works with it."""

    market: Market
    invoice_key: str
    creditor: str
    invoice_number: str
    idempotency_key: str
    state: OutboxState
    payload: dict | None  # None when ``body`` carries the stored request body
    attempts: int
    batch_key: str | None
    batch_id: str | None
    generation: int = 0
    body: bytes | None = None  # the request body exactly as it goes on the wire, when stored that way


@dataclass(frozen=True, slots=True)
class Outcome:
    """The observed result of sending (or looking up) one invoice."""

    market: Market
    invoice_key: str
    state: OutboxState
    case_id: str | None = None
    amili_invoice_id: str | None = None
    ocr_number: str | None = None
    registration_id: str | None = None
    batch_id: str | None = None
    batch_key: str | None = None  # Norway: the IdempotencyKey the invoice was (re)sent under
    rejection: object | None = None  # the API's own issues, JSON-serialisable
    error: str | None = None  # never contains secrets: built from typed errors
    detail: str | None = None
    seen_cases: tuple[tuple[str, str | None], ...] = ()  # every (case id, registration id) a lookup found


@dataclass(frozen=True, slots=True)
class BatchItemRow:
    """An outbox row of one Norwegian batch, as recorded when the batch finishes."""

    invoice_key: str
    invoice_number: str
    state: OutboxState


@dataclass(frozen=True, slots=True)
class WaitingBatch:
    """A Norwegian batch some outbox rows still wait for."""

    creditor: str
    batch_id: str


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """Everything the outbox knows about one invoice (for people and audits, not for sending)."""

    market: Market
    invoice_key: str
    creditor: str
    invoice_number: str
    state: OutboxState
    attempts: int
    claimed_amount: Decimal | None
    currency: str | None
    batch_key: str | None
    batch_id: str | None
    registration_id: str | None
    case_id: str | None
    amili_invoice_id: str | None
    ocr_number: str | None
    rejection: object | None
    last_error: str | None
    registered_at: datetime | None
    generation: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    occurred_at: datetime
    run_id: str | None
    from_state: str | None
    to_state: str
    detail: str | None
