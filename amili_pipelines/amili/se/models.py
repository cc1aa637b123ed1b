"""Amili Sweden (ADA API) request and response models.

Request models mirror the documented property tables of ``POST /invoice--registrations`` and the
creditor case actions exactly (``extra="forbid"``: a misspelt field fails here, not at Amili).
``model_dump(exclude_none=True)`` is the JSON body: dates become RFC 1123 strings, money JSON
numbers.

Read models are tolerant (reference F.3): unknown fields are ignored, enum-like values stay plain
strings, and every field that exists only because of an assumption in reference part F is
optional.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from amili_pipelines.amili.fields import (
    CodeText,
    FlexDatetime,
    Money,
    RfcDatetime,
    TolerantList,
    parse_datetime,
)

_VAT_PERCENT = r"^\d{1,2}(\.\d+)?%$"
_WORD = re.compile(r"^[A-Za-z][A-Za-z_ -]*$")


def _ocr_text(value: Any) -> Any:
    """An OCR number sent as a JSON number: its digits as text (a number has no leading zeros to lose).

    A fraction, or a float beyond 2**53 (its digits already lost on the way), gives no OCR (None)
    rather than a wrong one.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) <= 2**53 else None
    return value


# OCR numbers read back (optional): text, or a JSON number turned into its digits (F.3).
OcrText = Annotated[str | None, BeforeValidator(_ocr_text)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _EveDocument(_Read):
    """The meta fields Eve puts on every stored document. Ids (here and on the read models below)
    sent as JSON numbers are read as their text (F.3): one such item must not fail a whole read."""

    id: CodeText = Field(validation_alias=AliasChoices("_id", "id"))
    created: FlexDatetime | None = Field(default=None, validation_alias=AliasChoices("_created", "created"))
    updated: FlexDatetime | None = Field(default=None, validation_alias=AliasChoices("_updated", "updated"))
    etag: CodeText | None = Field(default=None, validation_alias=AliasChoices("_etag", "etag"))


class _EveWriteResult(_EveDocument):
    """The 201 body of an Eve POST: the meta fields plus ``_status``."""

    eve_status: str | None = Field(default=None, validation_alias=AliasChoices("_status", "eve_status"))


# ---------------------------------------------------------------------------------------------
# Invoice registration request (POST /invoice--registrations)
# ---------------------------------------------------------------------------------------------


class CarRegistration(_Request):
    number: str
    country: str | None = None  # Amili defaults to "SE"
    ownership_date: RfcDatetime | None = None  # defaults to invoice_date at Amili


class Address(_Request):
    address_line_1: str | None = None
    address_line_2: str | None = None
    address_line_3: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
    gln: str | None = None  # Global Location Number: Peppol routing for company e-invoices


class Customer(_Request):
    name: str
    customer_number: str | None = None
    id_number: str | None = None  # optional at registration, required for enforcement
    is_person: bool | None = None
    is_company: bool | None = None
    is_foreign: bool | None = None
    address: Address | None = None
    mobile_number: str | None = None
    email: str | None = None
    car_registration: CarRegistration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Customer:
        kinds = [k for k in ("is_person", "is_company", "is_foreign") if getattr(self, k) is True]
        if len(kinds) != 1:
            raise ValueError(
                f"exactly one of is_person, is_company, is_foreign must be true (got {kinds or 'none'})"
            )
        if self.car_registration is not None and self.customer_number is not None:
            raise ValueError("car_registration excludes customer_number")
        return self

    @property
    def kind(self) -> Literal["person", "company", "foreign"]:
        if self.is_person:
            return "person"
        return "company" if self.is_company else "foreign"


class MatrixItem(_Request):
    """One invoice line ("matrix" row)."""

    article_number: str | None = None
    article_description: str
    unit_price: Money | None = None
    number_of_units: Money | None = None
    total_price_excluding_vat: Money
    unit_vat_percent: str | None = Field(default=None, pattern=_VAT_PERCENT)  # "25%"; Amili defaults to "25%"
    is_discount: bool | None = None
    cost_center: str | None = None
    article_date: RfcDatetime | None = None
    order_line_reference: str | None = None
    custom_column_data: list[str] | None = None
    extra_rows: list[str] | None = None


class InvoiceRegistration(_Request):
    """Body of ``POST /invoice--registrations``: an invoice Amili distributes; it creates a case."""

    account: str
    creditor: str
    customer: Customer
    invoice_type: str = "invoice"
    invoice_number: str
    reference_number: str | None = None
    payout_reference: str | None = None
    invoice_date: RfcDatetime
    invoice_due_date: RfcDatetime
    invoice_delivery_date: RfcDatetime | None = None
    invoice_headline: str | None = None
    invoice_body_text: str | None = None
    currency: Literal["SEK"] = "SEK"
    your_contact: str | None = None
    your_reference: str | None = None
    our_reference: str | None = None
    your_additional_reference: str | None = None
    order_reference: str | None = None
    contract_reference: str | None = None
    debt_description: str | None = None
    letter_template: str | None = None  # deprecated by Amili 2025-06-13; kept so old payloads validate
    custom_column_headlines: list[str] | None = None
    matrix: list[MatrixItem] = Field(min_length=1)
    preferred_invoice_distribution: str | None = None  # "electronic_invoicing_company" = Peppol
    case_settings: dict[str, Any] | None = None
    labels: list[str] | None = None
    file_import_report: dict[str, Any] | None = None  # read-only at Amili; never set it when sending
    start_flow: bool | None = None

    def to_body(self) -> dict[str, Any]:
        """The JSON body as sent to Amili."""
        return self.model_dump(exclude_none=True)

    def to_wire(self) -> bytes:
        """``to_body()`` as the bytes that go on the wire (what ``json=`` would send): serialise once,
        store, send the stored bytes. pydantic's own JSON writer gives the same bytes as
        ``json_bytes(to_body())`` for amounts in öre (tests/amili/test_amili_models.py holds it to
        that; below 0.0001 it writes 0.00001 where ``json`` writes 1e-05, the same number) in half
        the time."""
        return self.model_dump_json(exclude_none=True).encode()


class InvoiceRegistrationResult(_EveWriteResult):
    """201 answer to an invoice registration. ``case`` is the id every later action uses."""

    invoice: CodeText | None = Field(default=None, validation_alias=AliasChoices("_invoice", "invoice"))
    case: CodeText = Field(validation_alias=AliasChoices("_case", "case"))
    ocr_number: OcrText = Field(default=None, validation_alias=AliasChoices("_ocr_number", "ocr_number"))
    # Documented as ``ocr_number_ocr``; F.1.6 says the emulator also sends ``_ocr_number_ocr``.
    # A JSON number is read as its digits.
    ocr_number_ocr: OcrText = Field(
        default=None, validation_alias=AliasChoices("ocr_number_ocr", "_ocr_number_ocr")
    )


class InvoiceRegistrationRecord(_EveDocument):
    """A stored invoice registration as listed by ``GET /invoice--registrations``.

    Which result fields Eve keeps on the stored document is undocumented, so ``case``, ``invoice``
    and the OCR fields are optional; the client fills ``case`` from ``/cases`` when missing.
    """

    account: CodeText | None = None
    creditor: CodeText | None = None
    invoice_number: CodeText | None = None  # a JSON number is read as its text
    invoice_type: str | None = None
    reference_number: CodeText | None = None
    payout_reference: CodeText | None = None
    invoice_date: FlexDatetime | None = None
    invoice_due_date: FlexDatetime | None = None
    currency: str | None = None
    customer: dict[str, Any] | None = None
    matrix: list[dict[str, Any]] | None = None
    case: CodeText | None = Field(default=None, validation_alias=AliasChoices("_case", "case"))
    invoice: CodeText | None = Field(default=None, validation_alias=AliasChoices("_invoice", "invoice"))
    ocr_number: OcrText = Field(default=None, validation_alias=AliasChoices("_ocr_number", "ocr_number"))
    ocr_number_ocr: OcrText = Field(
        default=None, validation_alias=AliasChoices("ocr_number_ocr", "_ocr_number_ocr")
    )


# ---------------------------------------------------------------------------------------------
# Cases (GET /cases)
# ---------------------------------------------------------------------------------------------


class StateChange(_Read):
    state: str | None = None
    state_date: FlexDatetime | None = None


class StatusChange(_Read):
    status: str | None = None
    status_date: FlexDatetime | None = None


class CaseClosed(_Read):
    """How a case closed. F.1.10 assumes ``{"date": <RFC 1123>, "reason": ...}``; both may be missing."""

    date: FlexDatetime | None = Field(
        default=None, validation_alias=AliasChoices("date", "closed_date", "closedDate", "closed_at", "closedAt"))
    reason: str | None = None  # F.1.10: paid | credited | cancelled; None = unknown


def _closed_shape(value: Any) -> Any:
    """``Case.closed`` in the shapes a server may send, as ``None`` | ``bool`` | a ``CaseClosed`` dict.

    ``null``/missing/``""`` = open; ``true``/``false`` as sent; a date or datetime string = closed on
    that date, reason unknown; a single word (``"paid"``) = closed for that reason, date unknown;
    an object = F.1.10's shape, ``date`` and ``reason`` each optional.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    parsed = parse_datetime(text)
    if isinstance(parsed, datetime):
        return {"date": parsed}
    if _WORD.match(text):
        return {"reason": text}
    return {}  # closed, but neither its date nor its reason can be read


class CaseDebt(_Read):
    invoice_number: CodeText | None = None  # a JSON number is read as its text
    debt_reference: CodeText | None = None
    payout_reference: CodeText | None = None
    invoice_date: FlexDatetime | None = None
    invoice_due_days_after_invoice_date: int | None = None
    interest_days_after_invoice_date: int | None = None
    initial_capital: Money | None = None
    capital_to_claim: Money | None = None
    debt_description: str | None = None


class Case(_EveDocument):
    """A collection case. ``state``/``status`` are kept as plain strings (enums undocumented)."""

    creditor: CodeText | None = None
    creditor_name: str | None = None
    customer: CodeText | None = None
    customer_name: str | None = None
    customer_id_number: CodeText | None = None
    customer_number: CodeText | None = None
    customer_status: str | None = None
    reference_number: CodeText | None = None
    currency: str | None = None
    agreement_version: Any = None
    case_registration: CodeText | None = None
    invoice_registration: CodeText | None = None  # not documented; used to match a registration when present
    state: str | None = None
    status: str | None = None
    state_history: TolerantList[StateChange] = Field(default_factory=list)  # null -> [], null items dropped
    status_history: TolerantList[StatusChange] = Field(default_factory=list)
    latest_state_date: FlexDatetime | None = None
    # null while open; F.1.10's object, a plain date or ``true`` once closed (see ``_closed_shape``).
    closed: Annotated[CaseClosed | bool | None, BeforeValidator(_closed_shape)] = None
    respite_until: FlexDatetime | None = None
    case_settings: dict[str, Any] | None = None
    debt: CaseDebt | None = None
    ocr_number: OcrText = None
    ocr_number_ocr: OcrText = None
    local_added_capital_amount: Money | None = None
    local_added_costs_amount: Money | None = None
    local_added_interest_amount: Money | None = None
    local_added_transaction_amount: Money | None = None
    local_remaining_capital_amount: Money | None = None
    local_remaining_costs_amount: Money | None = None
    local_remaining_interest_amount: Money | None = None
    local_remaining_transaction_amount: Money | None = None
    total_remaining_capital_amount: Money | None = None

    @property
    def is_closed(self) -> bool:
        if isinstance(self.closed, bool):
            return self.closed
        return self.closed is not None or self.state == "closed"

    @property
    def closed_at(self) -> datetime | None:
        """When the case closed, if Amili said (None while open, or when only ``true`` was sent)."""
        return self.closed.date if isinstance(self.closed, CaseClosed) else None

    @property
    def closed_reason(self) -> str | None:
        """Why the case closed (paid | credited | cancelled ...), if Amili said; None = unknown or open."""
        return self.closed.reason if isinstance(self.closed, CaseClosed) else None

    @property
    def invoice_number(self) -> str | None:
        return self.debt.invoice_number if self.debt else None


# ---------------------------------------------------------------------------------------------
# Creditor case actions (A.9) and respite (F.1.7)
# ---------------------------------------------------------------------------------------------


class _CaseAction(_Request):
    """Actions find the case by ``case`` id OR by ``invoice_number`` (+ ``creditor``), never both."""

    creditor: str
    case: str | None = None
    invoice_number: str | None = None
    origin: Literal["creditor_system"] = "creditor_system"

    @model_validator(mode="after")
    def _case_xor_invoice_number(self) -> _CaseAction:
        if (self.case is None) == (self.invoice_number is None):
            raise ValueError("give exactly one of case or invoice_number")
        return self


class CreditorPayment(_CaseAction):
    """The debtor paid the creditor directly (``POST /creditor--payments``)."""

    account: str | None = None  # required in the prod docs, read-only in alpha: send it when known
    currency: Literal["SEK"] = "SEK"
    amount: Money
    bank_transaction_date: RfcDatetime
    client_registration_date: RfcDatetime | None = None
    creditor_payment_reference: str | None = None


class CreditorCrediting(_CaseAction):
    """The creditor credits the case in full or part (``POST /creditor--creditings``)."""

    account: str | None = None
    currency: Literal["SEK"] = "SEK"
    amount: Money
    credit_invoice: str | None = None
    client_registration_date: RfcDatetime | None = None
    creditor_reference: str | None = None


class CreditorCancellation(_CaseAction):
    """The creditor stops the case (``POST /creditor--cancellations``)."""


class _ActionResult(_EveWriteResult):
    status: str | None = None  # completed | warning | error (alpha docs); business outcome
    status_reason_locale: str | None = None
    case_invoice_number: CodeText | None = None
    case_reference_number: CodeText | None = None


class CreditorPaymentResult(_ActionResult):
    payment_status: str | None = Field(default=None, validation_alias=AliasChoices("_payment_status", "payment_status"))
    settled_amount: Money | None = None


class CreditorCreditingResult(_ActionResult):
    # Amili reports crediting outcomes as ``_payment_status`` too (documented quirk).
    payment_status: str | None = Field(default=None, validation_alias=AliasChoices("_payment_status", "payment_status"))


class CreditorCancellationResult(_ActionResult):
    cancellation_status: str | None = Field(
        default=None, validation_alias=AliasChoices("_cancellation_status", "cancellation_status")
    )


class CreditorActionRecord(_EveDocument):
    """A stored creditor payment, crediting or cancellation, as listed back (unknown fields ignored)."""

    creditor: CodeText | None = None
    case: CodeText | None = None
    invoice_number: CodeText | None = None
    amount: Money | None = None
    status: str | None = None


class RespiteRequest(_Request):
    respite_until: RfcDatetime
    origin: Literal["creditor_system"] = "creditor_system"


class RespiteResult(_EveWriteResult):
    respite_status: str | None = Field(default=None, validation_alias=AliasChoices("_respite_status", "respite_status"))


class SeToken(_Read):
    """Answer of ``/authenticates/api-code``. ``expires`` is optional (F.3: fall back to the TTL)."""

    token: SecretStr
    expires: FlexDatetime | None = None
