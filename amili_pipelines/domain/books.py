"""Closing the books: what the creditor's ERP and ledger need back, as configured per creditor.

Three things leave the pipeline for the creditor's own systems:

* **ERP feedback files**: invoices handed over, money received via Amili, cases closed without
  payment, creditor actions sent. The column names and the file dialect follow the creditor's ERP
  (a preset, with single columns overridden in the creditors file).
* **The ledger**: one verification per Amili payout (Sweden: SIE 4, type 4I; Norway: the same
  journal as CSV/Excel) on accounts a creditor may renumber; the defaults follow the BAS chart
  (Sweden) and NS 4102 (Norway).
* **Ageing buckets** that fit collection (a claim reaches Amili weeks after its due date).

Pure models and constants only; writing files is the ``books`` use case's job.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# ---------------------------------------------------------------------------------------------
# Ageing of open claims: days past due -> bucket. Collection works in months, not in 30-day steps,
# so the buckets go on to half a year, a year and beyond.
# ---------------------------------------------------------------------------------------------

AGEING_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-30", 30), ("31-60", 60), ("61-90", 90), ("91-180", 180), ("181-365", 365), (">365", None),
)
UNKNOWN_BUCKET = "unknown"  # no due date


def ageing_bucket(days_past_due: int | None) -> tuple[str, int]:
    """(bucket, order) of a claim ``days_past_due`` days past its due date."""
    if days_past_due is None:
        return UNKNOWN_BUCKET, len(AGEING_BUCKETS) + 1
    for order, (name, upto) in enumerate(AGEING_BUCKETS, start=1):
        if upto is None or days_past_due <= upto:
            return name, order
    raise AssertionError("the last bucket is open-ended")


# ---------------------------------------------------------------------------------------------
# ERP feedback files
# ---------------------------------------------------------------------------------------------

FeedbackKind = Literal["handed_over", "payments", "closed_without_payment", "creditor_actions"]
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = ("handed_over", "payments", "closed_without_payment", "creditor_actions")

# Canonical fields per file, in column order. No names and no identity numbers: the ERP matches on
# its own invoice number and references, so nothing personal needs to leave.
FEEDBACK_FIELDS: dict[str, tuple[str, ...]] = {
    "handed_over": ("invoice_number", "case_id", "payment_reference", "amili_reference", "handed_over_date",
                    "claimed_amount", "currency"),
    "payments": ("invoice_number", "case_id", "payout_date", "payout_reference", "capital", "interest", "fees",
                 "commission", "vat", "paid_out", "currency"),
    "closed_without_payment": ("invoice_number", "case_id", "closed_date", "closed_reason", "claimed_amount",
                               "written_off", "currency"),
    "creditor_actions": ("invoice_number", "case_id", "action", "amount", "action_date", "sent_date", "reference",
                         "currency"),
}
AMOUNT_FIELDS = frozenset({"claimed_amount", "capital", "interest", "fees", "commission", "vat", "paid_out",
                           "written_off", "amount"})
DATE_FIELDS = frozenset({"handed_over_date", "payout_date", "closed_date", "action_date", "sent_date"})
# Keys the ERP matches on, written as they are (a payout reference such as PO-20261203-1001 looks
# like a personnummer to a content scan); every other text is masked by content.
IDENTIFIER_FIELDS = frozenset({"invoice_number", "case_id", "payment_reference", "amili_reference",
                               "payout_reference", "reference", "currency"})

_NEUTRAL = {f: f for fields in FEEDBACK_FIELDS.values() for f in fields}
# The demo ERPs' import formats: the Swedish ERP (Visma/Fortnox style names, Windows-1252, ";" and
# decimal comma) and the Norwegian one (Tripletex/Visma style names, UTF-8 with BOM).
_SE_ERP = {
    "invoice_number": "Fakturanr", "case_id": "Ärende-id", "payment_reference": "OCR",
    "amili_reference": "Amili OCR", "handed_over_date": "Överlämnad", "claimed_amount": "Överlämnat belopp",
    "currency": "Valuta", "payout_date": "Utbetalningsdatum", "payout_reference": "Utbetalningsreferens",
    "capital": "Kapital", "interest": "Ränta", "fees": "Avgifter", "commission": "Provision", "vat": "Moms",
    "paid_out": "Utbetalt", "closed_date": "Avslutad", "closed_reason": "Orsak", "written_off": "Avskrivet",
    "action": "Åtgärd", "amount": "Belopp", "action_date": "Datum", "sent_date": "Skickad",
    "reference": "Referens",
}
_NO_ERP = {
    "invoice_number": "Fakturanr", "case_id": "Sak-id", "payment_reference": "KID",
    "amili_reference": "Amili saksnr", "handed_over_date": "Overlevert", "claimed_amount": "Overlevert beløp",
    "currency": "Valuta", "payout_date": "Utbetalingsdato", "payout_reference": "Utbetalingsreferanse",
    "capital": "Hovedstol", "interest": "Renter", "fees": "Gebyrer", "commission": "Provisjon", "vat": "Mva",
    "paid_out": "Utbetalt", "closed_date": "Avsluttet", "closed_reason": "Årsak", "written_off": "Avskrevet",
    "action": "Handling", "amount": "Beløp", "action_date": "Dato", "sent_date": "Sendt",
    "reference": "Referanse",
}


class _Dialect(BaseModel):
    model_config = ConfigDict(frozen=True)

    columns: dict[str, str]
    delimiter: str
    decimal: str
    encoding: str
    date_format: str


FEEDBACK_PRESETS: dict[str, _Dialect] = {
    "default": _Dialect(columns=_NEUTRAL, delimiter=",", decimal=".", encoding="utf-8", date_format="%Y-%m-%d"),
    "se-erp": _Dialect(columns=_SE_ERP, delimiter=";", decimal=",", encoding="cp1252", date_format="%Y-%m-%d"),
    "no-erp": _Dialect(columns=_NO_ERP, delimiter=";", decimal=",", encoding="utf-8-sig", date_format="%d.%m.%Y"),
}

FileFormat = Literal["csv", "xlsx"]


class ErpFeedbackConfig(BaseModel):
    """How the creditor's ERP wants its import files: a preset, with any column renamed."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["default", "se-erp", "no-erp"] = "default"
    formats: list[FileFormat] = Field(default_factory=lambda: ["csv", "xlsx"], min_length=1)
    columns: dict[str, str] = Field(default_factory=dict)  # canonical field -> the ERP's column name
    delimiter: str | None = None
    decimal: Literal[",", "."] | None = None
    encoding: str | None = None
    date_format: str | None = None

    @model_validator(mode="after")
    def _known_columns(self) -> ErpFeedbackConfig:
        unknown = sorted(set(self.columns) - set(_NEUTRAL))
        if unknown:
            raise ValueError(f"unknown feedback columns {unknown} (known: {sorted(_NEUTRAL)})")
        return self

    def dialect(self) -> _Dialect:
        base = FEEDBACK_PRESETS[self.preset]
        return _Dialect(columns={**base.columns, **self.columns}, delimiter=self.delimiter or base.delimiter,
                        decimal=self.decimal or base.decimal, encoding=self.encoding or base.encoding,
                        date_format=self.date_format or base.date_format)


# ---------------------------------------------------------------------------------------------
# The ledger: accounts per creditor, BAS (Sweden) and NS 4102 (Norway) defaults
# ---------------------------------------------------------------------------------------------

AccountRole = Literal["bank", "receivables", "interest", "fees", "commission", "input_vat", "rounding"]
ACCOUNT_ROLES: tuple[AccountRole, ...] = ("bank", "receivables", "interest", "fees", "commission", "input_vat",
                                          "rounding")

# role -> (account, name). Check them with the creditor's accountant; every one can be renumbered.
BAS_ACCOUNTS: dict[str, tuple[str, str]] = {
    "bank": ("1930", "Företagskonto/checkkonto/affärskonto"),
    "receivables": ("1510", "Kundfordringar"),
    "interest": ("8313", "Ränteintäkter från kortfristiga fordringar"),
    "fees": ("3930", "Påminnelseavgifter"),
    "commission": ("6062", "Inkasso och KFM-avgifter"),
    "input_vat": ("2641", "Debiterad ingående moms"),
    "rounding": ("3740", "Öres- och kronutjämning"),
}
NS4102_ACCOUNTS: dict[str, tuple[str, str]] = {
    "bank": ("1920", "Bankinnskudd"),
    "receivables": ("1500", "Kundefordringer"),
    "interest": ("8050", "Annen renteinntekt"),
    "fees": ("8070", "Annen finansinntekt"),
    "commission": ("7770", "Bank- og kortgebyrer, inkasso"),
    "input_vat": ("2710", "Inngående merverdiavgift, høy sats"),
    "rounding": ("7790", "Annen kostnad, øresavrunding"),
}


# The most a Swedish payout's bank transfer may differ from the sum of its lines and still be booked,
# the difference as rounding (öres- och kronutjämning). A larger difference is no rounding: lines
# are missing or Amili changed one, so the payout waits and the run asks for a person.
ROUNDING_LIMIT = Decimal("1.00")


class LedgerConfig(BaseModel):
    """Account numbers for the Amili journal; unset ones take the market's chart defaults."""

    model_config = ConfigDict(extra="forbid")

    # Account numbers are digits in every chart the ledgers read (BAS, NS 4102); anything else would
    # be written into #TRANS rows the importing program misreads.
    accounts: dict[AccountRole, Annotated[str, Field(pattern=r"^[0-9]{1,10}$")]] = Field(default_factory=dict)
    series: str = Field(default="A", pattern=r"^[A-Za-z0-9]{1,4}$")  # SIE verification series
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    organization_number: str | None = None  # #ORGNR in the SIE file, when known

    def chart(self, market: str) -> dict[str, tuple[str, str]]:
        """role -> (account, name) for ``market``, with the creditor's own numbers applied."""
        defaults = BAS_ACCOUNTS if market == "SE" else NS4102_ACCOUNTS
        out = {}
        for role, (number, name) in defaults.items():
            own = self.accounts.get(role)  # type: ignore[call-overload]
            out[role] = (own, name) if own and own != number else (number, name)
        return out


# Days the creditor's books get to show a case Amili closed as paid before reconciliation warns
# (the money reaches the bank with the next payout, then the ERP imports the feedback file).
DEFAULT_CLOSED_UNPAID_GRACE_DAYS = 14


_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def first_open_day(natural: date, closed_through: date | None) -> date:
    """The day a verification whose own date is ``natural`` is dated: its own, unless the creditor's
    accountant has closed that period; then the first day after the closed periods (a closed period's
    figures are already reported, and a ledger refuses, or worse accepts, a verification in it)."""
    if closed_through is None or natural > closed_through:
        return natural
    return closed_through + timedelta(days=1)


class BooksConfig(BaseModel):
    """Per creditor: the ERP's import format, the ledger's accounts and how far its books are closed."""

    model_config = ConfigDict(extra="forbid")

    erp_feedback: ErpFeedbackConfig = Field(default_factory=ErpFeedbackConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    # The last day of the periods the creditor's accountant has closed (a month's or a year's end):
    # a verification booked from now on that would be dated on or before it is dated the day after,
    # and says so in its text. Verifications already written keep their dates (they are history).
    closed_through: date | None = None

    @field_validator("closed_through", mode="before")
    @classmethod
    def _a_day(cls, value: Any) -> Any:
        # Strict: pydantic would also take a number (seconds since 1970) or a date with a time, and a
        # typo must not silently close the wrong periods.
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
            return value
        if isinstance(value, str) and _ISO_DAY.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value.strip()} is not a day in the calendar") from None
        raise ValueError("expected the last closed day as YYYY-MM-DD, e.g. 2026-10-31")
