"""Shared data and helpers for the emulator tests (seed example bodies, factories, config)."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from amili_pipelines.emulator.config import EmulatorConfig

SE_ACCOUNT = "674dbeaf08847b9501cc9132"
SE_CREDITOR = "674dbeb208847b9501cc9138"
NO_ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"

# The seed documents' example bodies, verbatim (Python versions; dates as the seeds produce them).
PERSON = {
    "account": "674dbeaf08847b9501cc9132",
    "creditor": "674dbeb208847b9501cc9138",
    "invoice_number": "INV-2026-001",
    "invoice_date": "2026-03-31T09:15:02.123456Z",
    "invoice_due_date": "2026-04-30T00:00:00Z",
    "currency": "SEK",
    "invoice_type": "invoice",
    "customer": {
        "name": "Anna Andersson",
        "id_number": "19900101-1234",
        "is_person": True,
        "address": {"address_line_1": "Storgatan 12", "zip_code": "11122", "city": "Stockholm", "country": "SE"},
        "mobile_number": "+46701234567",
        "email": "anna.andersson@example.se",
    },
    "matrix": [{
        "article_description": "Service fee",
        "unit_price": 500.0,
        "number_of_units": 1,
        "total_price_excluding_vat": 500.0,
        "unit_vat_percent": "25%",
    }],
}

COMPANY = {
    "account": "674dbeaf08847b9501cc9132",
    "creditor": "674dbeb208847b9501cc9138",
    "invoice_number": "INV-2026-002",
    "invoice_date": "2026-03-31T09:15:02.123Z",
    "invoice_due_date": "2026-04-30T00:00:00Z",
    "currency": "SEK",
    "invoice_type": "invoice",
    "preferred_invoice_distribution": "electronic_invoicing_company",
    "your_reference": "Maria Johansson",
    "contract_reference": "AVT-2026-100",
    "customer": {
        "name": "Exempel Bygg AB",
        "customer_number": "CUST-10042",
        "id_number": "556123-4567",
        "is_company": True,
        "address": {
            "gln": "7350000000001",
            "address_line_1": "Industrivägen 8",
            "zip_code": "41505",
            "city": "Göteborg",
            "country": "SE",
        },
        "email": "faktura@exempelbygg.se",
    },
    "matrix": [{
        "article_description": "Service fee",
        "unit_price": 1200.0,
        "number_of_units": 1,
        "total_price_excluding_vat": 1200.0,
        "unit_vat_percent": "25%",
    }],
}

JANE_DOE = {
    "customer": {
        "name": "Jane Doe",
        "customer_number": "12345",
        "id_number": "556789-1234",
        "is_person": True,
        "address": {"address_line_1": "Business Street 456", "zip_code": "54321", "city": "Gothenburg"},
        "mobile_number": "+46709876543",
        "email": "jane.doe@domain.se",
    },
    "account": "674dbeaf08847b9501cc9132",
    "creditor": "674dbeb208847b9501cc9138",
    "invoice_type": "invoice",
    "invoice_number": "INV-2024-002",
    "reference_number": "REF002",
    "payout_reference": "PAY002",
    "invoice_date": "Wed, 21 Jan 2024 10:11:22 GMT",
    "invoice_delivery_date": "Wed, 21 Jan 2024 10:11:22 GMT",
    "invoice_due_date": "Wed, 31 Jan 2024 10:11:22 GMT",
    "invoice_headline": "Consulting Services",
    "invoice_body_text": "Thank you for your business",
    "currency": "SEK",
    "your_contact": "Contact Person",
    "your_reference": "YOUR-REF-001",
    "our_reference": "OUR-REF-001",
    "debt_description": "Professional consulting services",
    "matrix": [{
        "article_description": "Consulting hours",
        "unit_price": 500,
        "total_price_excluding_vat": 500,
        "unit_vat_percent": "0%",
    }],
}

# The Apidog CreateInvoices example with the placeholders filled in.
NO_INVOICE = {
    "type": "NOTICE",
    "invoiceNumber": "NO-1",
    "vat": True,
    "fees": True,
    "originalInvoiceAmount": 1000,
    "currency": "NOK",
    "invoiceDate": "2024-01-15T00:00:00Z",
    "dueDate": "2024-01-30",
    "collectionNoticeDate": None,
    "ocrReferenceNumber": "1234567890",
    "uniqueSourceInvoiceId": "ERP-1",
    "description": "Consulting",
    "debtors": [{
        "type": "PRIVATE",
        "firstname": "Ola",
        "lastname": "Nordmann",
        "name": "Ola Nordmann",
        "customerNumber": "C-1",
        "identificationNumber": "01019012345",
        "dateOfBirth": "1990-01-01",
        "emails": [{"value": "ola@example.no"}],
        "phoneNumbers": [{"countryCode": "47", "originalValue": "+4791234567", "value": "91234567"}],
        "addresses": [{"street": "Karl Johans gate 1", "city": "Oslo", "zipCode": "0154", "countryCode": "NO"}],
    }],
    "claims": [{"type": "PRINCIPAL", "remainingAmount": 1000, "description": "Consulting"}],
}

_numbers = itertools.count(1)


def se_invoice(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(PERSON)
    body["invoice_number"] = f"T-{next(_numbers):06d}"
    body.update(overrides)
    return body


def no_invoice(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(NO_INVOICE)
    n = next(_numbers)
    body["invoiceNumber"] = f"NO-{n:06d}"
    body["uniqueSourceInvoiceId"] = f"ERP-{n:06d}"
    body.update(overrides)
    return body


def make_config(**overrides: Any) -> EmulatorConfig:
    """Deterministic config: frozen clock at a fixed start."""
    data: dict[str, Any] = {"seed": 7, "clock": {"start": "2026-01-05T08:00:00Z", "speed": 0.0}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return EmulatorConfig.model_validate(data)
