"""The Swedish client against the emulator over real HTTP: registration, lookup, faults, token expiry, paging."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import ApiRejection, NotFound, OutcomeUnknown
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.amili.se.models import (
    CreditorCancellation,
    CreditorCrediting,
    CreditorPayment,
    InvoiceRegistration,
)
from tests.support.amili import ACCOUNT, CREDITOR, SEED_PERSON, SEEDS

pytestmark = pytest.mark.integration


def client_for(emu: Any, **kw: Any) -> AmiliSeClient:
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_cap", 0.1)
    kw.setdefault("requests_per_second", 500)
    return AmiliSeClient(base_url=emu.base_url, api_code=SecretStr(emu.se_api_code), **kw)


def registration(n: int | str, base: dict[str, Any] = SEED_PERSON) -> InvoiceRegistration:
    body = copy.deepcopy(base)
    body["invoice_number"] = f"INV-T-{n}"
    return InvoiceRegistration.model_validate(body)


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_bodies_register_and_are_found(emulator: Any, seed: str) -> None:
    reg = InvoiceRegistration.model_validate(SEEDS[seed])

    async def go() -> None:
        async with client_for(emulator) as se:
            result = await se.register_invoice(registration=reg)
            assert result.case and result.id and result.invoice and result.ocr_number_ocr and result.eve_status == "OK"
            case = await se.get_case(case_id=result.case)
            assert case.id == result.case and case.invoice_number == reg.invoice_number and case.creditor == CREDITOR
            assert not case.is_closed
            [found] = await se.find_invoice_registrations(creditor=CREDITOR, invoice_number=reg.invoice_number)
            assert (found.id, found.case, found.ocr_number_ocr) == (result.id, result.case, result.ocr_number_ocr)
            [by_case] = await se.find_cases(creditor=CREDITOR, invoice_number=reg.invoice_number)
            assert by_case.id == result.case

    asyncio.run(go())
    assert emulator.admin.count("POST", "/invoice--registrations") == 1


def test_validation_rejection_keeps_api_issues(emulator: Any) -> None:
    reg = registration(1).model_copy(update={"invoice_type": "credit_note"})

    async def go() -> None:
        async with client_for(emulator) as se:
            await se.register_invoice(registration=reg)

    with pytest.raises(ApiRejection) as info:
        asyncio.run(go())
    assert info.value.status_code == 422
    assert any(i.field == "invoice_type" and "unallowed value" in i.message for i in info.value.issues)


def test_429_and_503_faults_are_retried_to_success(emulator: Any) -> None:
    emulator.admin.set_faults(error_rates={503: 0.25}, rate_429=0.25, retry_after_seconds=0, methods=["POST"], path_prefixes=["/invoice--registrations"])

    async def go() -> AmiliSeClient:
        async with client_for(emulator, max_retries=10) as se:
            results = await asyncio.gather(*(se.register_invoice(registration=registration(i)) for i in range(20)))
            assert len({r.case for r in results}) == 20
            return se

    se = asyncio.run(go())
    assert se.stats.retries > 0 and se.stats.by_status[201] == 20
    assert se.stats.rate_limited == se.stats.by_status[429] > 0
    emulator.admin.clear_faults()

    async def count() -> int:
        async with client_for(emulator) as se2:
            return len([c async for c in se2.iter_cases(where={"creditor": CREDITOR})])

    assert asyncio.run(count()) == 20  # nothing registered twice


@pytest.mark.parametrize("mode", ["502", "drop", "timeout"])
def test_committed_then_failed_is_outcome_unknown_and_lookup_finds_it(emulator: Any, mode: str) -> None:
    emulator.admin.set_faults(committed_then_failed_rate=1.0, committed_then_failed_mode=mode, hang_seconds=1.0, path_prefixes=["/invoice--registrations"])
    reg = registration("ctf")

    async def register() -> None:
        async with client_for(emulator, timeout=httpx.Timeout(5.0, read=0.5)) as se:
            await se.register_invoice(registration=reg)

    with pytest.raises(OutcomeUnknown):
        asyncio.run(register())
    # The emulator counts a hung request when its hang ends; wait for that before counting.
    deadline = time.monotonic() + 3
    while emulator.admin.count("POST", "/invoice--registrations") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.admin.count("POST", "/invoice--registrations") == 1  # not retried
    emulator.admin.clear_faults()

    async def lookup() -> Any:
        async with client_for(emulator) as se:
            return await se.find_invoice_registrations(creditor=CREDITOR, invoice_number=reg.invoice_number)

    [found] = asyncio.run(lookup())
    assert found.case and found.ocr_number_ocr


@pytest.mark.serial
def test_token_expiry_mid_run_is_recovered(emulator: Any) -> None:
    emulator.admin.set_faults(token_actual_ttl_seconds=0.3)

    async def go() -> AmiliSeClient:
        async with client_for(emulator) as se:
            first = await se.register_invoice(registration=registration(1))
            await asyncio.sleep(0.5)  # the token dies early; its announced expiry is an hour away
            second = await se.register_invoice(registration=registration(2))
            case = await se.get_case(case_id=second.case)
            assert first.case != second.case and case.id == second.case
            return se

    se = asyncio.run(go())
    assert se.stats.token_refreshes >= 1 and se.auth.fetch_count >= 2
    assert emulator.admin.count("POST", "/invoice--registrations") == 3  # the 401'd one was re-sent once


def test_pagination_over_more_than_100(emulator: Any) -> None:
    async def go() -> tuple[int, int, int]:
        async with client_for(emulator, max_concurrency=8) as se:
            await asyncio.gather(*(se.register_invoice(registration=registration(i)) for i in range(130)))
            cases = [c async for c in se.iter_cases(where={"creditor": CREDITOR}, sort="_created")]
            regs = [r async for r in se.iter_invoice_registrations(where={"creditor": CREDITOR}, page_size=40)]
            return len(cases), len({c.id for c in cases}), len({r.id for r in regs})

    assert asyncio.run(go()) == (130, 130, 130)
    assert emulator.admin.count("GET", "/cases") == 2
    assert emulator.admin.count("GET", "/invoice--registrations") == 4


def test_case_actions_and_finance(emulator: Any) -> None:
    async def go() -> None:
        async with client_for(emulator) as se:
            a = await se.register_invoice(registration=registration("pay"))
            b = await se.register_invoice(registration=registration("credit"))
            c = await se.register_invoice(registration=registration("cancel"))
            d = await se.register_invoice(registration=registration("respite"))
            paid = await se.register_payment(
                payment=CreditorPayment(account=ACCOUNT, creditor=CREDITOR, case=a.case, amount=Decimal("625"), bank_transaction_date=datetime.now(UTC))
            )
            assert paid.payment_status == "completed"
            credited = await se.register_crediting(
                crediting=CreditorCrediting(account=ACCOUNT, creditor=CREDITOR, invoice_number="INV-T-credit", amount=Decimal("100"))
            )
            assert credited.payment_status == "completed"
            cancelled = await se.register_cancellation(cancellation=CreditorCancellation(creditor=CREDITOR, case=c.case))
            assert cancelled.cancellation_status == "completed"
            assert (await se.get_case(case_id=c.case)).is_closed
            respite = await se.set_respite(case_id=d.case, until=datetime.now(UTC) + timedelta(days=14))
            assert respite.respite_status == "completed"
            assert (await se.get_case(case_id=d.case)).respite_until is not None
            with pytest.raises(NotFound):
                await se.get_case(case_id="0" * 24)
            open_cases = [x.id async for x in se.iter_cases(where={"closed": None})]
            assert b.case in open_cases and c.case not in open_cases
            creditor = await se.get_creditor(creditor_id=CREDITOR)
            assert creditor.id == CREDITOR

    asyncio.run(go())


def test_finance_after_debtors_pay(emulator: Any) -> None:
    async def register() -> None:
        async with client_for(emulator) as se:
            await asyncio.gather(*(se.register_invoice(registration=registration(i)) for i in range(20)))

    asyncio.run(register())
    # Emulator quirk (reported): after a reset the payout schedule starts at the first processing
    # tick, so an advance() straight after a reset skips every payout in between. Tick once first.
    emulator.admin.process()
    emulator.admin.advance(days=200)  # the emulator's debtors pay within 90 days; payouts are weekly

    async def finance() -> None:
        async with client_for(emulator) as se:
            specs = [s async for s in se.iter_payout_specifications(where={"creditor": CREDITOR})]
            payouts = [p async for p in se.iter_payouts()]
            assert specs and all(s.creditor == CREDITOR and s.case and s.total_amount is not None for s in specs)
            assert payouts and all(p.id and p.total_amount is not None for p in payouts)
            lines = [s async for s in se.iter_payout_specifications(where={"payout": payouts[0].id})]
            assert lines and all(s.payout == payouts[0].id for s in lines)

    asyncio.run(finance())


def test_jwt_get_authentication(emulator: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP521R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()

    async def go() -> AmiliSeClient:
        async with client_for(emulator, private_key=SecretStr(pem), jwt_algorithm="ES512") as se:
            token = await se.authenticate()
            assert token.expires is not None and token.expires > datetime.now(UTC)
            await se.register_invoice(registration=registration("jwt"))
            return se

    asyncio.run(go())
    assert emulator.admin.count("GET", "/authenticates/api-code") == 1
    assert emulator.admin.count("POST", "/authenticates/api-code") == 0
