"""Back to Amili: report what the creditor's own books say about a registered invoice, exactly once.

Detection (``detect_source_changes``) compares, for every registered invoice whose Amili case is
still open, the source system's current view with what Amili already knows:

* the open balance dropped (or the source marks the invoice ``paid``) by more than Amili itself
  collected as capital and more than we already reported → a **payment** of the difference
  (the debtor paid the creditor directly);
* the source marks it ``credited`` → a **crediting** of the difference;
* the source marks it ``cancelled``, or the invoice is gone from its source's newest read →
  a **cancellation** (Norway: withdraw the case).

Each action gets a deterministic key ``idempotency_key(creditor, invoice_number, market,
purpose="payment:<amount>:<date>")`` and is written to the case-actions outbox (state
``pending``) before anything is sent. Amounts already written (in any state but ``rejected``)
count as reported, so a rerun on the same or a later day never reports the same money twice.

Sending (``send_pending_actions``) follows the registration outbox's rules: ``in_flight`` is
recorded before the request leaves; a timeout or 502 leaves ``unknown_outcome``; both are
resolved by a lookup at Amili (Sweden: ``GET /creditor--payments?where={"creditor_payment_reference": key}``
and the like) before anything is sent again. Norway's payment and correction batches carry the
action key as ``IdempotencyKey``, so resending is safe; their outcome comes with the batch.
Norway's withdraw / pause / resume have no key: ``case_status`` reads the case before resending.
Operators' withdrawals, pauses and resumptions (``case_commands``) go through this same outbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from amili_pipelines.amili.errors import (
    ApiConflict,
    ApiRejection,
    ApiUnavailable,
    NotFound,
    OutcomeUnknown,
)
from amili_pipelines.domain.case_actions import (
    CANCELLED_WORDS,
    ActionKind,
    ActionState,
    CaseAction,
    NewCaseAction,
    SourceView,
)
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import idempotency_key
from amili_pipelines.domain.money import TOLERANCE, ZERO
from amili_pipelines.reconciliation.case_status import (
    CASE_STATUS_ACTIONS,
    send_case_status_action,
)
from amili_pipelines.warehouse import Warehouse
from amili_pipelines.warehouse.actions import ActionStore

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

@dataclass
class ActionSummary:
    detected_payments: int = 0
    detected_creditings: int = 0
    detected_cancellations: int = 0
    sent: int = 0
    waiting_for_batch: int = 0
    resolved_by_lookup: int = 0
    rejected: int = 0
    unknown_outcome: int = 0
    retry_later: int = 0
    action_batches_sent: int = 0
    action_batches_rejected: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------


def action_for(view: SourceView) -> tuple[str, Decimal | None] | None:
    """What the source shows that Amili does not know yet: (action, amount), or None."""
    if view.reported_cancellations:
        return None
    status = (view.source_status or "").lower()
    if not view.present or status in CANCELLED_WORDS:
        return ActionKind.CANCELLATION.value, None
    claimed = view.claimed or ZERO
    current = view.open_balance or ZERO
    # What left the books beyond what Amili collected and what we already reported.
    reduction = claimed - current - view.collected_capital - view.reported_paid - view.reported_credited
    if reduction <= TOLERANCE:
        return None
    return (ActionKind.CREDITING.value if status == "credited" else ActionKind.PAYMENT.value), reduction


def detect_source_changes(warehouse: Warehouse, *, as_of: date | None = None) -> ActionSummary:
    """Write a pending action for every registered invoice whose source shows news Amili lacks."""
    as_of = as_of or utcnow().date()
    summary = ActionSummary()
    new: list[NewCaseAction] = []
    for view in warehouse.actions.source_views(news_only=True):
        found = action_for(view)
        if found is None:
            continue
        action, amount = found
        purpose = f"{action}:{amount if amount is not None else 'all'}:{as_of.isoformat()}"
        new.append(NewCaseAction(
            key=idempotency_key(view.creditor, view.invoice_number, view.market, purpose=purpose),
            market=view.market, invoice_key=view.invoice_key, creditor=view.creditor,
            invoice_number=view.invoice_number, case_id=view.case_id, amili_invoice_id=view.amili_invoice_id,
            action=action, purpose=purpose, amount=amount, currency=view.currency, action_date=as_of,
        ))
        if action == ActionKind.PAYMENT:
            summary.detected_payments += 1
        elif action == ActionKind.CREDITING:
            summary.detected_creditings += 1
        else:
            summary.detected_cancellations += 1
    warehouse.actions.add(new)
    return summary


# ---------------------------------------------------------------------------------------------
# Sending: what a failed send means, in both markets
# ---------------------------------------------------------------------------------------------

# Amili said no (rejected, with its own reasons), we cannot tell (looked up before any resend), or
# it never got there (sent again later).
_SEND_FAILURES = (ApiRejection, OutcomeUnknown, ApiUnavailable, NotFound)


def _record_send_failure(store: ActionStore, key: str, exc: Exception, s: ActionSummary) -> None:
    # A 409 is not a refusal of the action: a duplicate of one Amili holds, or a key still being
    # processed. Rejected, it would be reported again under a new key; unclear, it is looked up.
    if isinstance(exc, ApiRejection) and not isinstance(exc, ApiConflict):
        store.set_state(key, ActionState.REJECTED, detail=str(exc), last_error=str(exc)[:500],
                        result_json=json.dumps(exc.raw, default=str))
        s.rejected += 1
    elif isinstance(exc, OutcomeUnknown | ApiConflict):
        store.set_state(key, ActionState.UNKNOWN_OUTCOME, detail=str(exc), last_error=str(exc)[:500])
        s.unknown_outcome += 1
    else:
        store.set_state(key, ActionState.PENDING, detail=str(exc), last_error=str(exc)[:500])
        s.retry_later += 1


def _start_sending(store: ActionStore, a: CaseAction) -> None:
    store.count_attempt(a.key)
    store.set_state(a.key, ActionState.IN_FLIGHT, detail=f"sending {a.action}")


# ---------------------------------------------------------------------------------------------
# Sweden
# ---------------------------------------------------------------------------------------------


def _se_lookup_where(a: CaseAction, amili_creditor: str) -> dict[str, Any]:
    if a.action == ActionKind.PAYMENT:
        return {"creditor": amili_creditor, "creditor_payment_reference": a.key}
    if a.action == ActionKind.CREDITING:
        return {"creditor": amili_creditor, "creditor_reference": a.key}
    return {"creditor": amili_creditor, "case": a.case_id}


async def _se_find(se: Any, a: CaseAction, amili_creditor: str) -> dict[str, Any] | None:
    """The action at Amili if it arrived (the lookup that resolves an unknown outcome)."""
    async for doc in se.iter_creditor_actions(action=a.action, where=_se_lookup_where(a, amili_creditor), page_size=10):
        return {"_id": doc.id, "status": doc.status}
    return None


async def _se_send(se: Any, a: CaseAction, creditor: Any) -> Any:
    from amili_pipelines.amili.se.models import (
        CreditorCancellation,
        CreditorCrediting,
        CreditorPayment,
    )

    if a.action == ActionKind.PAYMENT:
        when = datetime.combine(a.action_date, datetime.min.time(), tzinfo=UTC)
        return await se.register_payment(payment=CreditorPayment(
            creditor=creditor.creditor_id, account=creditor.account_id, case=a.case_id, amount=a.amount,
            bank_transaction_date=when, creditor_payment_reference=a.key,
        ))
    if a.action == ActionKind.CREDITING:
        return await se.register_crediting(crediting=CreditorCrediting(
            creditor=creditor.creditor_id, account=creditor.account_id, case=a.case_id, amount=a.amount,
            creditor_reference=a.key,
        ))
    return await se.register_cancellation(cancellation=CreditorCancellation(creditor=creditor.creditor_id, case=a.case_id))


async def _resolve_sweden(store: ActionStore, se: Any, creditors: CreditorsFile, s: ActionSummary,
                          keys: Collection[str] | None = None) -> None:
    """Resolve what an earlier run left unclear, by lookup, before anything is sent again."""
    for a in store.in_states((ActionState.IN_FLIGHT, ActionState.UNKNOWN_OUTCOME), market="SE", keys=keys):
        cred = creditors.creditor(a.creditor)
        try:
            found = await _se_find(se, a, cred.creditor_id)
        except (ApiUnavailable, OutcomeUnknown) as exc:
            s.retry_later += 1
            store.note_error(a.key, str(exc))
            continue
        if found:
            store.set_state(a.key, ActionState.SENT, detail="found at Amili by lookup",
                            remote_id=str(found.get("_id") or found.get("id")),
                            result_status=found.get("status") or "completed", sent_at=utcnow())
            s.resolved_by_lookup += 1
        else:
            store.set_state(a.key, ActionState.PENDING, detail="not found at Amili by lookup: will send")


async def _send_sweden(store: ActionStore, se: Any, creditors: CreditorsFile, s: ActionSummary,
                       keys: Collection[str] | None = None) -> None:
    await _resolve_sweden(store, se, creditors, s, keys)
    for a in store.in_states((ActionState.PENDING,), market="SE", keys=keys):
        _start_sending(store, a)
        try:
            res = await _se_send(se, a, creditors.creditor(a.creditor))
        except _SEND_FAILURES as exc:
            _record_send_failure(store, a.key, exc, s)
            continue
        status = getattr(res, "status", None) or getattr(res, "payment_status", None) or getattr(
            res, "cancellation_status", None)
        store.set_state(a.key, ActionState.SENT, detail=f"Amili: {status}", remote_id=res.id, result_status=status,
                        result_json=res.model_dump_json(), sent_at=utcnow())
        s.sent += 1


# ---------------------------------------------------------------------------------------------
# Norway
# ---------------------------------------------------------------------------------------------


async def confirm_action_batches(
    warehouse: Warehouse, *, no_client: Any, creditors: CreditorsFile, s: ActionSummary | None = None,
) -> ActionSummary:
    """Record the outcome of finished Norwegian payment / correction batches (sent or rejected)."""
    s = s or ActionSummary()
    store = warehouse.actions
    for a in store.in_states((ActionState.WAITING_FOR_BATCH,), market="NO"):
        org = creditors.creditor(a.creditor).organization_id
        try:
            batch = await no_client.get_batch(organization_id=org, batch_id=a.batch_id)
        except (ApiUnavailable, OutcomeUnknown) as exc:
            s.retry_later += 1
            store.note_error(a.key, str(exc))
            continue
        if not batch.is_terminal:
            s.waiting_for_batch += 1
            continue
        status = (batch.status or "").upper()
        if status == "SUCCESS" or (status == "PARTIAL" and not batch.failed):
            store.set_state(a.key, ActionState.SENT, detail=f"batch {a.batch_id} {status}", result_status=status,
                            sent_at=utcnow())
            s.sent += 1
            s.action_batches_sent += 1
        else:
            errors = [e.model_dump(mode="json") for f in batch.failed for e in f.errors]
            store.set_state(a.key, ActionState.REJECTED, detail=f"batch {a.batch_id} {status}", result_status=status,
                            result_json=json.dumps(errors),
                            last_error=("; ".join(e.get("message") or "" for e in errors))[:500])
            s.rejected += 1
            s.action_batches_rejected += 1
    return s


async def _send_norway_one(no: Any, a: CaseAction, org: str) -> Any:
    """Send one action; the action key is the IdempotencyKey, so a resend returns the same batch."""
    from amili_pipelines.amili.no.models import Correction, Payment

    if not a.amili_invoice_id:
        raise ApiRejection("no Amili invoice id recorded for this invoice")
    if a.action == ActionKind.PAYMENT:
        return await no.submit_payments(organization_id=org, idempotency_key=a.key, payments=[
            Payment(invoice_id=a.amili_invoice_id, amount=a.amount, currency=a.currency or "NOK")])
    return await no.submit_corrections(organization_id=org, idempotency_key=a.key, corrections=[
        Correction(invoice_id=a.amili_invoice_id, amount=a.amount, currency=a.currency or "NOK",
                   date=datetime.combine(a.action_date, datetime.min.time(), tzinfo=UTC),
                   description=f"credited in the creditor's books ({a.key[:12]})")])


def _count(state: ActionState, s: ActionSummary) -> None:
    if state is ActionState.SENT:
        s.sent += 1
    elif state is ActionState.REJECTED:
        s.rejected += 1
    elif state is ActionState.UNKNOWN_OUTCOME:
        s.unknown_outcome += 1
    else:
        s.retry_later += 1


async def _send_norway(warehouse: Warehouse, no: Any, creditors: CreditorsFile, s: ActionSummary,
                       keys: Collection[str] | None = None) -> None:
    store = warehouse.actions
    await confirm_action_batches(warehouse, no_client=no, creditors=creditors, s=s)
    # Payments and corrections: pending, in flight and unknown alike, because the IdempotencyKey
    # makes resending safe (same batch back). Withdraw / pause / resume look the case up first.
    pending = (ActionState.PENDING, ActionState.IN_FLIGHT, ActionState.UNKNOWN_OUTCOME)
    for a in store.in_states(pending, market="NO", keys=keys):
        org = creditors.creditor(a.creditor).organization_id
        if a.action in CASE_STATUS_ACTIONS:
            _count(await send_case_status_action(store, no, a, org), s)
            continue
        _start_sending(store, a)
        try:
            ref = await _send_norway_one(no, a, org)
        except _SEND_FAILURES as exc:
            _record_send_failure(store, a.key, exc, s)
            continue
        store.set_state(a.key, ActionState.WAITING_FOR_BATCH, detail=f"batch {ref.batch_id}", batch_id=ref.batch_id)
        s.waiting_for_batch += 1


async def send_pending_actions(
    warehouse: Warehouse, *, creditors: CreditorsFile, se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None, keys: Collection[str] | None = None,
) -> ActionSummary:
    """Drive every action (with ``keys``: just those) as far as it goes in this run (exactly once at Amili)."""
    started = time.perf_counter()
    s = ActionSummary()
    # Actions have no per-row claims: one run at a time sends them (parallel runs on PostgreSQL).
    with warehouse.exclusive("case-actions"):
        if se_client is not None:
            await _send_sweden(warehouse.actions, se_client, creditors, s, keys)
        if no_client is not None:
            await _send_norway(warehouse, no_client, creditors, s, keys)
    s.seconds = round(time.perf_counter() - started, 3)
    return s


async def report_back_to_amili(
    warehouse: Warehouse, *, creditors: CreditorsFile, se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None, as_of: date | None = None,
) -> ActionSummary:
    """Detect source changes, then send them: the use case behind the ``case_actions`` asset."""
    detected = detect_source_changes(warehouse, as_of=as_of)
    sent = await send_pending_actions(warehouse, creditors=creditors, se_client=se_client, no_client=no_client)
    sent.detected_payments = detected.detected_payments
    sent.detected_creditings = detected.detected_creditings
    sent.detected_cancellations = detected.detected_cancellations
    return sent
