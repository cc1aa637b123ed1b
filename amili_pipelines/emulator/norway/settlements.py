"""Norwegian settlements (reference B.8, F.2.5): what Amili pays the creditor out of a debtor's payment.

One settlement per payment that reached Amili: ``payoutAmount = principalAmount + interestAmount −
commissionAmount − vatAmount`` (fees stay with Amili; ``feeAmount`` is informational), dated
``yyyy-MM-dd``, and a ``SETTLEMENT_CREATED`` webhook. Reads: ``GET /orgs/{org}/settlements``
(``fromDate``, ``toDate`` on ``settlementDate``; lower-case ``pageToken``/``pageSize`` work too) and
``/settlements/{id}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.routing import Route

from .. import webhooks
from ..dates import UTC, iso, ymd
from ..ledger import Ledger
from ..money import from_minor
from ..state import EmulatorState
from .endpoints import ORG_PREFIX, date_filter, item_handler, list_handler

COLLECTION_TYPE = {"NOTICE": "NOTICE", "PAYMENT_REMINDER": "REMINDER", "COLLECTION_NOTICE": "DEBT_COLLECTION"}


def record_settlement(state: EmulatorState, led: Ledger, taken: dict[str, int], commission: int, vat: int,
                      at: float, now: datetime) -> None:
    case = state.db["no"]["cases"][led.case_id]
    inv = case["invoices"][0]
    capital, interest = taken.get("capital", 0), taken.get("interest", 0)
    payout = capital + interest - commission - vat
    led.paid_out += payout
    sid = state.uuid()
    doc = {
        "settlementId": sid,
        "settlementDate": ymd(datetime.fromtimestamp(at, UTC)),
        "organizationId": case["organizationId"],
        "invoiceId": inv["invoiceId"],
        "invoiceNumber": inv["invoiceNumber"],
        "caseId": case["caseId"],
        "caseNumber": case["caseNumber"],
        "uniqueSourceInvoiceId": inv.get("uniqueSourceInvoiceId"),
        "customerReference": inv.get("customerNumber"),
        "collectionType": COLLECTION_TYPE.get(led.stage, "REMINDER"),
        "currency": inv.get("currency", "NOK"),
        "exchangeRate": 1.0,
        "principalAmount": from_minor(capital),
        "interestAmount": from_minor(interest),
        "feeAmount": from_minor(sum(v for k, v in taken.items() if k.startswith("fee:"))),
        "commissionAmount": from_minor(commission),
        "vatAmount": from_minor(vat),
        "payoutAmount": from_minor(payout),
        "createdAt": iso(now),
        "updatedAt": iso(now),
    }
    state.db["no"]["settlements"][sid] = doc
    webhooks.enqueue_event(state, "SETTLEMENT_CREATED", {
        "settlementId": sid,
        "organizationId": case["organizationId"],
        "settlementDate": doc["settlementDate"],
        "invoiceId": inv["invoiceId"],
        "invoiceNumber": inv["invoiceNumber"],
        "caseNumber": case["caseNumber"],
    })


def settlement_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
    a, b = q.get("fromdate"), q.get("todate")
    if a and date_filter(a, "fromDate") and d["settlementDate"] < a[:10]:
        return False
    if b and date_filter(b, "toDate") and d["settlementDate"] > b[:10]:
        return False
    return True


def routes(engine: Any) -> list[Route]:
    return [
        Route(f"{ORG_PREFIX}/settlements", list_handler(engine, "settlements", settlement_filter), methods=["GET"]),
        Route(f"{ORG_PREFIX}/settlements/{{id}}", item_handler(engine, "settlements", "Settlement"),
              methods=["GET"]),
    ]
