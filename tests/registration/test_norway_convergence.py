"""Norway's unclear and refused batches always converge, exactly once (issue: operations).

* rows left in flight by a crash during the batch POST, when the batch lookup by IdempotencyKey
  is not answered: the batch is replayed with its stored key (the original comes back, or it is
  created now, once), never sent anew under another key;
* a whole-request 422 (an unknown enum in one item) rejects only that item, with Amili's own
  message, and the rest is registered;
* when Amili does not say which item it refuses, the batch is halved until it is pinned down.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
from pydantic import SecretStr

from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState
from amili_pipelines.registration.batches import settle_waiting_batches
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.registration.norway import NorwayRoute, batch_key
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_exactly_once_under_faults import no_client
from tests.support.invoices import make_invoices

NO = Market.NO


def _registered_once_at_emulator(emu, invoices) -> None:
    counts = Counter(d.get("uniqueSourceInvoiceId") for d in emu.admin.state()["no"]["invoices"])
    assert {i.invoice_key: counts[i.invoice_key] for i in invoices} == {i.invoice_key: 1 for i in invoices}


def test_a_batch_interrupted_mid_post_is_replayed_when_its_lookup_is_not_answered(tmp_path, fresh_emulator,
                                                                                  creditors):
    emu = fresh_emulator
    invoices = make_invoices(NO, 40, prefix="RPL")
    org = creditors.creditor("demo-no").organization_id
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        rows = wh.outbox.rows_in_state([OutboxState.PENDING], market=NO)
        arrived, lost = rows[:20], rows[20:]

        async def crash_after_post() -> None:
            # The first batch reached Amili but its answer never came back; the second never left.
            for part in (arrived, lost):
                wh.outbox.mark_in_flight(part, batch_key=batch_key(part))
            async with no_client(emu) as no:
                from amili_pipelines.amili.no.models import InvoiceCreate

                await no.submit_invoices(organization_id=org, idempotency_key=batch_key(arrived),
                                         invoices=[InvoiceCreate.model_validate(r.payload) for r in arrived])

        asyncio.run(crash_after_post())
    emu.admin.set_faults(error_rates={"404": 1.0}, path_prefixes=[f"/collection/v1/orgs/{org}/batches"],
                         methods=["GET"])
    with open_warehouse(tmp_path / "amili.duckdb") as wh:  # the next run: another process

        async def next_run():
            async with no_client(emu) as no:
                summary = await register_pending(wh, creditors=creditors, no_client=no, no_batch_size=20)
                emu.admin.clear_faults()
                await settle_waiting_batches(wh, creditors=creditors, no_client=no, timeout_s=30, poll_s=0.1)
                return summary

        summary = asyncio.run(next_run())
        assert summary.unknown_resolved_registered == 40, "all 40 resolved by replaying their keys"
        assert summary.sent == 0, "nothing was sent anew under another key"
        assert wh.outbox.state_counts(market=NO)["registered"] == 40
        events = [e.detail for e in wh.outbox.events(NO, arrived[0].invoice_key)]
        assert any("replayed with its IdempotencyKey" in (d or "") for d in events), events
    _registered_once_at_emulator(emu, invoices)


def test_one_unknown_enum_rejects_only_its_invoice(tmp_path, fresh_emulator, creditors):
    emu = fresh_emulator
    invoices = make_invoices(NO, 6, prefix="ENUM")
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        bad_key = invoices[2].invoice_key
        wh.connection.execute(
            "UPDATE registration_outbox SET payload_json = json_merge_patch(payload_json, '{\"type\": \"BOGUS\"}')"
            " WHERE invoice_key = ?", [bad_key])

        async def run():
            async with no_client(emu) as no:
                await register_pending(wh, creditors=creditors, no_client=no)
                await settle_waiting_batches(wh, creditors=creditors, no_client=no, timeout_s=30, poll_s=0.1)

        asyncio.run(run())
        counts = wh.outbox.state_counts(market=NO)
        assert (counts["registered"], counts["rejected"]) == (5, 1)
        rejected = wh.outbox.record(NO, bad_key)
        assert rejected.state is OutboxState.REJECTED
        assert [i["field"] for i in rejected.rejection] == ["invoices[2].type"]
        assert "BOGUS" in rejected.rejection[0]["message"]
    _registered_once_at_emulator(emu, [i for i in invoices if i.invoice_key != bad_key])


def test_a_refusal_that_names_no_item_is_halved_until_it_is_pinned(creditors):
    """MockTransport (an edge case the emulator does not produce): a 422 without item paths."""
    invoices = make_invoices(NO, 8, prefix="HALF")
    posted: list[list[str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        numbers = [i["invoiceNumber"] for i in json.loads(request.content)["invoices"]]
        posted.append(numbers)
        if "HALF-NO-00005" in numbers:
            return httpx.Response(422, json={"type": "about:blank", "title": "Unprocessable", "status": 422,
                                             "detail": "the request could not be processed"},
                                  headers={"content-type": "application/problem+json"})
        return httpx.Response(202, json={"data": {"batchId": f"b-{len(posted)}", "batchUrl": "x"}})

    from amili_pipelines.domain.outbox import OutboxRow
    from amili_pipelines.registration.routes import registration_payload

    creditor = creditors.creditor("demo-no")
    rows = [OutboxRow(NO, i.invoice_key, "demo-no", i.invoice_number, f"k{n}", OutboxState.IN_FLIGHT,
                      registration_payload(i, creditor), 1, None, None) for n, i in enumerate(invoices)]

    async def send():
        async with AmiliNoClient(base_url="http://amili.test/collection/v1", auth_url="http://amili.test/token",
                                 client_id="c", client_secret=SecretStr("s"),
                                 transport=httpx.MockTransport(handle)) as no:
            return await NorwayRoute(no, creditors).send(rows)

    outcomes = {o.invoice_key: o for o in asyncio.run(send())}
    assert outcomes["demo-no/HALF-NO-00005"].state is OutboxState.REJECTED
    assert {k for k, o in outcomes.items() if o.state is OutboxState.WAITING_FOR_BATCH} == {
        i.invoice_key for i in invoices} - {"demo-no/HALF-NO-00005"}
    keys = {o.batch_key for o in outcomes.values() if o.batch_key}
    assert len(keys) >= 3, "each part under a key of its own invoices"
