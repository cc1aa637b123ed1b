"""The canonical source invoice: what every source produces and validation consumes.

A source maps its own columns onto these fields. It never drops a row: a value it cannot parse
stays ``None`` here and is reported as a :class:`~amili_pipelines.domain.issues.Issue` in
``parse_issues`` with the raw text, so validation can quarantine the invoice with a reason.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from amili_pipelines.domain.issues import Issue


class Market(StrEnum):
    SE = "SE"
    NO = "NO"


class CustomerKind(StrEnum):
    """Exactly one of these per debtor (Amili Sweden: is_person / is_company / is_foreign)."""

    PERSON = "person"
    COMPANY = "company"
    FOREIGN = "foreign"


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


class InvoiceLine(BaseModel):
    """One line item ("matrix" row in Amili Sweden)."""

    model_config = ConfigDict(frozen=True)

    description: str | None = None
    article_number: str | None = None
    unit_price: Decimal | None = None
    units: Decimal | None = None
    total_excl_vat: Decimal | None = None
    vat_percent: Decimal | None = None  # 25 means 25 %


class SourceInvoice(BaseModel):
    """An unpaid invoice as read from a creditor's source system, before validation."""

    model_config = ConfigDict(frozen=True)

    # Provenance: where it came from, so every message can name file, row and field.
    source: str  # the source's name in the creditors file
    location: str  # file path, table name or URL of what was read
    row: int  # 1-based record number within `location` (CSV data row, XML document, SQL row)

    creditor: str  # the creditor's key in the creditors file
    market: Market

    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    delivery_date: date | None = None
    currency: str | None = None
    total_amount: Decimal | None = None  # invoice total including VAT
    open_balance: Decimal | None = None  # what is still unpaid; equals total when nothing was paid
    vat_amount: Decimal | None = None
    payment_reference: str | None = None  # Swedish OCR or Norwegian KID, if the creditor issued one
    description: str | None = None
    your_reference: str | None = None
    our_reference: str | None = None
    contract_reference: str | None = None
    order_reference: str | None = None

    customer_kind: CustomerKind | None = None
    customer_name: str | None = None
    customer_first_name: str | None = None
    customer_last_name: str | None = None
    customer_number: str | None = None
    customer_id_number: str | None = None  # personnummer / orgnr / fødselsnummer, as written
    customer_email: str | None = None
    customer_phone: str | None = None
    customer_gln: str | None = None
    customer_address: Address = Field(default_factory=Address)

    lines: tuple[InvoiceLine, ...] = ()

    # Fingerprint of the source record's content: a changed row is a new version of the invoice.
    content_hash: str | None = None
    parse_issues: tuple[Issue, ...] = ()

    @property
    def invoice_key(self) -> str:
        return invoice_key(self.creditor, self.invoice_number, self.location, self.row)


def invoice_key(creditor: str, invoice_number: str | None, location: str = "", row: int = 0) -> str:
    """The business key of an invoice: creditor + invoice number.

    An invoice without a number cannot be registered, but it must still be tracked (quarantined),
    so it gets a key from where it was read instead.
    """
    if invoice_number:
        return f"{creditor}/{invoice_number}"
    return f"{creditor}/?{location}#{row}"


def idempotency_key(creditor: str, invoice_number: str, market: Market | str, purpose: str = "register") -> str:
    """Deterministic key for one action on one invoice at Amili; the same on every retry and rerun."""
    raw = f"{purpose}|{Market(market).value}|{creditor}|{invoice_number}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]
