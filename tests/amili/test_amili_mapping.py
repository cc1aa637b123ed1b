"""Mapping the canonical SourceInvoice onto each market's payload (pure functions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from amili_pipelines.amili.mapping import (
    MappingError,
    to_no_invoice,
    to_se_registration,
    vat_percent_text,
)
from amili_pipelines.amili.se.models import InvoiceRegistration
from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    Market,
    SourceInvoice,
    idempotency_key,
)
from tests.support.amili import (
    ACCOUNT,
    CREDITOR,
    SEED_COMPANY,
    SEED_JANE_DOE,
    SEED_PERSON,
)


def _source(**overrides: Any) -> SourceInvoice:
    base: dict[str, Any] = {
        "source": "demo",
        "location": "invoices.csv",
        "row": 1,
        "creditor": "acme",
        "market": Market.SE,
    }
    return SourceInvoice(**{**base, **overrides})


PERSON = _source(
    invoice_number="INV-2026-001",
    invoice_date=date(2026, 3, 31),
    due_date=date(2026, 4, 30),
    currency="SEK",
    total_amount=Decimal("625.00"),
    open_balance=Decimal("625.00"),
    customer_kind=CustomerKind.PERSON,
    customer_name="Anna Andersson",
    customer_id_number="19900101-1234",
    customer_phone="+46701234567",
    customer_email="anna.andersson@example.se",
    customer_address=Address(line1="Storgatan 12", zip_code="11122", city="Stockholm", country="SE"),
    lines=(
        InvoiceLine(
            description="Service fee", unit_price=Decimal("500.0"), units=Decimal(1), total_excl_vat=Decimal("500.0"), vat_percent=Decimal(25)
        ),
    ),
)

COMPANY = _source(
    invoice_number="INV-2026-002",
    invoice_date=date(2026, 3, 31),
    due_date=date(2026, 4, 30),
    currency="SEK",
    your_reference="Maria Johansson",
    contract_reference="AVT-2026-100",
    customer_kind=CustomerKind.COMPANY,
    customer_name="Exempel Bygg AB",
    customer_number="CUST-10042",
    customer_id_number="556123-4567",
    customer_gln="7350000000001",
    customer_email="faktura@exempelbygg.se",
    customer_address=Address(line1="Industrivägen 8", zip_code="41505", city="Göteborg", country="SE"),
    lines=(
        InvoiceLine(
            description="Service fee", unit_price=Decimal(1200), units=Decimal(1), total_excl_vat=Decimal(1200), vat_percent=Decimal("25.00")
        ),
    ),
)

JANE = _source(
    invoice_number="INV-2024-002",
    invoice_date=date(2024, 1, 21),
    delivery_date=date(2024, 1, 21),
    due_date=date(2024, 1, 31),
    currency="SEK",
    payment_reference="REF002",
    description="Professional consulting services",
    your_reference="YOUR-REF-001",
    our_reference="OUR-REF-001",
    customer_kind=CustomerKind.PERSON,
    customer_name="Jane Doe",
    customer_number="12345",
    customer_id_number="556789-1234",
    customer_phone="+46709876543",
    customer_email="jane.doe@domain.se",
    customer_address=Address(line1="Business Street 456", zip_code="54321", city="Gothenburg"),
    lines=(InvoiceLine(description="Consulting hours", unit_price=Decimal(500), total_excl_vat=Decimal(500), vat_percent=Decimal(0)),),
)


def _without_dates(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("invoice_") or k in ("invoice_number", "invoice_type")}


@pytest.mark.parametrize(
    ("source", "seed", "not_mapped"),
    [
        (PERSON, SEED_PERSON, set()),
        (COMPANY, SEED_COMPANY, set()),
        # Headline, body text, your_contact and payout_reference have no canonical field.
        (JANE, SEED_JANE_DOE, {"invoice_headline", "invoice_body_text", "your_contact", "payout_reference"}),
    ],
)
def test_se_mapping_reproduces_the_seed_examples(source: SourceInvoice, seed: dict[str, Any], not_mapped: set[str]) -> None:
    registration = to_se_registration(source, account_id=ACCOUNT, creditor_id=CREDITOR)
    expected = InvoiceRegistration.model_validate({k: v for k, v in seed.items() if k not in not_mapped}).to_body()
    got = registration.to_body()
    assert _without_dates(got) == _without_dates(expected)
    assert got["invoice_due_date"] == expected["invoice_due_date"].replace("10:11:22", "00:00:00")


def test_se_mapping_single_line_from_totals_and_failures() -> None:
    inv = _source(
        invoice_number="7",
        invoice_date=date(2025, 1, 1),
        due_date=date(2025, 1, 31),
        total_amount=Decimal("1250.00"),
        vat_amount=Decimal("250.00"),
        customer_kind=CustomerKind.FOREIGN,
        customer_first_name="John",
        customer_last_name="Smith",
    )
    body = to_se_registration(inv, account_id=ACCOUNT, creditor_id=CREDITOR).to_body()
    assert body["matrix"] == [{"article_description": "Invoice 7", "total_price_excluding_vat": 1000, "unit_vat_percent": "25%"}]
    assert body["customer"] == {"name": "John Smith", "is_foreign": True}
    with pytest.raises(MappingError, match="customer_kind"):
        to_se_registration(inv.model_copy(update={"customer_kind": None}), account_id=ACCOUNT, creditor_id=CREDITOR)
    with pytest.raises(MappingError, match="SEK"):
        to_se_registration(inv.model_copy(update={"currency": "EUR"}), account_id=ACCOUNT, creditor_id=CREDITOR)
    with pytest.raises(MappingError, match="due_date"):
        to_se_registration(inv.model_copy(update={"due_date": None}), account_id=ACCOUNT, creditor_id=CREDITOR)


@pytest.mark.parametrize(("value", "text"), [(Decimal(25), "25%"), (Decimal("12.50"), "12.5%"), (Decimal("0.00"), "0%"), (Decimal("6"), "6%")])
def test_vat_percent_text(value: Decimal, text: str) -> None:
    assert vat_percent_text(value) == text


def test_no_mapping_person_and_company() -> None:
    person = _source(
        market=Market.NO,
        invoice_number="10001",
        invoice_date=date(2024, 1, 15),
        due_date=date(2024, 2, 1),
        currency="NOK",
        total_amount=Decimal("1250.00"),
        open_balance=Decimal("750.00"),
        vat_amount=Decimal("250.00"),
        payment_reference="0000100012",
        description="Strøm januar",
        customer_kind=CustomerKind.PERSON,
        customer_name="Ola Nordmann",
        customer_id_number="01019012345",
        customer_phone="+47 912 34 567",
        customer_email="ola@example.no",
        customer_address=Address(line1="Karl Johans gate 1", zip_code="0154", city="Oslo"),
    )
    key = idempotency_key("acme", "10001", Market.NO)
    body = to_no_invoice(person, unique_source_invoice_id=key).to_body()
    assert body["uniqueSourceInvoiceId"] == key and body["ocrReferenceNumber"] == "0000100012"
    assert body["claims"] == [{"type": "PRINCIPAL", "remainingAmount": 750, "description": "Strøm januar"}]
    assert body["originalInvoiceAmount"] == 1250 and body["vat"] is True and body["type"] == "PAYMENT_REMINDER"
    debtor = body["debtors"][0]
    assert debtor["type"] == "PRIVATE" and debtor["firstname"] == "Ola" and debtor["lastname"] == "Nordmann"
    assert debtor["identificationNumber"] == "01019012345"
    assert debtor["phoneNumbers"] == [{"countryCode": "+47", "originalValue": "+47 912 34 567", "value": "91234567"}]
    assert debtor["addresses"] == [{"street": "Karl Johans gate 1", "city": "Oslo", "zipCode": "0154", "countryCode": "NO"}]

    company = person.model_copy(
        update={"customer_kind": CustomerKind.COMPANY, "customer_name": "Nordmann AS", "customer_id_number": "923609016"}
    )
    debtor = to_no_invoice(company, unique_source_invoice_id=key).to_body()["debtors"][0]
    assert debtor["type"] == "COMPANY" and debtor["organizationNumber"] == "923609016" and "firstname" not in debtor
