"""A finished Norwegian batch whose items we cannot match to our invoices (another server writes the
invoice number otherwise and does not echo ``uniqueSourceInvoiceId``).

Absence is not proven, so nothing is sent again. The rows are settled by looking each one up at
Amili by our own key; what the lookup cannot find keeps waiting, and the run says a person should
look. A lookup answer counts only where it is our invoice: a server that ignores the filter must not
make our invoice "registered" under a stranger's case (it would then never be sent).

The real client against the emulator; only the batch's items are rewritten as that other server
writes them (the emulator always echoes our key).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from pydantic import SecretStr

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.no.models import Batch, InvoiceRecord
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxRow, OutboxState
from amili_pipelines.registration.batches import BatchResultsSummary, record_finished_batches
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.registration.norway import NorwayRoute
from amili_pipelines.warehouse import open_warehouse
from tests.support.invoices import make_invoices

NO = Market.NO


def _no_client(emu) -> AmiliNoClient:
    return AmiliNoClient(base_url=emu.no_base_url, auth_url=emu.no_auth_url, client_id="demo-client",
                         client_secret=SecretStr("demo-secret"), requests_per_second=2000, max_concurrency=8,
                         max_retries=2, backoff_base=0.01, backoff_cap=0.05)


async def finds_nothing() -> AsyncIterator[InvoiceRecord]:
    """A lookup at a server that does not have the invoice."""
    return
    yield


class _OtherServer:
    """The real client, but batch items carry neither our key nor our number as we wrote it."""

    def __init__(self, client: AmiliNoClient, *, finds: bool) -> None:
        self._client = client
        self._finds = finds
        self.lookups = 0

    async def get_batch(self, *, organization_id: str, batch_id: str) -> Batch:
        batch = await self._client.get_batch(organization_id=organization_id, batch_id=batch_id)
        items = [i.model_copy(update={"unique_source_invoice_id": None, "invoice_number": f"X{i.invoice_number}"})
                 for i in batch.succeeded]
        return batch.model_copy(update={"succeeded": items})

    def iter_invoices(self, **kwargs) -> AsyncIterator[InvoiceRecord]:
        self.lookups += 1
        return self._client.iter_invoices(**kwargs) if self._finds else finds_nothing()


def _send(wh, emu, creditors, prefix: str) -> list[str]:
    invoices = make_invoices(NO, 4, prefix=prefix)
    enqueue_valid_invoices(wh, invoices, creditors=creditors)

    async def send():
        async with _no_client(emu) as no:
            await register_pending(wh, creditors=creditors, no_client=no)

    asyncio.run(send())
    return [i.invoice_key for i in invoices]


def _record(wh, emu, creditors, *, finds: bool) -> tuple[BatchResultsSummary, int]:
    async def run():
        async with _no_client(emu) as no:
            server = _OtherServer(no, finds=finds)
            summary = await record_finished_batches(wh, no_client=server, creditors=creditors)
            return summary, server.lookups
    return asyncio.run(run())


def _amili_invoices(emu, creditors, prefix: str) -> list[InvoiceRecord]:
    async def run():
        async with _no_client(emu) as no:
            org = creditors.creditor("demo-no").organization_id
            return [i async for i in no.iter_invoices(organization_id=org) if prefix in (i.invoice_number or "")]
    return asyncio.run(run())


def test_unmatched_items_are_settled_by_looking_our_invoices_up_not_by_sending_them_again(tmp_path, emulator, creditors):
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        keys = _send(wh, emulator, creditors, "UNMATCHED")
        summary, lookups = _record(wh, emulator, creditors, finds=True)

        at_amili = {i.unique_source_invoice_id: i for i in _amili_invoices(emulator, creditors, "UNMATCHED")}
        assert len(at_amili) == 4, "each invoice is at Amili once: nothing was sent again"
        assert lookups == 4
        assert (summary.unmatched_items, summary.invoices_registered, summary.unplaced_in_batches) == (4, 4, 0)
        for key in keys:
            record = wh.outbox.record(NO, key)
            assert record.state is OutboxState.REGISTERED
            assert record.case_id and record.case_id == at_amili[key].case_id
        assert not wh.outbox.waiting_batches()
        assert needs_attention({"reconcile/norway_batch_results": summary.metadata()}) == []


def test_what_the_lookup_cannot_find_keeps_waiting_and_the_run_asks_for_a_person(tmp_path, emulator, creditors,
                                                                                     caplog):
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        keys = _send(wh, emulator, creditors, "UNPLACED")
        [waiting] = wh.outbox.waiting_batches()
        with caplog.at_level("WARNING", logger="amili_pipelines.registration.batches"):
            summary, _ = _record(wh, emulator, creditors, finds=False)

        assert {wh.outbox.record(NO, k).state for k in keys} == {OutboxState.WAITING_FOR_BATCH}, "never pending"
        assert summary.unplaced_in_batches == 4 and summary.invoices_registered == 0
        [line] = needs_attention({"reconcile/norway_batch_results": summary.metadata()})
        assert "4 invoice(s) in finished batches" in line and "never sent again" in line
        assert "`amili-pipelines retry KEY --reason ...`" in line, "the person is told what to do once checked"
        # The log names the batch and the invoices, for the person to check and retry.
        [logged] = [r.getMessage() for r in caplog.records if "keep waiting" in r.getMessage()]
        assert waiting.batch_id in logged and all(k in logged for k in keys)

        later, _ = _record(wh, emulator, creditors, finds=True)  # Amili's answer settles them on a later pass
        assert (later.invoices_registered, later.unplaced_in_batches) == (4, 0)
        assert len(_amili_invoices(emulator, creditors, "UNPLACED")) == 4


def _row(creditors) -> OutboxRow:
    [invoice] = make_invoices(NO, 1, prefix="IGNORED")
    return OutboxRow(NO, invoice.invoice_key, "demo-no", invoice.invoice_number, "k", OutboxState.UNKNOWN_OUTCOME,
                     {}, 1, None, None)


def _lookup_against(listing: list[dict], creditors) -> OutboxState:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        return httpx.Response(200, json={"summary": {"nextPageToken": None}, "data": listing})

    async def run():
        async with AmiliNoClient(base_url="http://amili.test/collection/v1", auth_url="http://amili.test/token",
                                 client_id="c", client_secret=SecretStr("s"), transport=httpx.MockTransport(handle),
                                 max_retries=1, backoff_base=0.0) as no:
            [outcome] = await NorwayRoute(no, creditors).lookup([_row(creditors)])
            return outcome
    outcome = asyncio.run(run())
    assert outcome.state is not OutboxState.REGISTERED or outcome.case_id == "ours"
    return outcome.state


def test_a_lookup_answer_counts_only_where_it_is_our_invoice(creditors):
    row = _row(creditors)
    stranger = {"id": "i-9", "invoiceNumber": "99999", "caseId": "theirs"}
    # A server that ignores the filter: other invoices, with or without their own key.
    assert _lookup_against([stranger, {**stranger, "id": "i-8"}], creditors) is OutboxState.UNKNOWN_OUTCOME
    assert _lookup_against([stranger], creditors) is OutboxState.UNKNOWN_OUTCOME
    assert _lookup_against([{**stranger, "uniqueSourceInvoiceId": "other/1"}], creditors) is OutboxState.UNKNOWN_OUTCOME
    # Ours: by the key echoed, or (no key echoed) the one invoice with our number.
    ours = {"id": "i-1", "invoiceNumber": row.invoice_number, "caseId": "ours"}
    assert _lookup_against([stranger, {**ours, "uniqueSourceInvoiceId": row.invoice_key}], creditors) \
        is OutboxState.REGISTERED
    assert _lookup_against([ours], creditors) is OutboxState.REGISTERED
