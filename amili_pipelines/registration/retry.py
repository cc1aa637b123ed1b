"""An operator's retry: send rejected registrations again; settle unclear ones by lookup first.

A rejected invoice (Amili said no, e.g. its creditor was inactive) goes back to ``pending`` as a new
generation and is sent once more through the engine, which writes the intent before the request
leaves. An invoice whose outcome is unclear (``unknown_outcome``, ``in_flight`` after a crash) is
*not* queued: the engine looks it up at Amili first and sends it only if Amili proves not to have
it, exactly as the next run would. A Norwegian invoice that waits for a batch is retried only when
named by its key: its batch is checked at Amili first and the invoice is sent again only if the
batch finished without it (see :mod:`amili_pipelines.registration.retry_batches`). Only the selected
invoices take part (nothing else pending is sent along). Each invoice gets an audit entry before
anything is sent, completed with what happened and Amili's answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.operator import (
    REQUESTED,
    RETRY_CHECK_BATCH,
    RETRY_LOOK_UP,
    RETRY_RESEND,
    Actor,
    AuditEntry,
    OperatorAction,
    OperatorInputError,
    RetrySelection,
    require_reason,
)
from amili_pipelines.domain.outbox import OutboxRecord, OutboxState
from amili_pipelines.registration.batches import record_batch_results
from amili_pipelines.registration.engine import Progress, register_pending
from amili_pipelines.registration.retry_batches import check_batch_plan, release_checked
from amili_pipelines.registration.summary import RegistrationSummary
from amili_pipelines.warehouse import Warehouse

SEND_AGAIN = "send again"
LOOK_UP_FIRST = "look up at Amili first"


@dataclass
class RetryItem:
    market: str
    invoice_key: str
    state_before: str
    attempts: int
    answer_before: str | None  # Amili's earlier answer (masked)
    plan: str  # SEND_AGAIN | LOOK_UP_FIRST | check_batch_plan(batch_id)
    batch_id: str | None = None  # the batch a waiting invoice is checked against (None: not waiting)
    state_after: str | None = None
    answer_after: str | None = None
    audit_id: str | None = None


@dataclass
class RetryResult:
    selection: str
    items: list[RetryItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (invoice key asked for, why not retried)
    dry_run: bool = True
    summary: RegistrationSummary | None = None

    @property
    def open_items(self) -> list[RetryItem]:
        """What a person still has to look at: anything not registered after the retry."""
        return [i for i in self.items if i.state_after != OutboxState.REGISTERED]


def _issue(issue: dict) -> str:
    code = f"[{issue['code']}] " if issue.get("code") else ""
    field = f"{issue['field']}: " if issue.get("field") else ""
    return f"{code}{field}{issue.get('message') or ''}"


def _answer(rec: OutboxRecord) -> str | None:
    """Amili's answer as recorded on the row, for people (identity numbers masked)."""
    if rec.state is OutboxState.REGISTERED:
        ocr = f", OCR {rec.ocr_number}" if rec.ocr_number else ""
        return f"registered: case {rec.case_id}{ocr}"
    if rec.state is OutboxState.WAITING_FOR_BATCH:
        return f"in batch {rec.batch_id}: Amili answers when the batch finishes (the batch sensor records it)"
    if rec.state is OutboxState.REJECTED and isinstance(rec.rejection, list) and rec.rejection:
        issues = [_issue(i) if isinstance(i, dict) else str(i) for i in rec.rejection]
        return mask_identity_numbers("rejected: " + "; ".join(issues))[:2000]
    return mask_identity_numbers(rec.last_error) if rec.last_error else None


def plan_retry(warehouse: Warehouse, selection: RetrySelection, *, creditors: CreditorsFile) -> RetryResult:
    """What a retry with this selection would do (read-only: the dry run shows exactly this)."""
    if not selection.narrowed and not selection.everything:
        raise OperatorInputError("say which invoices to retry (invoice keys, --creditor, --message, --from/--to), "
                                 "or --all for every rejected or unclear invoice")
    if selection.creditor and selection.creditor not in {c.key for c in creditors.creditors}:
        raise OperatorInputError(f"unknown creditor {selection.creditor!r} (see the creditors file)")
    result = RetryResult(selection=selection.describe())
    for rec in warehouse.outbox.select((*RETRY_RESEND, *RETRY_LOOK_UP), selection):
        result.items.append(RetryItem(
            market=rec.market.value, invoice_key=rec.invoice_key, state_before=rec.state.value, attempts=rec.attempts,
            answer_before=_answer(rec), plan=SEND_AGAIN if rec.state in RETRY_RESEND else LOOK_UP_FIRST))
    if selection.invoice_keys:
        # Only a person naming the invoice has checked its batch at Amili: never by creditor, answer or --all.
        for rec in warehouse.outbox.select(RETRY_CHECK_BATCH, selection):
            if rec.market is Market.NO and rec.batch_id:
                result.items.append(RetryItem(
                    market=rec.market.value, invoice_key=rec.invoice_key, state_before=rec.state.value,
                    attempts=rec.attempts, answer_before=_answer(rec), plan=check_batch_plan(rec.batch_id),
                    batch_id=rec.batch_id))
        result.items.sort(key=lambda i: (i.market, i.invoice_key))
    found = {i.invoice_key for i in result.items}
    for key in selection.invoice_keys:
        if key in found:
            continue
        records = warehouse.outbox.records(key)
        if not records:
            result.skipped.append((key, "not in the outbox: never valid, or not extracted yet (see `show`)"))
        else:
            rec = records[0]
            why = {OutboxState.REGISTERED: f"already registered (case {rec.case_id})",
                   OutboxState.PENDING: "already pending: the next run sends it",
                   OutboxState.WAITING_FOR_BATCH: f"waiting for batch {rec.batch_id}"}.get(rec.state, rec.state.value)
            result.skipped.append((key, f"{why}; not retried" if rec.state in (*RETRY_RESEND, *RETRY_LOOK_UP) else why))
    return result


def retry_registrations(
    warehouse: Warehouse, *, selection: RetrySelection, actor: Actor, reason: str, creditors: CreditorsFile,
    clients: Mapping[Market, Any], wait_for_batches_s: float = 0.0, progress: Progress | None = None,
) -> RetryResult:
    """Retry what ``selection`` picks. ``clients`` holds an unopened client per market (opened here
    only for the markets involved). Norway's batches finish later: ``wait_for_batches_s`` waits
    (bounded) for their answer, as a headless run does."""
    result = plan_retry(warehouse, selection, creditors=creditors)
    result.dry_run = False
    if not result.items:
        return result
    why = require_reason(reason)
    now = utcnow()
    request = f"retry {selection.describe()}"
    detail = f"operator retry by {actor.name}: {why}"[:500]  # the outbox event of each invoice sent again
    with warehouse.transaction():
        for item in result.items:
            item.audit_id = str(uuid.uuid4())
            warehouse.audit.record_request(AuditEntry(
                audit_id=item.audit_id, requested_at=now, actor=actor.name, via=actor.via, run_id=actor.run_id,
                action=OperatorAction.RETRY.value, market=item.market, invoice_key=item.invoice_key, case_id=None,
                reason=why, request=request, subject_key=f"registration {item.market} {item.invoice_key}",
                outcome=REQUESTED, answer=None))
        warehouse.outbox.requeue_rejected(
            [(Market(i.market), i.invoice_key) for i in result.items if i.plan == SEND_AGAIN],
            detail=detail, run_id=actor.run_id)
    result.summary = asyncio.run(_send(warehouse, result, creditors=creditors, clients=clients, run_id=actor.run_id,
                                       wait_for_batches_s=wait_for_batches_s, progress=progress,
                                       detail=detail))
    for item in result.items:
        rec = warehouse.outbox.record(Market(item.market), item.invoice_key)
        assert rec is not None
        # An invoice held back in its old batch says why (its batch has not finished, or could not be read).
        held = item.answer_after if rec.state is OutboxState.WAITING_FOR_BATCH and rec.batch_id == item.batch_id else None
        item.state_after, item.answer_after = rec.state.value, held or _answer(rec)
        warehouse.audit.record_outcome(item.audit_id, outcome=rec.state.value, answer=item.answer_after,
                                       case_id=rec.case_id)
    return result


async def _send(warehouse: Warehouse, result: RetryResult, *, creditors: CreditorsFile, clients: Mapping[Market, Any],
                run_id: str | None, wait_for_batches_s: float, progress: Progress | None,
                detail: str) -> RegistrationSummary:
    total = RegistrationSummary()
    for market in sorted({Market(i.market) for i in result.items}):
        items = [i for i in result.items if i.market == market.value]
        keys = {i.invoice_key for i in items if i.batch_id is None}
        async with clients[market] as client:
            waiting = [i for i in items if i.batch_id is not None]
            if waiting:
                # Sent only what its batch, fetched again now, proves finished without it; the rest is
                # neither sent nor waited for (an unfinished old batch is the batch sensor's).
                keys |= await release_checked(warehouse, waiting, creditors=creditors, no_client=client,
                                              detail=detail, run_id=run_id, progress=progress)
            if not keys:
                continue
            kwargs = {"se_client": client} if market is Market.SE else {"no_client": client}
            total.add(await register_pending(warehouse, creditors=creditors, run_id=run_id, progress=progress,
                                             only=keys, **kwargs))
            if market is Market.NO and wait_for_batches_s > 0:
                await _wait_for_batches(warehouse, keys, creditors=creditors, no_client=client,
                                        timeout_s=wait_for_batches_s, run_id=run_id, progress=progress)
    return total


async def _wait_for_batches(warehouse: Warehouse, keys: set[str], *, creditors: CreditorsFile, no_client: Any,
                            timeout_s: float, run_id: str | None, progress: Progress | None) -> None:
    """Record the batches these invoices went in as they finish, for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        waiting = {(rec.creditor, rec.batch_id) for key in sorted(keys)
                   if (rec := warehouse.outbox.record(Market.NO, key)) is not None
                   and rec.state is OutboxState.WAITING_FOR_BATCH and rec.batch_id}
        if not waiting or time.monotonic() > deadline:
            return
        for creditor, batch_id in sorted(waiting):
            await record_batch_results(warehouse, no_client=no_client, batch_id=batch_id, run_id=run_id,
                                       organization_id=creditors.creditor(creditor).organization_id or "")
        if progress:
            progress(f"NO: waiting for {len(waiting)} batch(es) at Amili")
        await asyncio.sleep(0.25)
