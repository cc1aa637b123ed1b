"""Norway: turn finished invoice batches into per-invoice outcomes (case ids, or Amili's rejections).

The batch-status sensor starts this for the batches it saw finish; besides those, every batch the
outbox still waits for is checked too, so a failed run is healed by the next one. Headless runs
wait here (bounded) for the batches they just submitted, as the sensor would record them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from amili_pipelines.amili.errors import AmiliError, AuthenticationFailed
from amili_pipelines.amili.no.models import is_terminal_status
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.outbox import BatchItemRow, OutboxState, Outcome
from amili_pipelines.registration.norway import invoices_by_own_key
from amili_pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient

log = logging.getLogger(__name__)

def _status(value: Any) -> str:
    """A batch status as text; ``None`` (no status yet) is the empty string."""
    return "" if value is None else str(value)


def _failure_text(exc: BaseException) -> str:
    """A short, masked description of why a batch could not be recorded (for logs and run metadata)."""
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return mask_identity_numbers(text)[:300]


@dataclass
class BatchOutcome:
    batch_id: str
    status: str
    registered: int = 0
    rejected: int = 0
    unmatched: int = 0  # items Amili reported that we cannot place (should be 0)
    absent: int = 0  # our invoices a finished batch does not hold: sent again
    unplaced: int = 0  # our invoices a finished batch may hold (an item we cannot match), not found by lookup

    @property
    def finished(self) -> bool:
        return is_terminal_status(self.status)


@dataclass
class BatchResultsSummary:
    batches_checked: int = 0
    batches_finished: int = 0
    invoices_registered: int = 0
    invoices_rejected: int = 0
    unmatched_items: int = 0
    unplaced_in_batches: int = 0  # of finished batches, neither matched nor found at Amili: a person looks
    still_running: int = 0
    batches_failed: int = 0  # batches that could not be fetched or read; tried again on the next pass
    statuses: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # batch id -> why (masked, short)
    seconds: float = 0.0

    def add(self, outcome: BatchOutcome) -> None:
        self.batches_checked += 1
        self.statuses[outcome.batch_id] = outcome.status
        if outcome.finished:
            self.batches_finished += 1
        else:
            self.still_running += 1
        self.invoices_registered += outcome.registered
        self.invoices_rejected += outcome.rejected
        self.unmatched_items += outcome.unmatched
        self.unplaced_in_batches += outcome.unplaced

    def add_failure(self, batch_id: str, error: str) -> None:
        """A batch whose fetch or reading failed: nothing was recorded for it."""
        self.batches_checked += 1
        self.statuses.pop(batch_id, None)
        self.failed[batch_id] = error
        self.batches_failed = len(self.failed)

    def merge(self, later: BatchResultsSummary) -> None:
        """Fold in a later pass over the same batches (the newest status of each batch wins)."""
        self.batches_finished += later.batches_finished
        self.invoices_registered += later.invoices_registered
        self.invoices_rejected += later.invoices_rejected
        self.unmatched_items += later.unmatched_items
        self.unplaced_in_batches = later.unplaced_in_batches  # the same rows are looked up again on each pass
        for batch_id in later.statuses:
            self.failed.pop(batch_id, None)
        for batch_id in later.failed:
            self.statuses.pop(batch_id, None)
        self.statuses.update(later.statuses)
        self.failed.update(later.failed)
        self.batches_failed = len(self.failed)
        self.still_running = later.still_running
        self.batches_checked = len(self.statuses) + len(self.failed)
        self.seconds += later.seconds

    def metadata(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("statuses", "failed")}
        out["batches"] = ", ".join(f"{k[:8]}…={v}" for k, v in sorted(self.statuses.items()))[:2000]
        out["failed_batches"] = "; ".join(f"{k[:8]}…: {v}" for k, v in sorted(self.failed.items()))[:2000]
        return out


def _rejection(item: Any) -> tuple[list[dict], str]:
    errors = [e.model_dump(mode="json") if hasattr(e, "model_dump") else e for e in (item.errors or [])]
    message = "; ".join(f"{e.get('field') or ''} {e.get('message') or ''}".strip() for e in errors)
    return errors, (message or "failed in batch")[:500]


def batch_outcomes(batch: Any, rows: Sequence[BatchItemRow]) -> tuple[list[Outcome], BatchOutcome]:
    """What a finished batch means for each of its outbox rows still waiting for it."""
    result = BatchOutcome(batch_id=batch.batch_id, status=_status(batch.status))
    by_number = {r.invoice_number: r.invoice_key for r in rows}
    by_key = {r.invoice_key: r.invoice_key for r in rows}
    open_keys = {r.invoice_key for r in rows if r.state is OutboxState.WAITING_FOR_BATCH}
    outcomes: list[Outcome] = []
    for item in batch.succeeded or []:
        key = _succeeded_key(item, by_number, by_key)
        if key is None:
            result.unmatched += 1
            continue
        if key in open_keys:
            outcomes.append(Outcome(Market.NO, key, OutboxState.REGISTERED, case_id=item.case_id,
                                    amili_invoice_id=item.invoice_id, batch_id=batch.batch_id,
                                    detail=f"batch {batch.batch_id} succeeded"))
            result.registered += 1
    for item in batch.failed or []:
        key = by_key.get(getattr(item, "unique_source_invoice_id", None) or "") or by_number.get(item.invoice_number)
        if key is None and getattr(item, "index", None) is not None and 0 <= item.index < len(rows):
            key = rows[item.index].invoice_key  # submission order is the outbox order (sorted by key)
        if key is None:
            result.unmatched += 1
            continue
        if key in open_keys:
            errors, message = _rejection(item)
            outcomes.append(Outcome(Market.NO, key, OutboxState.REJECTED, rejection=errors, error=message,
                                    batch_id=batch.batch_id, detail=f"batch {batch.batch_id} item failed"))
            result.rejected += 1
    placed = {o.invoice_key for o in outcomes}
    if result.unmatched:
        # An item we could not match may be one of these rows (another server may write the number
        # differently): absence is not proven, so nothing is sent again; the rows keep waiting.
        return outcomes, result
    for key in sorted(open_keys - placed - _mentioned(batch, by_number, by_key, rows)):
        # A finished batch that does not hold the invoice proves Amili never took it: send it again.
        outcomes.append(Outcome(Market.NO, key, OutboxState.PENDING, batch_id=batch.batch_id,
                                detail=f"not in finished batch {batch.batch_id}; will be sent again"))
        result.absent += 1
    return outcomes, result


def _succeeded_key(item: Any, by_number: dict[str, str], by_key: dict[str, str]) -> str | None:
    """The outbox row of a succeeded item: by our own key (uniqueSourceInvoiceId) where Amili echoes
    it, else by invoice number."""
    return by_key.get(getattr(item, "unique_source_invoice_id", None) or "") or by_number.get(item.invoice_number)


def _mentioned(batch: Any, by_number: dict[str, str], by_key: dict[str, str], rows: Sequence[BatchItemRow]) -> set[str]:
    """Invoice keys the batch reports at all (succeeded or failed), placed or not."""
    keys = {_succeeded_key(i, by_number, by_key) for i in batch.succeeded or []}
    for item in batch.failed or []:
        keys.add(by_key.get(getattr(item, "unique_source_invoice_id", None) or "") or by_number.get(item.invoice_number))
        index = getattr(item, "index", None)
        if index is not None and 0 <= index < len(rows):
            keys.add(rows[index].invoice_key)
    return {k for k in keys if k}


async def record_batch_results(
    warehouse: Warehouse, *, no_client: AmiliNoClient, organization_id: str, batch_id: str, run_id: str | None = None,
) -> BatchOutcome:
    """Fetch one batch; when it has finished, record case ids and rejections for its invoices.

    Safe to call again for the same batch: rows already registered or rejected stay as they are.
    """
    batch = await no_client.get_batch(organization_id=organization_id, batch_id=batch_id)
    if not batch.is_terminal:
        return BatchOutcome(batch_id=batch_id, status=_status(batch.status))
    rows = warehouse.outbox.batch_rows(batch_id)
    outcomes, result = batch_outcomes(batch, rows)
    if result.unmatched:
        outcomes += await _look_up_unplaced(no_client, organization_id, batch_id, rows, outcomes, result)
    warehouse.outbox.record_outcomes(outcomes, run_id=run_id)
    return result


async def _look_up_unplaced(
    no_client: AmiliNoClient, organization_id: str, batch_id: str, rows: Sequence[BatchItemRow],
    placed: Sequence[Outcome], result: BatchOutcome,
) -> list[Outcome]:
    """Settle the rows a finished batch's unmatched items may stand for, by our own key at Amili.

    Found: registered. Not found: still waiting (the unmatched item may be its refusal), counted in
    ``result.unplaced`` so the run says a person should look at the batch."""
    done = {o.invoice_key for o in placed}
    todo = [r for r in rows if r.state is OutboxState.WAITING_FOR_BATCH and r.invoice_key not in done]

    async def one(row: BatchItemRow) -> Outcome | None:
        try:
            found = await invoices_by_own_key(no_client, organization_id=organization_id,
                                              invoice_key=row.invoice_key, invoice_number=row.invoice_number)
        except AuthenticationFailed:
            raise
        except AmiliError as exc:
            log.warning("NO batch %s: lookup of an unmatched invoice failed (tried again next pass): %s",
                        batch_id, _failure_text(exc))
            return None
        if not found:
            return None
        return Outcome(Market.NO, row.invoice_key, OutboxState.REGISTERED, case_id=found[0].case_id,
                       amili_invoice_id=found[0].id, batch_id=batch_id,
                       detail=f"batch {batch_id} finished; its item did not match, found at Amili by our key",
                       seen_cases=tuple((f.case_id, None) for f in found if f.case_id))

    settled = [o for o in await asyncio.gather(*(one(r) for r in todo)) if o is not None]
    result.registered += len(settled)
    result.unplaced = len(todo) - len(settled)
    if result.unplaced:
        # Named, so a person who checked the batch at Amili can retry the ones it does not hold.
        found = {o.invoice_key for o in settled}
        unplaced = [r.invoice_key for r in todo if r.invoice_key not in found]
        log.warning("NO batch %s: %d item(s) match none of our invoices and %d invoice(s) of the batch were not "
                    "found at Amili by our key: they keep waiting (`amili-pipelines retry KEY --reason ...` once "
                    "checked at Amili): %s", batch_id, result.unmatched, result.unplaced,
                    mask_identity_numbers(", ".join(unplaced[:20]) + (" …" if len(unplaced) > 20 else "")))
    return settled


async def record_finished_batches(
    warehouse: Warehouse, *, no_client: AmiliNoClient, creditors: CreditorsFile,
    batches: Sequence[tuple[str, str]] = (), run_id: str | None = None,
) -> BatchResultsSummary:
    """Record results of the given (organization id, batch id)s that are invoice batches of ours,
    and of every batch still awaited.

    Each batch stands alone: one whose fetch or reading fails is logged, listed in the summary's
    ``failed`` and tried again on the next pass, and the others are still recorded. Refused
    credentials (:class:`AuthenticationFailed`) fail every batch alike, so they stop the pass."""
    started = time.perf_counter()
    summary = BatchResultsSummary()
    org_of = {c.key: c.organization_id for c in creditors.creditors if c.organization_id}
    todo = {w.batch_id: org_of[w.creditor] for w in warehouse.outbox.waiting_batches() if w.creditor in org_of}
    if batches:
        known = warehouse.outbox.known_batch_ids()
        for org, batch_id in batches:
            if batch_id in known:
                todo.setdefault(batch_id, org)
    for batch_id, org in sorted(todo.items()):
        try:
            outcome = await record_batch_results(warehouse, no_client=no_client, organization_id=org,
                                                 batch_id=batch_id, run_id=run_id)
        except AuthenticationFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - one unreadable batch must not hold up the others
            error = _failure_text(exc)
            log.warning("NO batch %s could not be recorded (tried again next time): %s", batch_id, error)
            summary.add_failure(batch_id, error)
            continue
        summary.add(outcome)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


async def settle_waiting_batches(
    warehouse: Warehouse, *, creditors: CreditorsFile, no_client: AmiliNoClient,
    timeout_s: float = 60.0, poll_s: float = 0.5, run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchResultsSummary:
    """Record every waiting batch, polling until none is left or ``timeout_s`` passes (headless runs;
    in Dagster the batch-status sensor does this without waiting)."""
    deadline = time.monotonic() + timeout_s
    total = BatchResultsSummary()
    while True:
        summary = await record_finished_batches(warehouse, no_client=no_client, creditors=creditors, run_id=run_id)
        total.merge(summary)
        if not warehouse.outbox.waiting_batches() or time.monotonic() > deadline:
            return total
        if not summary.still_running:
            # What is left could not be read, or could not be placed: waiting will not change that.
            return total
        if progress:
            progress(f"NO: {summary.still_running} batch(es) still running at Amili; waiting")
        await asyncio.sleep(poll_s)
