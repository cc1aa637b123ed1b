"""An operator's retry of a Norwegian invoice that waits for a batch which, finished, left it unplaced.

A finished batch whose items we cannot match, holding an invoice that Amili's lookup by our key does
not find either, leaves that invoice waiting for ever: absence is not proven, so the pipeline never
sends it again, and every run asks for a person. The person checks the batch at Amili and says so by
naming the invoice in ``retry`` with a reason. Before anything is sent, the batch is fetched again
through the batch sensor's own :func:`record_batch_results` (which records what it says now and looks
unmatched rows up by our key):

* not finished (or not readable): nothing is sent, the invoice keeps waiting;
* finished, and the invoice now matched, found or refused: that is recorded, nothing is sent;
* finished, and the invoice still unplaced: the person's retry is the proof the batch lacks it. It
  goes back to pending as a new generation, in one statement conditional on it still waiting for that
  batch (whoever got there first wins; the other sends nothing), and is sent with the other retried
  invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from amili_pipelines.amili.errors import AmiliError, AuthenticationFailed
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.outbox import OutboxState
from amili_pipelines.registration.batches import BatchOutcome, record_batch_results
from amili_pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from amili_pipelines.registration.engine import Progress
    from amili_pipelines.registration.retry import RetryItem


def check_batch_plan(batch_id: str | None) -> str:
    """The dry run's plan for an invoice waiting for a batch."""
    return f"check batch {batch_id} at Amili first; send again only if it finished without this invoice"


async def release_checked(
    warehouse: Warehouse, items: Sequence[RetryItem], *, creditors: CreditorsFile, no_client: Any, detail: str,
    run_id: str | None, progress: Progress | None = None,
) -> set[str]:
    """Check each item's batch at Amili; return the keys to send now (back to pending). An item held
    back gets ``answer_after`` saying why (the table and the audit show it)."""
    release: set[str] = set()
    fetched: dict[str, BatchOutcome | str] = {}  # batch id -> what it says now, or why it could not be read
    for item in items:
        rec = warehouse.outbox.record(Market.NO, item.invoice_key)
        if rec is None or rec.state is not OutboxState.WAITING_FOR_BATCH or rec.batch_id != item.batch_id:
            continue  # settled or sent by someone else since the plan: its state now is shown, nothing sent
        checked = fetched.get(item.batch_id)
        if checked is None:  # each batch once, however many of its invoices were named
            organization_id = creditors.creditor(rec.creditor).organization_id or ""
            try:
                checked = await record_batch_results(warehouse, no_client=no_client, organization_id=organization_id,
                                                     batch_id=item.batch_id, run_id=run_id)
            except AuthenticationFailed:
                raise
            except AmiliError as exc:
                checked = mask_identity_numbers(f"{type(exc).__name__}: {exc}".splitlines()[0])[:200]
            fetched[item.batch_id] = checked
        if isinstance(checked, str):
            item.answer_after = (f"batch {item.batch_id} could not be read at Amili ({checked}): nothing sent; "
                                 "it keeps waiting (retry again later)")
            continue
        if not checked.finished:
            item.answer_after = (f"batch {item.batch_id} has not finished at Amili (status {checked.status or 'none'}): "
                                 "nothing sent; it keeps waiting (retry once the batch has finished)")
            continue
        rec = warehouse.outbox.record(Market.NO, item.invoice_key)
        assert rec is not None
        if rec.state is OutboxState.PENDING and rec.batch_id == item.batch_id:
            release.add(item.invoice_key)  # the batch itself proved it does not hold the invoice
        elif rec.state is OutboxState.WAITING_FOR_BATCH and rec.batch_id == item.batch_id:
            # Still unplaced: the person's word is the proof. Conditional: a row that left the batch
            # between the read and here (another run settled or released it) is not touched.
            if warehouse.outbox.requeue_waiting(Market.NO, item.invoice_key, batch_id=item.batch_id, detail=detail,
                                                run_id=run_id):
                release.add(item.invoice_key)
                if progress:
                    progress(f"NO: {item.invoice_key}: batch {item.batch_id} finished without it; sending it again")
        # Otherwise the batch settled it (registered or rejected): nothing sent; the table shows it.
    return release
