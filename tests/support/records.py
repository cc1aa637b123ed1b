"""Small, valid domain objects for store tests: invoices, outbox entries, cases, money lines."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from amili_pipelines.domain.cases import CaseRecord, PayoutRecord, SettlementLine
from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    Market,
    SourceInvoice,
    idempotency_key,
)
from amili_pipelines.domain.outbox import OutboxEntry
from amili_pipelines.domain.validated import ValidatedInvoice

D = Decimal
NOW = datetime(2026, 6, 1, 12, 0)


def invoice(number: str, *, creditor: str = "demo-se", market: Market = Market.SE, row: int = 1,
            balance: str = "1250.00", source: str = "erp", pin: str = "19811218-9876", **extra: Any) -> SourceInvoice:
    due = date(2026, 4, 30)
    return SourceInvoice(
        source=source, location="export.csv", row=row, creditor=creditor, market=market, invoice_number=number,
        invoice_date=due - timedelta(days=30), due_date=due, currency="SEK" if market is Market.SE else "NOK",
        total_amount=D("1250.00"), open_balance=D(balance), vat_amount=D("250.00"),
        customer_kind=CustomerKind.PERSON, customer_name="Test Person", customer_id_number=pin,
        customer_address=Address(line1="Gatan 1", zip_code="11122", city="Stockholm", country=market.value),
        lines=(InvoiceLine(description="Service", unit_price=D("1000"), units=D(1), total_excl_vat=D("1000.00"),
                           vat_percent=D(25)),),
        content_hash=f"h-{number}-{balance}", **extra,
    )


def validated(inv: SourceInvoice, *issues) -> ValidatedInvoice:
    return ValidatedInvoice(inv, tuple(issues))


def entry(number: str, *, market: Market = Market.SE, creditor: str = "demo-se", content_hash: str | None = None,
          amount: str = "1250.00") -> OutboxEntry:
    return OutboxEntry(
        market=market, invoice_key=f"{creditor}/{number}", creditor=creditor, invoice_number=number,
        idempotency_key=idempotency_key(creditor, number, market), content_hash=content_hash or f"h-{number}",
        payload={"invoice_number": number, "amount": amount}, claimed_amount=D(amount),
        currency="SEK" if market is Market.SE else "NOK",
    )


def _record(kind: type, given: dict[str, Any]):
    return kind(**{**{f.name: None for f in dataclasses.fields(kind)}, **given})


def case(case_id: str, number: str, *, market: str = "SE", creditor: str = "demo-se", claimed: str = "1250.00",
         remaining: str | None = None, closed: str | None = None, updated: datetime = NOW) -> CaseRecord:
    return _record(CaseRecord, {
        "market": market, "case_id": case_id, "creditor": creditor, "invoice_number": number,
        "currency": "SEK" if market == "SE" else "NOK", "state": "closed" if closed else "reminder",
        "status": "closed" if closed else "reminder_active", "is_closed": closed is not None,
        "closed_reason": closed, "claimed_capital": D(claimed),
        "remaining_capital": D(remaining if remaining is not None else ("0" if closed else claimed)),
        "remaining_total": D(remaining if remaining is not None else ("0" if closed else claimed)),
        "api_updated_at": updated, "customer_id_number": "19811218-9876", "raw_json": "{}",
    })


def line(line_id: str, case_id: str | None, principal: str, *, market: str = "SE", number: str = "?",
         updated: datetime = NOW, settled: date = date(2026, 5, 20), amili_invoice_id: str | None = None,
         payout_id: str | None = None) -> SettlementLine:
    p = D(principal)
    return _record(SettlementLine, {
        "market": market, "line_id": line_id, "source": "se_payout_specification" if market == "SE" else "no_settlement",
        "case_id": case_id, "invoice_number": number, "currency": "SEK" if market == "SE" else "NOK",
        "settlement_date": settled, "principal_amount": p, "interest_amount": D(0), "fee_amount": D(0),
        "commission_amount": p / 10, "vat_amount": p / 40, "payout_amount": p - p / 10 - p / 40,
        "api_updated_at": updated, "amili_invoice_id": amili_invoice_id, "payout_id": payout_id,
        "amili_creditor": "org-1" if market == "NO" else None,
    })


def payout(payout_id: str, total: str, *, updated: datetime = NOW) -> PayoutRecord:
    return _record(PayoutRecord, {"market": "SE", "payout_id": payout_id, "currency": "SEK", "amount": D(total),
                                  "total_amount": D(total), "status": "scheduled", "api_updated_at": updated,
                                  "payout_date": date(2026, 6, 3)})
