"""Collection cases and the money lines Amili reports for them, in one shape for both markets.

Sweden and Norway describe a case, a settlement and a payout differently; the follow-up use cases
map both APIs onto these records, and the warehouse stores them keyed by Amili's own ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(slots=True)
class CaseRecord:
    """One Amili case as last seen at the API. ``invoice_key`` is filled in by matching in the store."""

    market: str
    case_id: str
    case_number: str | None
    creditor: str | None
    amili_creditor: str | None
    invoice_key: str | None
    invoice_number: str | None
    amili_invoice_id: str | None
    currency: str | None
    state: str | None
    status: str | None
    is_closed: bool
    closed_reason: str | None
    closed_at: datetime | None
    claimed_capital: Decimal | None
    remaining_capital: Decimal | None
    remaining_interest: Decimal | None
    remaining_fees: Decimal | None
    remaining_total: Decimal | None
    added_interest: Decimal | None
    added_fees: Decimal | None
    paid_amount: Decimal | None
    credited_amount: Decimal | None
    customer_name: str | None
    customer_id_number: str | None
    registered_at: datetime | None
    api_updated_at: datetime | None
    raw_json: str | None


@dataclass(slots=True)
class SettlementLine:
    """One money line: a Norwegian settlement or a Swedish payout specification line.

    Commission and VAT are what Amili kept (positive for a charge, negative for a refund of it);
    ``payout_amount`` is what reaches the creditor for this line.
    """

    market: str
    line_id: str
    source: str  # no_settlement | se_payout_specification
    case_id: str | None
    case_number: str | None
    invoice_number: str | None
    amili_invoice_id: str | None
    amili_creditor: str | None
    creditor: str | None
    invoice_key: str | None
    currency: str | None
    settlement_date: date | None
    article: str | None
    finance_category: str | None
    principal_amount: Decimal
    interest_amount: Decimal
    fee_amount: Decimal
    commission_amount: Decimal
    vat_amount: Decimal
    payout_amount: Decimal
    payout_id: str | None
    payout_date: date | None
    payout_reference: str | None
    api_updated_at: datetime | None
    raw_json: str | None


@dataclass(slots=True)
class PayoutRecord:
    """A Swedish payout: the bank transfer that carries payout specification lines."""

    market: str
    payout_id: str
    amili_creditor: str | None
    creditor: str | None
    currency: str | None
    amount: Decimal | None
    vat_amount: Decimal | None
    total_amount: Decimal | None
    status: str | None
    payout_date: date | None
    payout_reference: str | None
    finance_interval: str | None
    summary_json: str | None
    api_updated_at: datetime | None
