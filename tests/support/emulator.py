"""Shared data and helpers for the emulator tests (seed example bodies, factories, config)."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from amili_pipelines.emulator.config import EmulatorConfig
from tests.support.seed_bodies import seed_body as load_seed

SE_ACCOUNT = "674dbeaf08847b9501cc9132"
SE_CREDITOR = "674dbeb208847b9501cc9138"
NO_ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"

# The seed documents' example bodies, verbatim (Python versions; dates as the seeds produce them).
PERSON = load_seed("person")
COMPANY = load_seed("company")
JANE_DOE = load_seed("jane_doe")

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
