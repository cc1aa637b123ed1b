"""Operator actions on single invoices: who asked for what, why, and what Amili answered.

A person can retry a rejected or unclear registration, and withdraw, pause or resume a case. Each
request goes through the same exactly-once outboxes as the pipeline's own work (a repeated command
is never sent twice) and leaves one audit entry per invoice: written as ``requested`` before
anything is sent, completed with the outcome and Amili's answer afterwards. An entry still
``requested`` therefore means the process ended between the two (the outbox shows what happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from amili_pipelines.domain.outbox import OutboxState

MIN_REASON_CHARS = 5
REQUESTED = "requested"
NOTHING_TO_DO = "nothing_to_do"


class OperatorAction(StrEnum):
    RETRY = "retry"
    WITHDRAW = "withdraw"
    PAUSE = "pause"
    RESUME = "resume"


class OperatorInputError(ValueError):
    """A command that cannot be carried out as given (unknown invoice, no reason, wrong market)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the OS user of a CLI call, or the person behind a Dagster run."""

    name: str
    via: str  # cli | dagster
    run_id: str | None = None


def require_reason(reason: str | None) -> str:
    """The reason an auditor will read; a placeholder is not one."""
    text = " ".join((reason or "").split())
    if len(text) < MIN_REASON_CHARS:
        raise OperatorInputError(
            f"a reason is required (at least {MIN_REASON_CHARS} characters): say why, for whoever reads the audit")
    return text


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One invoice's part in one operator action."""

    audit_id: str
    requested_at: datetime
    actor: str
    via: str
    run_id: str | None
    action: str
    market: str | None
    invoice_key: str
    case_id: str | None
    reason: str
    request: str | None  # the command as given (selection and options)
    subject_key: str | None  # the outbox or case-action key the action went through
    outcome: str  # requested | nothing_to_do | an outbox or case-action state
    answer: str | None  # Amili's answer as people may see it (identity numbers masked)
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetrySelection:
    """Which registrations an operator asks to send again. Empty fields do not narrow."""

    invoice_keys: tuple[str, ...] = ()
    creditor: str | None = None
    message: str | None = None  # part of Amili's rejection (code, field or message) or of the last error
    answered_from: date | None = None  # the day the outcome was recorded, inclusive
    answered_until: date | None = None
    everything: bool = False  # explicitly every rejected or unclear invoice

    @property
    def narrowed(self) -> bool:
        return bool(self.invoice_keys or self.creditor or self.message or self.answered_from or self.answered_until)

    def describe(self) -> str:
        parts = []
        if self.invoice_keys:
            parts.append("invoices " + ", ".join(self.invoice_keys[:20]) + (" …" if len(self.invoice_keys) > 20 else ""))
        if self.creditor:
            parts.append(f"creditor {self.creditor}")
        if self.message:
            parts.append(f"Amili's answer contains {self.message!r}")
        if self.answered_from or self.answered_until:
            parts.append(f"answered {self.answered_from or '…'} to {self.answered_until or '…'}")
        return "; ".join(parts) or "every rejected or unclear invoice"


# What a retry does with a registration in each state: rejected ones are queued again; unclear ones
# are only looked up at Amili (and sent only if the lookup proves Amili does not have them).
RETRY_RESEND = (OutboxState.REJECTED,)
RETRY_LOOK_UP = (OutboxState.UNKNOWN_OUTCOME, OutboxState.IN_FLIGHT)
# Norway: an invoice its finished batch left unplaced waits for ever (absence is not proven). Only a
# person who checked the batch at Amili can say it is not there, so these are retried only when named
# by invoice key, and only after the batch is fetched again and proves finished.
RETRY_CHECK_BATCH = (OutboxState.WAITING_FOR_BATCH,)
