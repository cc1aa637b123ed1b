"""The Norwegian client against the emulator over real HTTP: batches, idempotency, paging, actions, settlements."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import ApiConflict, ApiRejection, NotFound
from amili_pipelines.amili.mapping import to_no_invoice
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.no.models import (
    Claim,
    Correction,
    Debtor,
    InvoiceCreate,
    Payment,
)
from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    Market,
    SourceInvoice,
    idempotency_key,
)

pytestmark = pytest.mark.integration


def client_for(emu: Any, **kw: Any) -> AmiliNoClient:
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_cap", 0.1)
    kw.setdefault("requests_per_second", 500)
    return AmiliNoClient(
        base_url=emu.no_base_url, auth_url=emu.no_auth_url, client_id=emu.no_client_id, client_secret=SecretStr(emu.no_client_secret), **kw
    )


def source(n: int) -> SourceInvoice:
    return SourceInvoice(
        source="demo", location="x.csv", row=n, creditor="nordic", market=Market.NO,
        invoice_number=f"NO-{n}", invoice_date=date(2024, 1, 15), due_date=date(2024, 2, 15), currency="NOK",
        total_amount=Decimal("1250.00"), open_balance=Decimal("1250.00"), payment_reference=f"{n:010d}",
        customer_kind=CustomerKind.PERSON, customer_name="Ola Nordmann", customer_email="ola@example.no",
        customer_address=Address(line1="Karl Johans gate 1", zip_code="0154", city="Oslo", country="NO"),
    )


def invoice(n: int) -> InvoiceCreate:
    return to_no_invoice(source(n), unique_source_invoice_id=idempotency_key("nordic", f"NO-{n}", Market.NO))


def test_batch_submit_poll_succeeded_and_failed_items(emulator: Any) -> None:
    org = emulator.no_org
    bad = InvoiceCreate(
        type="NOTICE", invoice_number="NO-bad", original_invoice_amount=10, invoice_date="2024-01-15", due_date="2024-02-15",
        debtors=[Debtor(type="PRIVATE", name="X")], claims=[Claim(type="FEE", remaining_amount=10)],
    )

    async def go() -> None:
        async with client_for(emulator) as no:
            ref = await no.submit_invoices(organization_id=org, invoices=[invoice(1), bad, invoice(2)], idempotency_key="batch-1")
            batch = await no.wait_for_batch(organization_id=org, batch_id=ref.batch_id, poll_interval=0.05, timeout=10)
            assert batch.status == "PARTIAL" and batch.is_terminal and batch.idempotency_key == "batch-1"
            assert sorted(s.invoice_number for s in batch.succeeded) == ["NO-1", "NO-2"]
            assert all(s.invoice_id and s.case_id for s in batch.succeeded)
            [failed] = batch.failed
            assert failed.index == 1 and failed.invoice_number == "NO-bad"
            rejection = failed.to_rejection()
            assert any("claims" in (i.field or "") for i in rejection.issues), rejection.issues

            usid = idempotency_key("nordic", "NO-1", Market.NO)
            [record] = [r async for r in no.iter_invoices(organization_id=org, unique_source_invoice_id=usid)]
            assert record.invoice_number == "NO-1" and record.unique_source_invoice_id == usid
            again = await no.get_invoice(organization_id=org, invoice_id=record.id)
            assert again.id == record.id
            cases = [c async for c in no.iter_cases(organization_id=org, unique_source_invoice_id=usid)]
            assert len(cases) == 1 and cases[0].case_id == next(s.case_id for s in batch.succeeded if s.invoice_number == "NO-1")

    asyncio.run(go())


def test_an_unknown_enum_refuses_the_whole_request_naming_the_item(emulator: Any) -> None:
    """Reference F.2.9: the request is refused as a whole; the error names the offending item's path."""
    bad = InvoiceCreate(
        type="NOT_A_TYPE", invoice_number="NO-bad", original_invoice_amount=10, invoice_date="2024-01-15",
        due_date="2024-02-15", debtors=[Debtor(type="PRIVATE", name="X")], claims=[Claim(remaining_amount=10)],
    )

    async def go() -> None:
        async with client_for(emulator) as no:
            with pytest.raises(ApiRejection) as refused:
                await no.submit_invoices(organization_id=emulator.no_org, invoices=[invoice(1), bad],
                                         idempotency_key="batch-enum")
            assert refused.value.status_code == 422
            assert [i.field for i in refused.value.issues] == ["invoices[1].type"]
            assert [b async for b in no.iter_batches(organization_id=emulator.no_org, idempotency_key="batch-enum")] == []

    asyncio.run(go())


def test_idempotency_key_resubmission_returns_the_same_batch(emulator: Any) -> None:
    org = emulator.no_org

    async def go() -> None:
        async with client_for(emulator) as no:
            first = await no.submit_invoices(organization_id=org, invoices=[invoice(1)], idempotency_key="same-key")
            second = await no.submit_invoices(organization_id=org, invoices=[invoice(1)], idempotency_key="same-key")
            assert first.batch_id == second.batch_id
            [batch] = [b async for b in no.iter_batches(organization_id=org, idempotency_key="same-key")]
            assert batch.batch_id == first.batch_id
            invoices = [i async for i in no.iter_invoices(organization_id=org, invoice_number="NO-1")]
            assert len(invoices) == 1

    asyncio.run(go())


def test_write_faults_are_retried_safely_with_the_key(emulator: Any) -> None:
    emulator.admin.set_faults(committed_then_failed_rate=1.0, committed_then_failed_mode="502", path_prefixes=["/collection/v1/orgs"], methods=["POST"])
    org = emulator.no_org

    async def go() -> AmiliNoClient:
        async with client_for(emulator, max_retries=2) as no:
            from amili_pipelines.amili.errors import OutcomeUnknown

            with pytest.raises(OutcomeUnknown) as info:
                await no.submit_invoices(organization_id=org, invoices=[invoice(7)], idempotency_key="k7")
            assert info.value.idempotency_key == "k7"
            return no

    no_client = asyncio.run(go())
    assert no_client.stats.retries == 2
    emulator.admin.clear_faults()

    async def after() -> None:
        async with client_for(emulator) as no:
            ref = await no.submit_invoices(organization_id=org, invoices=[invoice(7)], idempotency_key="k7")
            batches = [b async for b in no.iter_batches(organization_id=org)]
            assert [b.batch_id for b in batches] == [ref.batch_id]  # three sends, one batch
            assert len([i async for i in no.iter_invoices(organization_id=org, invoice_number="NO-7")]) == 1

    asyncio.run(after())


def test_429_and_503_are_retried(emulator: Any) -> None:
    emulator.admin.set_faults(error_rates={503: 0.3}, rate_429=0.3, retry_after_seconds=0)
    org = emulator.no_org

    async def go() -> AmiliNoClient:
        async with client_for(emulator, max_retries=12) as no:
            refs = await asyncio.gather(*(no.submit_invoices(organization_id=org, invoices=[invoice(i)], idempotency_key=f"k{i}") for i in range(10)))
            assert len({r.batch_id for r in refs}) == 10
            return no

    no_client = asyncio.run(go())
    assert no_client.stats.retries > 0 and no_client.stats.rate_limited > 0


def test_pagination_over_more_than_100(emulator: Any) -> None:
    org = emulator.no_org

    async def go() -> tuple[int, int]:
        async with client_for(emulator) as no:
            ref = await no.submit_invoices(organization_id=org, invoices=[invoice(i) for i in range(130)], idempotency_key="big")
            batch = await no.wait_for_batch(organization_id=org, batch_id=ref.batch_id, poll_interval=0.05, timeout=10)
            assert batch.status == "SUCCESS" and len(batch.succeeded) == 130
            invoices = [i.id async for i in no.iter_invoices(organization_id=org, page_size=50)]
            cases = [c.case_id async for c in no.iter_cases(organization_id=org, from_created_at=date.today() - timedelta(days=2))]
            return len(set(invoices)), len(set(cases))

    assert asyncio.run(go()) == (130, 130)
    assert emulator.admin.count("GET", "/collection/v1/orgs/{org}/invoices") == 3


def test_case_actions_payments_corrections_and_settlements(emulator: Any) -> None:
    org = emulator.no_org

    async def go() -> None:
        async with client_for(emulator) as no:
            ref = await no.submit_invoices(organization_id=org, invoices=[invoice(i) for i in range(30)], idempotency_key="set")
            batch = await no.wait_for_batch(organization_id=org, batch_id=ref.batch_id, poll_interval=0.05, timeout=10)
            first, second = batch.succeeded[0], batch.succeeded[1]
            await no.pause_case(organization_id=org, case_id=first.case_id)
            with pytest.raises(ApiConflict):
                await no.pause_case(organization_id=org, case_id=first.case_id)
            await no.resume_case(organization_id=org, case_id=first.case_id)
            await no.withdraw_case(organization_id=org, case_id=second.case_id)
            with pytest.raises(NotFound):
                await no.pause_case(organization_id=org, case_id="00000000-0000-0000-0000-000000000000")
            pay = await no.submit_payments(
                organization_id=org, payments=[Payment(invoice_id=batch.succeeded[2].invoice_id, amount=Decimal(100), payment_date=date.today())], idempotency_key="pay-1"
            )
            corr = await no.submit_corrections(
                organization_id=org, corrections=[Correction(invoice_id=batch.succeeded[3].invoice_id, amount=Decimal(50), description="credit note")], idempotency_key="corr-1"
            )
            for r in (pay, corr):
                done = await no.wait_for_batch(organization_id=org, batch_id=r.batch_id, poll_interval=0.05, timeout=10)
                assert done.status == "SUCCESS", done

    asyncio.run(go())
    emulator.admin.process()  # see the note in test_amili_se_emulator: start the schedules before advancing
    emulator.admin.advance(days=200)

    async def settlements() -> None:
        async with client_for(emulator) as no:
            found = [s async for s in no.iter_settlements(organization_id=org, page_size=5)]
            assert found and all(s.settlement_id and s.settlement_date for s in found)
            one = await no.get_settlement(organization_id=org, settlement_id=found[0].settlement_id)
            assert one.settlement_id == found[0].settlement_id and one.payout_amount is not None
            first_day = min(s.settlement_date for s in found)
            windowed = [s async for s in no.iter_settlements(organization_id=org, from_date=first_day, to_date=first_day)]
            assert windowed and all(s.settlement_date == first_day for s in windowed)

    asyncio.run(settlements())


def test_token_expiry_mid_run_is_recovered(emulator: Any) -> None:
    emulator.admin.set_faults(token_actual_ttl_seconds=0.3)
    org = emulator.no_org

    async def go() -> AmiliNoClient:
        async with client_for(emulator) as no:
            await no.submit_invoices(organization_id=org, invoices=[invoice(1)], idempotency_key="t1")
            await asyncio.sleep(0.5)
            await no.submit_invoices(organization_id=org, invoices=[invoice(2)], idempotency_key="t2")
            return no

    no_client = asyncio.run(go())
    assert no_client.stats.token_refreshes == 1 and no_client.auth.fetch_count == 2
