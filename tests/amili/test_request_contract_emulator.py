"""The emulator refuses requests the documented contract refuses, and the real clients' requests pass.

Where the emulator used to accept more than the contract allows (a JSON body without its documented
``Content-Type``, a country that is not ISO 3166-1 alpha-2, Sweden's RFC 1123 dates in a Norwegian body,
an ``account`` on a cancellation), it now refuses like a strict server would, so the integration tests
keep the clients honest. The last tests drive the real mapping and clients through it with a range of
invoices.
"""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.mapping import to_no_invoice, to_se_registration
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.amili.se.models import CreditorCancellation
from amili_pipelines.domain.invoice import Address, CustomerKind, InvoiceLine, Market, SourceInvoice
from tests.support.amili import ACCOUNT, CREDITOR, SEED_PERSON

pytestmark = pytest.mark.integration


def _se(emu: Any) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, headers=emu.se_headers(), timeout=10)


def _no(emu: Any) -> httpx.Client:
    return httpx.Client(base_url=f"{emu.no_base_url}/orgs/{emu.no_org}", headers=emu.no_headers(), timeout=10)


def _seed(number: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_PERSON)
    body["invoice_number"] = number
    body.update(changes)
    return body


def _no_item(number: str, **changes: Any) -> dict[str, Any]:
    item = {"type": "PAYMENT_REMINDER", "invoiceNumber": number, "originalInvoiceAmount": 100, "currency": "NOK",
            "invoiceDate": "2024-01-15T00:00:00Z", "dueDate": "2024-02-15", "uniqueSourceInvoiceId": number,
            "debtors": [{"type": "PRIVATE", "firstname": "Ola", "lastname": "Nordmann"}],
            "claims": [{"type": "PRINCIPAL", "remainingAmount": 100}]}
    item.update(changes)
    return item


def _wait_batch(no: httpx.Client, batch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        data = no.get(f"/batches/{batch_id}").json()["data"]
        if data["status"] != "QUEUED" or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


# -- Content-Type ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_se_write_without_json_content_type_is_refused(emulator: Any, content_type: str | None) -> None:
    """Every Swedish write is documented with ``Content-Type: application/json``; Eve reads a body by its
    declared type, so JSON declared as anything else (or nothing) is not read as JSON."""
    raw = httpx.Request("POST", "/", json=_seed("CT-1")).content
    headers = {"Content-Type": content_type} if content_type else {}
    with _se(emulator) as se:
        r = se.post("/invoice--registrations", content=raw, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["_status"] == "ERR" and "payload format" in r.json()["_error"]["message"]
        ok = se.post("/invoice--registrations", content=raw,
                     headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 201, ok.text
    # The API code POSTed without its JSON Content-Type is not read: a missing code, 401 (F.1.2).
    code = f'{{"api_code": "{emulator.se_api_code}"}}'.encode()
    assert httpx.post(f"{emulator.base_url}/authenticates/api-code", content=code, timeout=10).status_code == 401
    assert httpx.post(f"{emulator.base_url}/authenticates/api-code", content=code, timeout=10,
                      headers={"Content-Type": "application/json"}).status_code == 200


def test_no_write_without_json_content_type_is_refused(emulator: Any) -> None:
    raw = httpx.Request("POST", "/", json={"invoices": [_no_item("CT-NO-1")]}).content
    with _no(emulator) as no:
        r = no.post("/invoices", content=raw)
        assert r.status_code == 415, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = no.post("/invoices", content=raw, headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        assert no.post("/invoices", content=raw, headers={"Content-Type": "application/json"}).status_code == 202
        assert len(no.get("/batches").json()["data"]) == 1, "the refused requests created no batch"


# -- field formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["Sweden", "se", "SWE"])
def test_se_address_country_must_be_iso_alpha2(emulator: Any, country: str) -> None:
    body = _seed(f"CC-{country}")
    body["customer"]["address"]["country"] = country
    with _se(emulator) as se:
        r = se.post("/invoice--registrations", json=body)
    assert r.status_code == 422, r.text
    assert "country" in r.json()["_issues"]["customer"]["address"]


def test_se_cancellation_has_no_account_field(emulator: Any) -> None:
    """A.9.3: a cancellation has creditor, case | invoice_number, origin: "no amount and no account"."""
    with _se(emulator) as se:
        case = se.post("/invoice--registrations", json=_seed("CANC-1")).json()["_case"]
        r = se.post("/creditor--cancellations", json={"account": ACCOUNT, "creditor": CREDITOR, "case": case,
                                                      "origin": "creditor_system"})
        assert r.status_code == 422 and r.json()["_issues"] == {"account": "unknown field"}, r.text
        r = se.post("/creditor--cancellations", json={"creditor": CREDITOR, "case": case, "origin": "creditor_system"})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize(("field", "value"), [
    ("dueDate", "Thu, 15 Feb 2024 00:00:00 GMT"),
    ("invoiceDate", "Mon, 15 Jan 2024 00:00:00 GMT"),
    ("dueDate", "15.02.2024"),
])
def test_no_dates_must_be_iso_8601(emulator: Any, field: str, value: str) -> None:
    """Norway's dates are ISO 8601 (B.4); Sweden's RFC 1123 form is not one of them."""
    with _no(emulator) as no:
        r = no.post("/invoices", json={"invoices": [_no_item(f"D-{field}-{value[:3]}", **{field: value})]})
        assert r.status_code == 202, r.text
        batch = _wait_batch(no, r.json()["data"]["batchId"])
    assert batch["status"] == "FAILED"
    [failed] = batch["failed"]
    assert [e["field"] for e in failed["errors"]] == [field]


# -- the real clients through the strict emulator --------------------------------------------------


def _range_of_invoices(market: Market) -> list[SourceInvoice]:
    se = market is Market.SE
    cur = "SEK" if se else "NOK"
    common: dict[str, Any] = dict(source="s", location="range.csv", creditor="c", market=market, currency=cur)
    person_id = "199001011234" if se else "010101 12345"
    company_id = "5561234567" if se else "NO 923 609 016 MVA"
    ref = "1234 5678 97"
    out = [
        SourceInvoice(**common, row=1, invoice_number="R-åäö-1", invoice_date=date(2024, 2, 29),
                      due_date=date(2024, 3, 31), total_amount=Decimal("0.10"), open_balance=Decimal("0.10"),
                      customer_kind=CustomerKind.PERSON, customer_name="Sárá, Áilu Niillas" if not se else "Åsa Ödmark",
                      customer_id_number=person_id, payment_reference=ref, customer_email="a'b@example.org",
                      customer_phone="+46701234567" if se else "+4791234567",
                      customer_address=Address(line1="Čuđevuotna 3" if not se else "Storgatan 1", zip_code="9520",
                                               city="Guovdageaidnu", country=market.value)),
        SourceInvoice(**common, row=2, invoice_number="R-2", invoice_date=date(2023, 12, 31),
                      due_date=date(2024, 1, 31), total_amount=Decimal("1250000"), open_balance=Decimal("1000000"),
                      vat_amount=Decimal("250000"), customer_kind=CustomerKind.COMPANY,
                      customer_name="Fjord & Fjell AS" if not se else "Åkeri O'Brien AB", customer_id_number=company_id,
                      customer_gln="7350000000001" if se else None,
                      customer_address=Address(line1="Kai 1", zip_code="0150", city="Oslo", country=market.value),
                      lines=(InvoiceLine(description="Frakt", unit_price=Decimal(500000), units=Decimal(2),
                                         total_excl_vat=Decimal(1000000), vat_percent=Decimal(25)),)),
        SourceInvoice(**common, row=3, invoice_number="R-3", invoice_date=date(2024, 4, 30),
                      due_date=date(2024, 5, 31), total_amount=Decimal("99.99"), open_balance=Decimal("99.99"),
                      customer_kind=CustomerKind.FOREIGN, customer_name="Hans Müller" + " von Lange" * 20,
                      customer_address=Address(line1="Hauptstraße 1", zip_code="10115", city="Berlin", country="DE")),
    ]
    return out


def test_se_range_registers_through_the_strict_emulator(emulator: Any) -> None:
    async def go() -> None:
        async with AmiliSeClient(base_url=emulator.base_url, api_code=SecretStr(emulator.se_api_code),
                                 requests_per_second=500) as se:
            for inv in _range_of_invoices(Market.SE):
                reg = to_se_registration(inv, account_id=emulator.se_account, creditor_id=emulator.se_creditor)
                result = await se.register_invoice(registration=reg)
                case = await se.get_case(case_id=result.case)
                assert case.invoice_number == inv.invoice_number
            await se.register_cancellation(cancellation=CreditorCancellation(creditor=emulator.se_creditor,
                                                                             case=result.case))

    asyncio.run(go())


def test_no_range_registers_through_the_strict_emulator(emulator: Any) -> None:
    async def go() -> None:
        async with AmiliNoClient(base_url=emulator.no_base_url, auth_url=emulator.no_auth_url,
                                 client_id=emulator.no_client_id, client_secret=SecretStr(emulator.no_client_secret),
                                 requests_per_second=500) as no:
            invoices = [to_no_invoice(i, unique_source_invoice_id=i.invoice_key) for i in _range_of_invoices(Market.NO)]
            ref = await no.submit_invoices(organization_id=emulator.no_org, invoices=invoices, idempotency_key="range-1")
            batch = await no.wait_for_batch(organization_id=emulator.no_org, batch_id=ref.batch_id, poll_interval=0.05,
                                            timeout=10)
            assert batch.status == "SUCCESS", batch.failed
            assert len(batch.succeeded) == 3

    asyncio.run(go())
