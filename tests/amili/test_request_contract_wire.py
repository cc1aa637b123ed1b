"""What we send, byte for byte: request bodies built from real invoices, recorded off the wire.

Each test drives the real mapping and the real client through an ``httpx.MockTransport`` recorder and
asserts the exact request: method, path, headers, query and JSON body. The identifiers (KID/OCR,
fødselsnummer, organisasjonsnummer, personnummer) are held to their canonical shape: sources write them
grouped and prefixed in many ways that validation accepts, and a server (or a bank matching a payment)
that reads them as documented needs the digits.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.mapping import to_no_invoice, to_se_registration
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Address, CustomerKind, InvoiceLine, Market, SourceInvoice
from tests.support.amili import ACCOUNT, CREDITOR, Recorder, json_response


def _invoice(market: Market, **kw: Any) -> SourceInvoice:
    base: dict[str, Any] = dict(
        source="s", location="l.csv", row=1, creditor="c", market=market, invoice_number="INV-1",
        invoice_date=date(2024, 2, 29), due_date=date(2024, 3, 31), currency="SEK" if market is Market.SE else "NOK",
        total_amount=Decimal("1250.00"), open_balance=Decimal("1250.00"), vat_amount=Decimal("250.00"),
        customer_kind=CustomerKind.PERSON, customer_name="Test Person",
        customer_address=Address(line1="Gata 1", zip_code="11122", city="Stad", country=market.value),
    )
    base.update(kw)
    return SourceInvoice(**base)


def _handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/authenticates/api-code"):
        return json_response(200, {"_status": "OK", "token": "tok"})
    if path.endswith("/token"):
        return json_response(200, {"access_token": "at", "token_type": "Bearer", "expires_in": 3600})
    if path.endswith("/invoice--registrations"):
        return json_response(201, {"_id": "r" * 24, "_status": "OK", "_case": "c" * 24, "ocr_number_ocr": "1"})
    return json_response(202, {"summary": {"status": "SUCCESS"}, "data": {"batchId": "b-1"}})


def _se_wire(invoice: SourceInvoice) -> tuple[httpx.Request, dict[str, Any]]:
    rec = Recorder(_handler)

    async def go() -> None:
        async with AmiliSeClient(base_url="https://se.test", api_code=SecretStr("code"), transport=rec.transport) as se:
            reg = to_se_registration(invoice, account_id=ACCOUNT, creditor_id=CREDITOR)
            await se.register_invoice(registration=reg)

    asyncio.run(go())
    [request] = [r for r in rec.requests if r.url.path == "/invoice--registrations"]
    return request, json.loads(request.content)


def _no_wire(*invoices: SourceInvoice) -> tuple[httpx.Request, dict[str, Any]]:
    rec = Recorder(_handler)

    async def go() -> None:
        async with AmiliNoClient(base_url="https://no.test/collection/v1", auth_url="https://auth.test/token",
                                 client_id="cid", client_secret=SecretStr("s"), transport=rec.transport) as no:
            items = [to_no_invoice(i, unique_source_invoice_id=i.invoice_key) for i in invoices]
            await no.submit_invoices(organization_id="org-1", invoices=items, idempotency_key="reg-" + "a" * 40)

    asyncio.run(go())
    [request] = [r for r in rec.requests if r.url.path.endswith("/invoices")]
    return request, json.loads(request.content)


# -- Norway: KID, fødselsnummer, organisasjonsnummer, names ------------------------------------------


@pytest.mark.parametrize(("written", "sent"), [
    ("1234 5678 97", "1234567897"),       # grouped as printed on the giro
    (" 1234567897 ", "1234567897"),
    ("12345678-", "12345678-"),           # MOD11 check digit 10 is written '-': kept
    ("0000 0000 00", "0000000000"),
])
def test_no_kid_goes_on_the_wire_as_digits(written: str, sent: str) -> None:
    _, body = _no_wire(_invoice(Market.NO, payment_reference=written))
    assert body["invoices"][0]["ocrReferenceNumber"] == sent


@pytest.mark.parametrize(("kind", "written", "field", "sent"), [
    (CustomerKind.PERSON, "010101 12345", "identificationNumber", "01010112345"),
    (CustomerKind.PERSON, "010101-12345", "identificationNumber", "01010112345"),
    (CustomerKind.COMPANY, "923 609 016", "organizationNumber", "923609016"),
    (CustomerKind.COMPANY, "NO923609016MVA", "organizationNumber", "923609016"),
    (CustomerKind.COMPANY, "NO 923 609 016 MVA", "organizationNumber", "923609016"),
    (CustomerKind.FOREIGN, "19900101-1234", "identificationNumber", "19900101-1234"),  # not a fødselsnummer
])
def test_no_identity_numbers_are_digits_only(kind: CustomerKind, written: str, field: str, sent: str) -> None:
    name = "Fjord AS" if kind is CustomerKind.COMPANY else "Ola Nordmann"
    _, body = _no_wire(_invoice(Market.NO, customer_kind=kind, customer_name=name, customer_id_number=written))
    [debtor] = body["invoices"][0]["debtors"]
    assert debtor[field] == sent


@pytest.mark.parametrize(("written", "first", "last", "name"), [
    ("Nordmann, Ola", "Ola", "Nordmann", "Ola Nordmann"),
    ("Sárá, Áilu Niillas", "Áilu Niillas", "Sárá", "Áilu Niillas Sárá"),
    ("Ola Nordmann", "Ola", "Nordmann", "Ola Nordmann"),
    ("Kari  O'Neill-Berg", "Kari", "O'Neill-Berg", "Kari  O'Neill-Berg"),
])
def test_no_person_name_written_surname_first(written: str, first: str, last: str, name: str) -> None:
    _, body = _no_wire(_invoice(Market.NO, customer_name=written))
    [debtor] = body["invoices"][0]["debtors"]
    assert (debtor["firstname"], debtor["lastname"], debtor["name"]) == (first, last, name)


def test_no_invoice_exact_wire_format() -> None:
    """One rich Norwegian invoice, the whole request: path, headers, body (B.4 names, F.2.12 shapes)."""
    inv = _invoice(
        Market.NO, invoice_number="NO-ÆØÅ-1", total_amount=Decimal("1000000"), open_balance=Decimal("0.10"),
        vat_amount=Decimal(0), payment_reference="1234 5678 97", description="Husleie mars",
        customer_name="Čákča, Áilu", customer_id_number="010101 12345", customer_number="K-1",
        customer_email="ailu@example.no", customer_phone="+47 912 34 567",
        customer_address=Address(line1="Čuđevuotna 3", line2="H0101", zip_code="9520", city="Guovdageaidnu",
                                 country="no"),
    )
    request, body = _no_wire(inv)
    assert request.method == "POST" and request.url.path == "/collection/v1/orgs/org-1/invoices"
    assert request.headers["IdempotencyKey"] == "reg-" + "a" * 40  # F.2.2's header name
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer at"
    assert not request.url.query
    assert body == {"invoices": [{
        "type": "PAYMENT_REMINDER", "invoiceNumber": "NO-ÆØÅ-1", "vat": False, "originalInvoiceAmount": 1000000,
        "currency": "NOK", "invoiceDate": "2024-02-29T00:00:00Z", "dueDate": "2024-03-31T00:00:00Z",
        "ocrReferenceNumber": "1234567897", "uniqueSourceInvoiceId": "c/NO-ÆØÅ-1", "description": "Husleie mars",
        "debtors": [{
            "type": "PRIVATE", "firstname": "Áilu", "lastname": "Čákča", "name": "Áilu Čákča",
            "customerNumber": "K-1", "identificationNumber": "01010112345",
            "emails": [{"value": "ailu@example.no"}],
            "phoneNumbers": [{"countryCode": "+47", "originalValue": "+47 912 34 567", "value": "91234567"}],
            "addresses": [{"street": "Čuđevuotna 3, H0101", "city": "Guovdageaidnu", "zipCode": "9520",
                           "countryCode": "NO"}],
        }],
        "claims": [{"type": "PRINCIPAL", "remainingAmount": 0.1, "description": "Husleie mars"}],
    }]}


# -- Sweden: OCR reference, personnummer / organisationsnummer ---------------------------------------


@pytest.mark.parametrize(("written", "sent"), [
    ("1234 5678 97", "1234567897"),
    ("1234-5678-97", "1234567897"),
    ("REF002", "REF002"),  # the seed's own free-text reference: as written
])
def test_se_ocr_reference_goes_on_the_wire_as_digits(written: str, sent: str) -> None:
    _, body = _se_wire(_invoice(Market.SE, payment_reference=written))
    assert body["reference_number"] == sent


@pytest.mark.parametrize(("kind", "written", "sent"), [
    (CustomerKind.PERSON, "19900101-1234", "19900101-1234"),  # the seed's shape
    (CustomerKind.PERSON, "199001011234", "19900101-1234"),
    (CustomerKind.PERSON, "19900101 1234", "19900101-1234"),
    (CustomerKind.PERSON, "9001011234", "900101-1234"),
    (CustomerKind.PERSON, "121212+1212", "121212+1212"),  # '+': 100 years or older; the sign is the century
    (CustomerKind.PERSON, "556789-1234", "556789-1234"),  # the Jane Doe seed, as written
    (CustomerKind.COMPANY, "556123-4567", "556123-4567"),
    (CustomerKind.COMPANY, "5561234567", "556123-4567"),
    (CustomerKind.COMPANY, "16556123-4567", "556123-4567"),
    (CustomerKind.COMPANY, "165561234567", "556123-4567"),
    (CustomerKind.FOREIGN, "DE 123 456 789", "DE 123 456 789"),
])
def test_se_id_number_in_the_documented_shape(kind: CustomerKind, written: str, sent: str) -> None:
    country = "DE" if kind is CustomerKind.FOREIGN else "SE"
    inv = _invoice(Market.SE, customer_kind=kind, customer_id_number=written,
                   customer_address=Address(line1="Gata 1", zip_code="11122", city="Stad", country=country))
    _, body = _se_wire(inv)
    assert body["customer"]["id_number"] == sent


def test_se_invoice_exact_wire_format() -> None:
    """One rich Swedish invoice, the whole request (A.6 names, RFC 1123 dates, numbers, "25%" strings)."""
    inv = _invoice(
        Market.SE, invoice_number="FA-Å'1", invoice_date=date(2023, 12, 31), due_date=date(2024, 2, 29),
        total_amount=Decimal("60.38"), open_balance=Decimal("60.38"), vat_amount=Decimal("0.08"),
        payment_reference="1234 5678 97", customer_kind=CustomerKind.COMPANY, customer_name="Åkeri & Söner AB",
        customer_id_number="5561234567", customer_gln="7350000000001", customer_email="faktura@akeri.se",
        customer_phone="+46701234567", your_reference="Märta O'Hara",
        customer_address=Address(line1="Industrivägen 8", zip_code="41505", city="Göteborg", country="SE"),
        lines=(InvoiceLine(description="Tjänst", unit_price=Decimal("0.10"), units=Decimal(3),
                           total_excl_vat=Decimal("0.30"), vat_percent=Decimal(25)),
               InvoiceLine(description="Påminnelseavgift", total_excl_vat=Decimal(60), vat_percent=Decimal(0))),
    )
    request, body = _se_wire(inv)
    assert request.method == "POST" and request.url.path == "/invoice--registrations" and not request.url.query
    assert request.headers["Content-Type"] == "application/json" and request.headers["X-API-Key"] == "tok"
    assert body == {
        "account": ACCOUNT, "creditor": CREDITOR,
        "customer": {"name": "Åkeri & Söner AB", "id_number": "556123-4567", "is_company": True,
                     "address": {"address_line_1": "Industrivägen 8", "zip_code": "41505", "city": "Göteborg",
                                 "country": "SE", "gln": "7350000000001"},
                     "mobile_number": "+46701234567", "email": "faktura@akeri.se"},
        "invoice_type": "invoice", "invoice_number": "FA-Å'1", "reference_number": "1234567897",
        "invoice_date": "Sun, 31 Dec 2023 00:00:00 GMT", "invoice_due_date": "Thu, 29 Feb 2024 00:00:00 GMT",
        "currency": "SEK", "your_reference": "Märta O'Hara",
        "matrix": [
            {"article_description": "Tjänst", "unit_price": 0.1, "number_of_units": 3,
             "total_price_excluding_vat": 0.3, "unit_vat_percent": "25%"},
            {"article_description": "Påminnelseavgift", "total_price_excluding_vat": 60, "unit_vat_percent": "0%"},
        ],
        "preferred_invoice_distribution": "electronic_invoicing_company",
    }


def test_se_line_without_vat_rate_on_a_vat_free_invoice_is_sent_as_zero_percent() -> None:
    """A row without ``unit_vat_percent`` is taxed at Amili's default 25 % (A.6 / seed table): a VAT-free
    invoice whose lines carry no rate would be claimed with 25 % VAT, offset by an "already paid" row."""
    inv = _invoice(Market.SE, total_amount=Decimal(1000), open_balance=Decimal(1000), vat_amount=Decimal(0),
                   lines=(InvoiceLine(description="Hyra", total_excl_vat=Decimal(1000)),))
    _, body = _se_wire(inv)
    assert body["matrix"] == [{"article_description": "Hyra", "total_price_excluding_vat": 1000, "unit_vat_percent": "0%"}]
