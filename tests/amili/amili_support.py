"""Shared fixtures for the Amili client tests: the seed request bodies and a MockTransport helper."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

ACCOUNT = "674dbeaf08847b9501cc9132"
CREDITOR = "674dbeb208847b9501cc9138"

# The three request bodies of the seed documents, verbatim (dates as the docs wrote them).
SEED_PERSON: dict[str, Any] = {
    "account": ACCOUNT,
    "creditor": CREDITOR,
    "invoice_number": "INV-2026-001",
    "invoice_date": "2026-03-31T09:15:00.123456Z",
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
    "matrix": [
        {
            "article_description": "Service fee",
            "unit_price": 500.0,
            "number_of_units": 1,
            "total_price_excluding_vat": 500.0,
            "unit_vat_percent": "25%",
        }
    ],
}
SEED_COMPANY: dict[str, Any] = {
    "account": ACCOUNT,
    "creditor": CREDITOR,
    "invoice_number": "INV-2026-002",
    "invoice_date": "2026-03-31T09:15:00Z",
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
    "matrix": [
        {
            "article_description": "Service fee",
            "unit_price": 1200.0,
            "number_of_units": 1,
            "total_price_excluding_vat": 1200.0,
            "unit_vat_percent": "25%",
        }
    ],
}
SEED_JANE_DOE: dict[str, Any] = {
    "customer": {
        "name": "Jane Doe",
        "customer_number": "12345",
        "id_number": "556789-1234",
        "is_person": True,
        "address": {"address_line_1": "Business Street 456", "zip_code": "54321", "city": "Gothenburg"},
        "mobile_number": "+46709876543",
        "email": "jane.doe@domain.se",
    },
    "account": ACCOUNT,
    "creditor": CREDITOR,
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
    "matrix": [
        {
            "article_description": "Consulting hours",
            "unit_price": 500,
            "total_price_excluding_vat": 500,
            "unit_vat_percent": "0%",
        }
    ],
}
SEEDS = {"person": SEED_PERSON, "company": SEED_COMPANY, "jane_doe": SEED_JANE_DOE}


@pytest.fixture(params=sorted(SEEDS))
def seed_body(request: pytest.FixtureRequest) -> dict[str, Any]:
    return copy.deepcopy(SEEDS[request.param])


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that records requests and answers from a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == path)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})})


# -- the emulator (real HTTP on loopback) -----------------------------------------------------------


@pytest.fixture(scope="session")
def amili_emulator() -> Any:
    from amili_pipelines.emulator.testing import running_emulator

    with running_emulator() as emu:
        yield emu


@pytest.fixture
def emulator(amili_emulator: Any) -> Any:
    """A clean emulator: state reset, faults off, request counters zeroed."""
    amili_emulator.admin.clear_faults()
    amili_emulator.admin.reset()
    amili_emulator.admin.reset_stats()
    yield amili_emulator
    amili_emulator.admin.clear_faults()
