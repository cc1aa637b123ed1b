"""Norwegian payments and corrections (reference B.8): money items of a batch, applied to an invoice's case.

A ``DIRECT_PAYMENT`` is what the debtor paid the creditor (applied costs → interest → capital); a
correction is a credit (capital → interest → costs). Both are stored with the amount actually applied
(``appliedAmount``); the case closes when nothing remains. Money on a closed case is stored, applies 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import lifecycle
from ..dates import iso
from ..ledger import CREDIT_ORDER, PAYMENT_ORDER
from ..money import from_minor, to_minor
from ..state import EmulatorState


def apply_money(state: EmulatorState, kind: str, inv: dict[str, Any], item: dict[str, Any],
                now: datetime) -> dict[str, Any]:
    """Apply one PAYMENT or CORRECTION item to ``inv``'s case; returns the invoice."""
    led = state.ledgers[inv["caseId"]]
    applied = 0
    if led.is_open:
        if kind == "PAYMENT":
            applied = sum(led.allocate(to_minor(item["amount"]), PAYMENT_ORDER).values())
            led.paid_direct += applied
        else:
            applied = sum(led.allocate(to_minor(item["amount"]), CREDIT_ORDER).values())
            led.credited += applied
    coll = "payments" if kind == "PAYMENT" else "corrections"
    rid = state.uuid()
    state.db["no"][coll][rid] = {
        "id": rid, **item, "organizationId": inv["organization"]["id"], "caseId": inv["caseId"],
        "appliedAmount": from_minor(applied), "createdAt": iso(now), "updatedAt": iso(now),
    }
    if led.is_open and led.remaining == 0:
        lifecycle.close_case(state, led, "paid" if kind == "PAYMENT" else "credited", now.timestamp())
    lifecycle.show_amounts(state, led, now)
    lifecycle.announce(state, led)
    return inv
