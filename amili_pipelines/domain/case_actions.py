"""Back to Amili: what the creditor's books say happened to a registered invoice, as actions.

An action (a payment the debtor made directly to the creditor, a crediting, a cancellation) is
reported to Amili exactly once, through its own outbox with the same states as registration:
``pending → in_flight → sent | waiting_for_batch | rejected | unknown_outcome``. Operators'
withdrawals (a cancellation), pauses and resumptions (Norway) travel the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class ActionState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    WAITING_FOR_BATCH = "waiting_for_batch"
    SENT = "sent"
    REJECTED = "rejected"
    UNKNOWN_OUTCOME = "unknown_outcome"


# A source status (lower-cased) that means the invoice is gone there: Amili's case is withdrawn.
CANCELLED_WORDS = frozenset({"cancelled", "canceled", "written_off", "removed"})


class ActionKind(StrEnum):
    PAYMENT = "payment"
    CREDITING = "crediting"
    CANCELLATION = "cancellation"  # Norway: withdraw the case
    PAUSE = "pause"  # Norway only
    RESUME = "resume"  # Norway only


# Norway's case status once each collections action took effect (reference F.2.6).
NO_STATUS_AFTER = {ActionKind.CANCELLATION: "WITHDRAWN", ActionKind.PAUSE: "PAUSED", ActionKind.RESUME: "OPEN"}


@dataclass(frozen=True, slots=True)
class CaseAction:
    """One action in the case-actions outbox."""

    key: str
    market: str
    creditor: str
    invoice_number: str
    case_id: str | None
    amili_invoice_id: str | None
    action: str
    amount: Decimal | None
    currency: str | None
    action_date: date
    state: str
    batch_id: str | None


@dataclass(frozen=True, slots=True)
class CaseActionRecord:
    """Everything the outbox knows about one action (for people and audits, not for sending)."""

    key: str
    market: str
    invoice_key: str
    case_id: str | None
    action: str
    purpose: str
    amount: Decimal | None
    currency: str | None
    action_date: date
    state: str
    attempts: int
    remote_id: str | None
    batch_id: str | None
    result_status: str | None
    result_json: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class ActionEvent:
    occurred_at: datetime
    from_state: str | None
    to_state: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class NewCaseAction:
    """An action detected in the source, to be written to the outbox (state pending)."""

    key: str
    market: str
    invoice_key: str
    creditor: str
    invoice_number: str
    case_id: str | None
    amili_invoice_id: str | None
    action: str
    purpose: str
    amount: Decimal | None
    currency: str | None
    action_date: date


@dataclass(frozen=True, slots=True)
class SourceView:
    """A registered invoice with an open case, next to what its source and Amili say about it now."""

    market: str
    invoice_key: str
    creditor: str
    invoice_number: str
    case_id: str
    amili_invoice_id: str | None
    claimed: Decimal | None
    currency: str | None
    present: bool  # still in its source's newest read
    open_balance: Decimal | None
    collected_capital: Decimal  # principal Amili collected and settled
    reported_paid: Decimal  # payments already reported (any state but rejected)
    reported_credited: Decimal
    reported_cancellations: int
    source_status: str | None  # unpaid | paid | not_due | credited | cancelled ... as the source says
