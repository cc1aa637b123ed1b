"""A finished Norwegian batch that holds none of the invoices we sent in it (e.g. Amili's processing
of the file failed and it reports no items) proves Amili never took them: they are sent again. The
resend must go out under a new batch IdempotencyKey: under the old one Amili answers with the old,
finished, empty batch, and the invoices would go round that loop for ever, never registered.

The real client against the real emulator. The emulator fails every item of the first batch (so Amili
really holds none of them), and that batch is reported finished without items, as such a server would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from amili_pipelines.amili.no.models import Batch
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState
from amili_pipelines.registration.batches import record_finished_batches
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_unmatched_batch_items import _amili_invoices, _no_client
from tests.support.invoices import make_invoices

pytestmark = pytest.mark.integration
NO = Market.NO


class _FirstBatchEmpty:
    """The real client, but the first batch it reads is reported finished with no items."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.emptied: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def get_batch(self, *, organization_id: str, batch_id: str) -> Batch:
        batch = await self._client.get_batch(organization_id=organization_id, batch_id=batch_id)
        if self.emptied in (None, batch_id):
            self.emptied = batch_id
            return batch.model_copy(update={"status": "Failed", "succeeded": [], "failed": []})
        return batch


@pytest.mark.parametrize("invoices", [1, 3])
def test_invoices_a_finished_batch_lacks_are_sent_again_in_a_new_batch(tmp_path, fresh_emulator, creditors, invoices):
    emu = fresh_emulator
    prefix = f"ABSENT{invoices}"
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        sent = make_invoices(NO, invoices, prefix=prefix)
        enqueue_valid_invoices(wh, sent, creditors=creditors)
        emu.admin.set_faults(batch_item_failure_rate=1.0)

        async def passes() -> list[str]:
            async with _no_client(emu) as no:
                server = _FirstBatchEmpty(no)
                await register_pending(wh, creditors=creditors, no_client=no)
                first = {wh.outbox.record(NO, i.invoice_key).batch_id for i in sent}
                for _ in range(100):  # the first batch finishes (every item failed), reported empty: all absent
                    await record_finished_batches(wh, no_client=server, creditors=creditors)
                    if not wh.outbox.waiting_batches():
                        break
                    await asyncio.sleep(0.05)
                emu.admin.clear_faults()
                assert {wh.outbox.record(NO, i.invoice_key).state for i in sent} == {OutboxState.PENDING}
                await register_pending(wh, creditors=creditors, no_client=no)  # sent again
                second = {wh.outbox.record(NO, i.invoice_key).batch_id for i in sent}
                for _ in range(100):
                    await record_finished_batches(wh, no_client=server, creditors=creditors)
                    if not wh.outbox.waiting_batches():
                        break
                    await asyncio.sleep(0.05)
                return [*first, *second]

        first, second = asyncio.run(passes())
        assert first != second, "the resend went out as a new batch, not the old one again"
        for inv in sent:
            rec = wh.outbox.record(NO, inv.invoice_key)
            assert rec.state is OutboxState.REGISTERED, rec
            assert rec.case_id
        at_amili = [i for i in _amili_invoices(emu, creditors, prefix)]
        assert sorted(i.unique_source_invoice_id for i in at_amili) == sorted(i.invoice_key for i in sent), \
            "each invoice is at Amili once"
