"""An operator's withdraw, pause or resume of a registered invoice's case, with an audit entry each.

* **withdraw**: Sweden a creditor cancellation (``POST /creditor--cancellations``), Norway
  ``WithdrawCase``. Once per invoice: while one is on its way or done (a cancellation the source
  reported counts too) another sends nothing; after Amili refused one, the next is ``operator:withdraw:2``.
* **pause** / **resume**: Norway only (Sweden's API has neither). The n-th pause of an invoice has
  the key ``operator:pause:n``: a repeated command while the case is paused (or a pause is on its
  way) sends nothing; a pause after a resumption is a new one. Whether the case is paused is read
  from Amili just before deciding (someone at Amili may have paused or resumed it since our last
  action); when Amili cannot be read, our last action and the stored case status decide, and
  where they disagree the command is sent (a 409 is then settled by reading the case).

Every command goes through the case-actions outbox (intent written before the request leaves,
unclear outcomes settled by lookup), so a repeated or retried command is never sent twice: repeated
while the earlier one is still unclear, it drives that one (the case is read first) instead. The
invoices are checked first, all of them: one that cannot take the command (not registered, the
wrong market) stops it before anything is written or sent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from amili_pipelines.amili.errors import AmiliError
from amili_pipelines.domain.case_actions import (
    ActionKind,
    ActionState,
    CaseActionRecord,
    NewCaseAction,
)
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market, idempotency_key
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.operator import (
    NOTHING_TO_DO,
    REQUESTED,
    Actor,
    AuditEntry,
    OperatorAction,
    OperatorInputError,
    require_reason,
)
from amili_pipelines.domain.outbox import OutboxRecord, OutboxState
from amili_pipelines.reconciliation.actions import send_pending_actions
from amili_pipelines.warehouse import Warehouse

_KIND = {OperatorAction.WITHDRAW: ActionKind.CANCELLATION, OperatorAction.PAUSE: ActionKind.PAUSE,
         OperatorAction.RESUME: ActionKind.RESUME}
_ON_ITS_WAY = (ActionState.PENDING, ActionState.IN_FLIGHT, ActionState.UNKNOWN_OUTCOME, ActionState.WAITING_FOR_BATCH)


@dataclass
class CommandItem:
    invoice_key: str
    market: str
    case_id: str
    action_key: str | None = None  # None: nothing to send
    outcome: str = REQUESTED
    answer: str | None = None
    audit_id: str | None = None


@dataclass
class CommandResult:
    command: str
    items: list[CommandItem] = field(default_factory=list)

    @property
    def open_items(self) -> list[CommandItem]:
        """Not done at Amili: rejected, unclear, or not sent (Amili unreachable)."""
        return [i for i in self.items if i.outcome not in (ActionState.SENT, NOTHING_TO_DO)]


def _registered(warehouse: Warehouse, invoice_key: str, command: OperatorAction) -> OutboxRecord:
    records = warehouse.outbox.records(invoice_key)
    if not records:
        raise OperatorInputError(f"{invoice_key}: not in the outbox, so there is no case to {command.value}")
    rec = records[0]
    if rec.state is not OutboxState.REGISTERED or not rec.case_id:
        raise OperatorInputError(f"{invoice_key}: not registered (it is {rec.state.value}), so there is no case to "
                                 f"{command.value}")
    if command in (OperatorAction.PAUSE, OperatorAction.RESUME) and rec.market is not Market.NO:
        raise OperatorInputError(f"{invoice_key}: Amili Sweden's API has no {command.value}; only Norwegian cases "
                                 "can be paused and resumed")
    return rec


@dataclass(frozen=True)
class _Decision:
    purpose: str | None = None  # a new action to write and send
    again: str | None = None  # an earlier action of this command still on its way: drive it, send nothing new
    nothing: str = ""  # why nothing is sent


def _paused(last: CaseActionRecord | None, stored_status: str | None, amili_status: str | None) -> bool | None:
    """Is the case paused, by the newest knowledge? None: what we know disagrees (the command is sent)."""
    if amili_status:  # read from Amili just now: newer than our last action and the stored status
        return amili_status.upper() == "PAUSED"
    # Our last action and the status of the last case read: which is newer is not known.
    known = {v for v in (None if last is None else last.action == ActionKind.PAUSE,
                         None if not stored_status else stored_status.upper() == "PAUSED") if v is not None}
    return known.pop() if len(known) == 1 else (False if not known else None)


def _decide(command: OperatorAction, history: list[CaseActionRecord], case_status: str | None,
            case_closed: bool, amili_status: str | None = None) -> _Decision:
    live = [a for a in history if a.state != ActionState.REJECTED]
    kind = _KIND[command]
    mine = [a for a in live if a.action == kind]
    if mine and mine[-1].state in _ON_ITS_WAY and command is OperatorAction.WITHDRAW:
        return _Decision(again=mine[-1].key)
    if command is OperatorAction.WITHDRAW:
        if mine:
            return _Decision(nothing=f"already withdrawn: action {mine[-1].key[:12]} ({mine[-1].purpose}) was sent")
        if case_closed:
            return _Decision(nothing="the case is closed at Amili: nothing left to withdraw")
        return _Decision(purpose=f"operator:withdraw:{1 + sum(a.action == kind for a in history)}")
    if any(a.action == ActionKind.CANCELLATION for a in live):
        return _Decision(nothing=f"the case is withdrawn: nothing to {command.value}")
    if case_closed:
        return _Decision(nothing=f"the case is closed at Amili: nothing to {command.value}")
    toggles = [a for a in live if a.action in (ActionKind.PAUSE, ActionKind.RESUME)]
    last = toggles[-1] if toggles else None
    if last is not None and last.state in _ON_ITS_WAY:
        if last.action == kind:
            return _Decision(again=last.key)
        return _Decision(nothing=f"a {last.action} of this case is still on its way ({last.state})")
    if (amili_status or "").upper() in ("WITHDRAWN", "CLOSED"):
        return _Decision(nothing=f"the case is {amili_status.upper()} at Amili: nothing to {command.value}")
    paused = _paused(last, case_status, amili_status)
    if command is OperatorAction.PAUSE and paused:
        return _Decision(nothing="the case is already paused")
    if command is OperatorAction.RESUME and paused is False:
        return _Decision(nothing="the case is not paused")
    return _Decision(purpose=f"operator:{command.value}:{1 + sum(a.action == kind for a in history)}")


# What of Amili's answer a person needs (the rest is ids and timestamps, kept in the outbox).
_ANSWER_KEYS = ("status", "cancellation_status", "payment_status", "status_reason_locale", "detail", "errors", "id")


def _answer(rec: CaseActionRecord) -> str:
    parts = [rec.result_status or rec.state]
    if rec.last_error and rec.state != ActionState.SENT:
        parts.append(rec.last_error)
    try:
        doc = json.loads(rec.result_json) if rec.result_json else None
    except ValueError:
        doc = rec.result_json
    if isinstance(doc, dict):
        kept = {k: doc[k] for k in _ANSWER_KEYS if doc.get(k) not in (None, "", [], {})}
        if kept:
            parts.append(json.dumps(kept, default=str, ensure_ascii=False))
    elif doc:
        parts.append(str(doc))
    return mask_identity_numbers(" | ".join(parts))[:2000] or ""


def command_cases(
    warehouse: Warehouse, *, command: OperatorAction, invoice_keys: Sequence[str], actor: Actor, reason: str,
    creditors: CreditorsFile, clients: dict[Market, Any],
) -> CommandResult:
    """Withdraw, pause or resume the cases of these invoices (``clients``: an unopened client per market)."""
    why = require_reason(reason)
    if not invoice_keys:
        raise OperatorInputError(f"name at least one invoice key to {command.value}")
    records = [_registered(warehouse, key, command) for key in dict.fromkeys(invoice_keys)]
    return asyncio.run(_command(warehouse, command, records, invoice_keys, actor, why, creditors, clients))


class _Clients:
    """The markets' clients, each opened on first use and closed when the command ends."""

    def __init__(self, unopened: dict[Market, Any], stack: AsyncExitStack) -> None:
        self._unopened, self._stack = unopened, stack
        self._open: dict[Market, Any] = {}

    async def get(self, market: Market) -> Any:
        if market not in self._open:
            self._open[market] = await self._stack.enter_async_context(self._unopened[market])
        return self._open[market]


async def _status_at_amili(no: Any, rec: OutboxRecord, creditors: CreditorsFile) -> str | None:
    """The case's status as Amili says it now; None when it cannot be read now."""
    try:
        case = await no.get_case(organization_id=creditors.creditor(rec.creditor).organization_id,
                                 case_id=rec.case_id)
    except AmiliError:
        return None
    return (case.status or "").upper() or None


async def _command(warehouse: Warehouse, command: OperatorAction, records: list[OutboxRecord],
                   invoice_keys: Sequence[str], actor: Actor, why: str, creditors: CreditorsFile,
                   unopened: dict[Market, Any]) -> CommandResult:
    async with AsyncExitStack() as stack:
        clients = _Clients(unopened, stack)
        at_amili: dict[str, str | None] = {}
        if command in (OperatorAction.PAUSE, OperatorAction.RESUME):  # read before deciding: newest knowledge
            no = await clients.get(Market.NO)  # pause and resume are Norway's only
            found = await asyncio.gather(*(_status_at_amili(no, rec, creditors) for rec in records))
            at_amili = {rec.case_id: status for rec, status in zip(records, found, strict=True)}
        result = _decide_all(warehouse, command, records, invoice_keys, actor, why, at_amili)
        to_send = [i for i in result.items if i.action_key is not None]
        if to_send:
            # New actions, and earlier ones of the same command still unclear (settled by lookup first).
            await _send(warehouse, {i.action_key for i in to_send}, {Market(i.market) for i in to_send},
                        creditors, clients)
    for item in result.items:
        if item.action_key is None:
            continue
        rec = next(a for a in warehouse.actions.for_invoice(item.invoice_key) if a.key == item.action_key)
        item.outcome, item.answer = rec.state, _answer(rec)
        warehouse.audit.record_outcome(item.audit_id, outcome=item.outcome, answer=item.answer)
    return result


def _decide_all(warehouse: Warehouse, command: OperatorAction, records: list[OutboxRecord],
                invoice_keys: Sequence[str], actor: Actor, why: str, at_amili: dict[str, str | None]) -> CommandResult:
    """Decide for every invoice and write the new actions and the audit requests (one transaction)."""
    result = CommandResult(command=command.value)
    now = utcnow()
    new: list[NewCaseAction] = []
    with warehouse.transaction():
        for rec in records:
            case = warehouse.cases.case(rec.market.value, rec.case_id)
            decision = _decide(command, warehouse.actions.for_invoice(rec.invoice_key),
                               case.status if case else None, bool(case and case.is_closed), at_amili.get(rec.case_id))
            item = CommandItem(invoice_key=rec.invoice_key, market=rec.market.value, case_id=rec.case_id,
                               audit_id=str(uuid.uuid4()), action_key=decision.again)
            if decision.purpose is not None:
                item.action_key = idempotency_key(rec.creditor, rec.invoice_number, rec.market,
                                                  purpose=decision.purpose)
                new.append(NewCaseAction(
                    key=item.action_key, market=rec.market.value, invoice_key=rec.invoice_key, creditor=rec.creditor,
                    invoice_number=rec.invoice_number, case_id=rec.case_id, amili_invoice_id=rec.amili_invoice_id,
                    action=_KIND[command].value, purpose=decision.purpose, amount=None, currency=rec.currency,
                    action_date=now.date()))
            elif item.action_key is None:
                item.outcome, item.answer = NOTHING_TO_DO, decision.nothing
            warehouse.audit.record_request(AuditEntry(
                audit_id=item.audit_id, requested_at=now, actor=actor.name, via=actor.via, run_id=actor.run_id,
                action=command.value, market=item.market, invoice_key=item.invoice_key, case_id=item.case_id,
                reason=why, request=f"{command.value} {', '.join(invoice_keys)}"[:1000], subject_key=item.action_key,
                outcome=item.outcome, answer=item.answer,
                finished_at=now if item.outcome == NOTHING_TO_DO else None))
            result.items.append(item)
        warehouse.actions.add(new, detail=f"operator {command.value} by {actor.name}: {why}"[:500])
    return result


async def _send(warehouse: Warehouse, keys: set[str], markets: set[Market], creditors: CreditorsFile,
                clients: _Clients) -> None:
    for market in sorted(markets):
        client = await clients.get(market)
        kwargs = {"se_client": client} if market is Market.SE else {"no_client": client}
        await send_pending_actions(warehouse, creditors=creditors, keys=keys, **kwargs)
