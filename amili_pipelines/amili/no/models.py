"""Amili Norway (Collection API v1) request and response models.

The wire format is camelCase; the Python names are snake_case (``alias_generator``). Request
models forbid unknown fields so a typo fails here; read models ignore unknown fields and keep
enum values as plain strings (reference F.3). ``model_dump(by_alias=True, exclude_none=True)``
is the JSON body.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from amili_pipelines.amili.errors import ApiIssue, ApiRejection
from amili_pipelines.amili.fields import (
    CodeText,
    FlexDate,
    FlexDatetime,
    IsoDate,
    IsoDatetime,
    IsoMidnight,
    Money,
    TolerantList,
    WholeSeconds,
)

TERMINAL_BATCH_STATUSES = frozenset({"SUCCESS", "PARTIAL", "FAILED"})

# Invoice numbers, ids and references in answers: a server may send a JSON number (F.3). Kept as the
# text of the number, ``1001`` and ``1001.0`` both as "1001", so it still equals the invoice number
# that was sent, and one such item does not fail the whole read.
IdText = CodeText


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel)

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=to_camel)


# ---------------------------------------------------------------------------------------------
# Create invoices (POST /orgs/{org}/invoices): B.4 + F.2.12
# ---------------------------------------------------------------------------------------------


class Email(_Request):
    value: str


class PhoneNumber(_Request):
    country_code: str | None = None
    original_value: str | None = None
    value: str | None = None


class DebtorAddress(_Request):
    street: str | None = None
    city: str | None = None
    zip_code: str | None = None
    country_code: str | None = None


class Debtor(_Request):
    type: str  # PRIVATE | COMPANY (F.2.9)
    # The create schema spells these all lower case ("firstname"), unlike the read side ("firstName").
    firstname: str | None = None
    lastname: str | None = None
    name: str | None = None
    customer_number: str | None = None
    identification_number: str | None = None
    organization_number: str | None = None
    date_of_birth: IsoDate | None = None
    emails: list[Email] | None = None
    phone_numbers: list[PhoneNumber] | None = None
    addresses: list[DebtorAddress] | None = None


class Claim(_Request):
    type: str = "PRINCIPAL"  # PRINCIPAL | FEE | INTEREST (F.2.9)
    remaining_amount: Money
    description: str | None = None


class InvoiceCreate(_Request):
    """One element of ``{"invoices": [...]}``."""

    type: str = "NOTICE"  # NOTICE | PAYMENT_REMINDER | COLLECTION_NOTICE (F.2.9)
    invoice_number: str
    vat: bool | None = None
    fees: bool | None = None
    original_invoice_amount: Money
    currency: str = "NOK"
    invoice_date: IsoMidnight
    due_date: IsoMidnight
    collection_notice_date: IsoMidnight | None = None
    ocr_reference_number: str | None = None  # KID
    unique_source_invoice_id: str | None = None
    description: str | None = None
    debtors: list[Debtor] = Field(min_length=1)
    claims: list[Claim] = Field(min_length=1)


class Payment(_Request):
    """A payment the debtor made directly to the creditor (``{"payments": [...]}``)."""

    model_config = ConfigDict(extra="allow")  # the docs list only some fields; let callers add the rest

    invoice_id: str
    type: str = "DIRECT_PAYMENT"
    amount: Money
    currency: str = "NOK"
    payment_date: IsoDate | None = None  # likely field (B.8 INF); the emulator accepts it


class Correction(_Request):
    """A reduction of the claim (credit note) on an invoice (``{"corrections": [...]}``)."""

    invoice_id: str
    amount: Money
    currency: str = "NOK"
    date: IsoDatetime | None = None
    description: str | None = None


# ---------------------------------------------------------------------------------------------
# Batches (B.7 + F.2.3)
# ---------------------------------------------------------------------------------------------


class BatchRef(_Read):
    """202 answer to an asynchronous write: where to poll for the outcome."""

    batch_id: IdText
    batch_url: str | None = None


class BatchItemError(_Read):
    code: CodeText | None = None  # "DUPLICATE" or 4001: kept as text
    message: str | None = None
    field: str | None = None


class SucceededItem(_Read):
    invoice_id: IdText | None = None
    invoice_number: IdText | None = None
    case_id: IdText | None = None
    unique_source_invoice_id: IdText | None = None
    index: int | None = None


class FailedItem(_Read):
    index: int | None = None  # position in the submitted array
    invoice_number: IdText | None = None
    unique_source_invoice_id: IdText | None = None
    errors: TolerantList[BatchItemError] = Field(default_factory=list)

    def to_rejection(self) -> ApiRejection:
        """The API's own reasons for this item, as the error type the outbox records."""
        issues = [ApiIssue(field=e.field or "_", message=e.message or "", code=e.code) for e in self.errors]
        return ApiRejection(
            f"batch item {self.index} ({self.invoice_number}) rejected",
            issues=issues,
            raw=[e.model_dump() for e in self.errors],
            item_index=self.index,
        )


class Batch(_Read):
    batch_id: IdText
    type: str | None = None
    status: str | None = None  # QUEUED → SUCCESS | PARTIAL | FAILED; anything else = still running
    created_at: FlexDatetime | None = None
    finished_at: FlexDatetime | None = None
    organization_id: IdText | None = None
    created_by: IdText | None = None
    idempotency_key: IdText | None = None
    # null (a .NET server's empty list) is [], null items (B.7 documents ``failed`` as [null]) are dropped
    succeeded: TolerantList[SucceededItem] = Field(default_factory=list)
    failed: TolerantList[FailedItem] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return is_terminal_status(self.status)


def is_terminal_status(status: str | None) -> bool:
    """SUCCESS, PARTIAL or FAILED in any letter case ("Success" from another server counts too)."""
    return (status or "").strip().upper() in TERMINAL_BATCH_STATUSES


# ---------------------------------------------------------------------------------------------
# Invoices, cases, settlements (read side)
# ---------------------------------------------------------------------------------------------


class Organization(_Read):
    id: IdText | None = None
    organization_number: IdText | None = None
    name: str | None = None


class InvoiceRecord(_Read):
    """An invoice as Amili Norway holds it (``GET /orgs/{org}/invoices``)."""

    id: IdText = Field(validation_alias=AliasChoices("id", "invoiceId", "invoice_id"))
    organization: Organization | None = None
    invoice_number: IdText | None = None
    collection_case_number: Any = None
    case_id: IdText | None = None
    type: str | None = None
    status: str | None = None
    sub_status: str | None = None
    created_at: FlexDatetime | None = None
    registered_at: FlexDatetime | None = None
    invoice_date: FlexDate | None = None
    due_date: FlexDate | None = None
    batch_id: IdText | None = None
    original_amount: Money | None = None
    remaining_amount: Money | None = None
    remaining_principal: Money | None = None
    paid_amount: Money | None = None
    credited_amount: Money | None = None
    currency: str | None = None
    unique_source_invoice_id: IdText | None = None
    ocr_reference_number: IdText | None = None


class CaseInvoice(_Read):
    invoice_id: IdText | None = Field(default=None, validation_alias=AliasChoices("invoiceId", "id", "invoice_id"))
    invoice_number: IdText | None = None
    case_id: IdText | None = None
    invoice_date: FlexDate | None = None
    due_date: FlexDate | None = None
    batch_id: IdText | None = None
    registered_at: FlexDatetime | None = None
    original_amount: Money | None = None
    remaining_amount: Money | None = None
    remaining_principal: Money | None = None
    unique_source_invoice_id: IdText | None = None
    paid_amount: Money | None = None
    credited_amount: Money | None = None
    currency: str | None = None


class CaseDebtor(_Read):
    debtor_id: IdText | None = None
    type: str | None = None
    debtor_number: Any = None
    customer_number: IdText | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    # Echoed from the debtor as registered (B.4): a person's fødselsnummer, a company's organisasjonsnummer.
    identification_number: IdText | None = None
    organization_number: IdText | None = None


class Case(_Read):
    case_id: IdText = Field(validation_alias=AliasChoices("caseId", "id", "case_id"))
    case_number: int | str | None = None
    organization_id: IdText | None = None
    creditor_id: IdText | None = None
    creditor_number: Any = None
    status: str | None = None
    sub_status: str | None = None
    type: str | None = None
    description: str | None = None
    registered_at: FlexDatetime | None = None
    closed_at: FlexDatetime | None = None
    case_token: IdText | None = None
    invoices: list[CaseInvoice | IdText] = Field(default_factory=list)
    debtors: list[CaseDebtor] = Field(default_factory=list)


class Settlement(_Read):
    """Money Amili paid out for one invoice (F.2.5)."""

    settlement_id: IdText = Field(validation_alias=AliasChoices("settlementId", "id", "settlement_id"))
    settlement_date: FlexDate | None = None
    invoice_id: IdText | None = None
    invoice_number: IdText | None = None
    case_number: int | str | None = None
    unique_source_invoice_id: IdText | None = None
    currency: str | None = None
    principal_amount: Money | None = None
    interest_amount: Money | None = None
    fee_amount: Money | None = None
    commission_amount: Money | None = None
    vat_amount: Money | None = None
    payout_amount: Money | None = None
    collection_type: str | None = None
    customer_reference: IdText | None = None
    exchange_rate: Money | None = None


class Problem(_Read):
    """RFC 7807 problem+json error body (F.2.1).

    ``errors`` is kept as received: F.2.1 assumes ``{"<field>": ["<msg>", ...]}``, but a server may
    send a list (``[{"field": ..., "message": ...}]`` or ``["<msg>", ...]``);
    :func:`amili_pipelines.amili.no.errors.problem_issues` reads every shape.
    """

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    trace_id: str | None = None
    errors: Any = None


class NoToken(BaseModel):
    """OAuth2 client-credentials answer (Azure AD v1 shape)."""

    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr
    token_type: str = "Bearer"
    # Unix seconds / a lifetime: a number, a numeric string (Azure AD v1 sends strings) or a fraction.
    not_before: WholeSeconds | None = None
    expires_in: WholeSeconds | None = None
    expires_on: WholeSeconds | None = None
    resource: str | None = None
