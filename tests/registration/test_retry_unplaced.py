"""An operator's retry of Norwegian invoices a finished batch left unplaced (its items matched none of
ours and a lookup by our key found nothing): they wait for ever until a person, having checked the
batch at Amili, names one with a reason. Then the batch is fetched again first, and the invoice is
sent again only if the batch has finished and still does not place it.

The real client against the real emulator; only the first batch's items are rewritten as another
server would write them, and lookups by our key find nothing there (as for an invoice Amili lacks).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from amili_pipelines.amili.no.models import Batch, InvoiceRecord
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import RetrySelection
from amili_pipelines.domain.outbox import OutboxState
from amili_pipelines.registration.batches import record_finished_batches
from amili_pipelines.registration.retry import plan_retry, retry_registrations
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_unmatched_batch_items import _amili_invoices, _no_client, _send, finds_nothing
from tests.support.operator import OPS

pytestmark = pytest.mark.integration
NO = Market.NO
BATCH_POST = ("POST", "/collection/v1/orgs/{org}/invoices")
REASON = "checked batch at Amili support: it does not hold this invoice"


class _UnplacingServer:
    """The real client (sending included), but the batches in ``unmatchable`` come back with items
    that match none of ours, and a lookup by our key finds nothing for them: their invoices are
    unplaced. ``running``: those batches are reported as not finished yet. Later batches pass as they are."""

    def __init__(self, client: Any, *, unmatchable: set[str], running: bool = False, finds: bool = False) -> None:
        self._client = client
        self._unmatchable = unmatchable
        self._running = running
        self._finds = finds
        self.batch_reads: list[str] = []

    async def __aenter__(self) -> _UnplacingServer:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.__aexit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)  # submitting batches, listing them by key: the real client

    async def get_batch(self, *, organization_id: str, batch_id: str) -> Batch:
        self.batch_reads.append(batch_id)
        batch = await self._client.get_batch(organization_id=organization_id, batch_id=batch_id)
        if batch_id not in self._unmatchable:
            return batch
        if self._running:
            return batch.model_copy(update={"status": "PROCESSING", "finished_at": None, "succeeded": [], "failed": []})
        stranger = {"unique_source_invoice_id": None}
        return batch.model_copy(update={
            "succeeded": [i.model_copy(update={**stranger, "invoice_number": f"X{i.invoice_number}"})
                          for i in batch.succeeded or []],
            "failed": [i.model_copy(update={**stranger, "invoice_number": f"X{i.invoice_number}", "index": None})
                       for i in batch.failed or []]})

    def iter_invoices(self, **kwargs: Any) -> AsyncIterator[InvoiceRecord]:
        return self._client.iter_invoices(**kwargs) if self._finds else finds_nothing()


def _unplace(wh, emu, creditors, prefix: str) -> tuple[list[str], str]:
    """Send 4 invoices in one batch that Amili (the emulator) refuses item by item, and record the
    batch as the other server writes it: every invoice waits, unplaced. Returns (keys, batch id)."""
    emu.admin.set_faults(batch_item_failure_rate=1.0)
    keys = _send(wh, emu, creditors, prefix)
    emu.admin.clear_faults()
    [waiting] = wh.outbox.waiting_batches()

    async def record():
        async with _UnplacingServer(_no_client(emu), unmatchable={waiting.batch_id}) as server:
            return await record_finished_batches(wh, no_client=server, creditors=creditors)
    summary = asyncio.run(record())
    assert summary.unplaced_in_batches == 4
    assert {wh.outbox.record(NO, k).state for k in keys} == {OutboxState.WAITING_FOR_BATCH}
    return keys, waiting.batch_id


def _requests(emu) -> int:
    return sum(emu.admin.stats()["requests"].values())


def test_a_named_unplaced_invoice_is_checked_then_sent_once_more_and_the_others_keep_waiting(
        tmp_path, fresh_emulator, creditors):
    emu = fresh_emulator
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        keys, batch_id = _unplace(wh, emu, creditors, "RTUNPL")
        target, others = keys[0], keys[1:]
        selection = RetrySelection(invoice_keys=(target,))

        # The dry run: read-only, no request to Amili, the plan names the batch.
        before = _requests(emu)
        [planned] = plan_retry(wh, selection, creditors=creditors).items
        assert planned.invoice_key == target and planned.state_before == "waiting_for_batch"
        assert planned.plan == (f"check batch {batch_id} at Amili first; send again only if it finished "
                                "without this invoice")
        assert _requests(emu) == before, "a dry run asks Amili nothing"
        assert wh.outbox.record(NO, target).state is OutboxState.WAITING_FOR_BATCH and wh.audit.recent() == []

        server = _UnplacingServer(_no_client(emu), unmatchable={batch_id})
        posts = emu.admin.count(*BATCH_POST)
        result = retry_registrations(wh, selection=selection, actor=OPS, reason=REASON, creditors=creditors,
                                     clients={NO: server}, wait_for_batches_s=20)

        assert server.batch_reads[0] == batch_id, "the old batch is checked at Amili before anything is sent"
        assert emu.admin.count(*BATCH_POST) == posts + 1, "sent once more, in one new batch"
        [item] = result.items
        assert item.state_after == "registered" and not result.open_items, item.answer_after
        record = wh.outbox.record(NO, target)
        assert record.batch_id != batch_id and record.case_id and record.generation == 1
        at_amili = [i for i in _amili_invoices(emu, creditors, "RTUNPL")]
        assert [i.unique_source_invoice_id for i in at_amili] == [target], "only the named invoice reached Amili"
        assert at_amili[0].case_id == record.case_id
        events = [(e.from_state, e.to_state, e.detail) for e in wh.outbox.events(NO, target)]
        assert ("waiting_for_batch", "pending", f"operator retry by ops-tester: {REASON}") in events
        assert [e.to_state for e in wh.outbox.events(NO, target)].count("in_flight") == 2, "one send more"
        for key in others:
            other = wh.outbox.record(NO, key)
            assert (other.state, other.batch_id, other.attempts) == (OutboxState.WAITING_FOR_BATCH, batch_id, 1), \
                "not named: not sent"
        [entry] = wh.audit.for_invoice(target)
        assert (entry.actor, entry.reason, entry.outcome, entry.action) == ("ops-tester", REASON, "registered", "retry")
        assert entry.case_id == record.case_id and entry.finished_at is not None

        # Named again: it is registered now, so it is not retried and nothing is sent.
        again = retry_registrations(wh, selection=selection, actor=OPS, reason="clicked twice", creditors=creditors,
                                    clients={NO: _UnplacingServer(_no_client(emu), unmatchable={batch_id})})
        assert again.items == [] and "already registered" in again.skipped[0][1]
        assert emu.admin.count(*BATCH_POST) == posts + 1


def test_a_retry_while_the_batch_is_still_running_sends_nothing_and_says_so(tmp_path, fresh_emulator, creditors):
    emu = fresh_emulator
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        keys, batch_id = _unplace(wh, emu, creditors, "RTRUN")
        posts = emu.admin.count(*BATCH_POST)
        server = _UnplacingServer(_no_client(emu), unmatchable={batch_id}, running=True)
        result = retry_registrations(wh, selection=RetrySelection(invoice_keys=(keys[0],)), actor=OPS, reason=REASON,
                                     creditors=creditors, clients={NO: server}, wait_for_batches_s=5)

        [item] = result.items
        assert server.batch_reads == [batch_id], "checked once; an unfinished old batch is not waited for"
        assert emu.admin.count(*BATCH_POST) == posts, "nothing sent"
        assert item.state_after == "waiting_for_batch" and result.open_items == [item], "exit 3: a person looks again"
        assert f"batch {batch_id} has not finished" in item.answer_after and "nothing sent" in item.answer_after
        record = wh.outbox.record(NO, keys[0])
        assert (record.state, record.batch_id, record.generation, record.attempts) == (
            OutboxState.WAITING_FOR_BATCH, batch_id, 0, 1)
        [entry] = wh.audit.for_invoice(keys[0])
        assert (entry.outcome, entry.reason) == ("waiting_for_batch", REASON) and "has not finished" in entry.answer


def test_a_retry_whose_check_settles_the_invoice_sends_nothing(tmp_path, fresh_emulator, creditors):
    emu = fresh_emulator
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        emu.admin.clear_faults()
        keys = _send(wh, emu, creditors, "RTFOUND")  # Amili holds these: the lookup finds them this time
        [waiting] = wh.outbox.waiting_batches()
        posts = emu.admin.count(*BATCH_POST)
        server = _UnplacingServer(_no_client(emu), unmatchable={waiting.batch_id}, finds=True)
        result = retry_registrations(wh, selection=RetrySelection(invoice_keys=(keys[1],)), actor=OPS, reason=REASON,
                                     creditors=creditors, clients={NO: server})
        [item] = result.items
        assert item.state_after == "registered" and item.answer_after.startswith("registered: case ")
        assert emu.admin.count(*BATCH_POST) == posts, "found at Amili by our key: never sent again"
        assert wh.outbox.record(NO, keys[1]).generation == 0
        assert len(_amili_invoices(emu, creditors, "RTFOUND")) == 4


def test_only_naming_the_invoice_retries_it_never_all_creditor_or_message(tmp_path, fresh_emulator, creditors):
    emu = fresh_emulator
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        keys, batch_id = _unplace(wh, emu, creditors, "RTALL")
        for broad in (RetrySelection(everything=True), RetrySelection(creditor="demo-no"),
                      RetrySelection(message="batch")):
            assert plan_retry(wh, broad, creditors=creditors).items == [], broad
        posts = emu.admin.count(*BATCH_POST)
        result = retry_registrations(wh, selection=RetrySelection(everything=True), actor=OPS, reason=REASON,
                                     creditors=creditors,
                                     clients={NO: _UnplacingServer(_no_client(emu), unmatchable={batch_id})})
        assert result.items == [] and wh.audit.recent() == [] and emu.admin.count(*BATCH_POST) == posts
        assert {wh.outbox.record(NO, k).state for k in keys} == {OutboxState.WAITING_FOR_BATCH}
        # Named by key (and creditor), it is picked: the check-first plan.
        named = plan_retry(wh, RetrySelection(invoice_keys=(keys[2],), creditor="demo-no"), creditors=creditors)
        assert [(i.invoice_key, i.batch_id) for i in named.items] == [(keys[2], batch_id)] and named.skipped == []
