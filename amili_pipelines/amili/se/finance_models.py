"""Amili Sweden's finance resources (payouts, payout specifications; reference F.1.12, F.1.13) and
its creditor object (A.12): read models, tolerant like every read model (reference F.3)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from amili_pipelines.amili.fields import CodeText, FlexDatetime, Money
from amili_pipelines.amili.se.models import _EveDocument


class PayoutSpecification(_EveDocument):
    """One transaction-level payout line, created when a payment on a case is settled."""

    creditor: CodeText | None = None
    creditor_name: str | None = None
    currency: str | None = None
    amount: Money | None = None
    vat_amount: Money | None = None
    total_amount: Money | None = None
    article: str | None = None
    state: str | None = None
    booking_date: FlexDatetime | None = None
    finance_category: str | None = None
    invoice_number: CodeText | None = None
    reference_number: CodeText | None = None
    payout_reference: CodeText | None = None
    payout_date: FlexDatetime | None = None
    payout: CodeText | None = None
    case: CodeText | None = None


class Payout(_EveDocument):
    """An aggregated bank transfer to the creditor."""

    creditor: CodeText | None = None
    currency: str | None = None
    amount: Money | None = None
    vat_amount: Money | None = None
    total_amount: Money | None = None
    status: str | None = None
    summary: dict[str, Money] | None = None
    finance_interval: str | None = None
    payout_date: FlexDatetime | None = None
    payout_reference: CodeText | None = None

    @field_validator("summary", mode="before")
    @classmethod
    def _summary_numbers_only(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
        return value


class Creditor(_EveDocument):
    account: CodeText | None = None
    name: str | None = None
    organization_no: CodeText | None = None
    non_swedish_organization_no: CodeText | None = None
    is_active: bool | None = None
    creditor_number: int | None = None
    standard_debt_description: str | None = None
    default_letter_locale: str | None = None
    description: str | None = None
    case_config: dict[str, Any] | None = None
    payout_details: dict[str, Any] | None = None
    agreement_address: dict[str, Any] | None = None
    sender_address: dict[str, Any] | None = None
    invoice_address: dict[str, Any] | None = None
