"""Swedish finance: payout specification lines and the payouts that group them (reference A.11, F.1.12-13).

Only money the debtor paid to Amili is passed on. Each such payment becomes specification lines —
``capital``, ``interest``, ``reminder`` (a ``creditor_outlay``) and a negative ``creditor_commission``
line (commission on the capital plus VAT); debt-collection fees stay with Amili. Every
``payout_interval_days`` the open lines of a creditor are grouped into a ``finance--payouts`` document,
``scheduled`` until ``payout_delay_days`` later, when it becomes ``paid``. Both resources are read through
the generic Eve endpoints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..dates import UTC, parse_date, rfc1123
from ..ledger import DAY, Ledger
from ..money import from_minor, to_minor
from ..state import EmulatorState

SPECIFICATIONS = "finance--payout-specifications"
PAYOUTS = "finance--payouts"


def record_payout_lines(state: EmulatorState, led: Ledger, taken: dict[str, int], commission: int, vat: int,
                        at: float, now: datetime) -> None:
    """The specification lines of one agency payment; what they add up to is what the creditor gets."""
    case = state.db["se"]["cases"][led.case_id]
    creditor = state.db["se"]["creditors"].get(led.creditor, {})
    when = datetime.fromtimestamp(at, UTC)
    lines = [
        ("capital", "capital", taken.get("capital", 0), 0),
        ("interest", "interest", taken.get("interest", 0), 0),
        ("reminder", "creditor_outlay", taken.get("fee:reminder", 0), 0),
        ("creditor_commission", "creditor_commission", -commission, -vat),
    ]
    for article, category, amt, vat_amt in lines:
        if amt == 0 and vat_amt == 0:
            continue
        led.paid_out += amt + vat_amt
        state.se_insert(
            SPECIFICATIONS,
            {
                "account": case["account"],
                "creditor": led.creditor,
                "creditor_name": creditor.get("name"),
                "currency": "SEK",
                "amount": from_minor(amt),
                "vat_amount": from_minor(vat_amt),
                "total_amount": from_minor(amt + vat_amt),
                "article": article,
                "state": led.stage,
                "booking_date": rfc1123(when),
                "finance_category": category,
                "invoice_number": case["debt"]["invoice_number"],
                "reference_number": case.get("reference_number"),
                "payout_reference": case.get("payout_reference"),
                "payout_date": None,
                "payout": None,
                "case": led.case_id,
            },
            now,
        )


def run_payouts(state: EmulatorState, at: float) -> None:
    """Group every creditor's unpaid lines booked up to ``at`` into one scheduled payout."""
    now = state.clock.now()
    specs = state.db["se"][SPECIFICATIONS]
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in specs.values():
        if doc["payout"] is None and parse_date(doc["booking_date"]).timestamp() <= at:
            groups.setdefault(doc["creditor"], []).append(doc)
    for creditor, lines in groups.items():
        _schedule_payout(state, creditor, lines, at, now)


def _finance_interval(days: float) -> str:
    return "weekly" if days == 7 else ("monthly" if days in (30, 31) else f"every {days:g} days")


def _schedule_payout(state: EmulatorState, creditor: str, lines: list[dict[str, Any]], at: float,
                     now: datetime) -> None:
    lc = state.config.lifecycle
    when = datetime.fromtimestamp(at, UTC)
    pay_ts = at + lc.payout_delay_days * DAY
    cred = state.db["se"]["creditors"].get(creditor, {})
    amount = sum(to_minor(d["amount"]) for d in lines)
    vat = sum(to_minor(d["vat_amount"]) for d in lines)
    summary: dict[str, int] = {}
    for d in lines:
        summary[d["article"]] = summary.get(d["article"], 0) + to_minor(d["total_amount"])
    ref = f"PO-{when:%Y%m%d}-{cred.get('creditor_number', 0)}"
    payout = state.se_insert(
        PAYOUTS,
        {
            "account": cred.get("account"),
            "creditor": creditor,
            "currency": "SEK",
            "amount": from_minor(amount),
            "vat_amount": from_minor(vat),
            "total_amount": from_minor(amount + vat),
            "status": "scheduled",
            "summary": {k: from_minor(v) for k, v in summary.items()},
            "finance_interval": _finance_interval(lc.payout_interval_days),
            "payout_date": rfc1123(datetime.fromtimestamp(pay_ts, UTC)),
            "payout_reference": ref,
            "period_end": rfc1123(when),
        },
        now,
    )
    state.scheduled_payouts.append((pay_ts, payout["_id"]))
    for d in lines:
        d["payout"] = payout["_id"]
        d["payout_date"] = payout["payout_date"]
        d["payout_reference"] = d.get("payout_reference") or ref
        state.se_touch(d, now)


def pay_scheduled_payouts(state: EmulatorState, now_ts: float) -> None:
    """Scheduled payouts become ``paid`` once the clock passes their ``payout_date``."""
    if not state.scheduled_payouts or state.scheduled_payouts[0][0] > now_ts:
        return
    now = state.clock.now()
    due = [p for p in state.scheduled_payouts if p[0] <= now_ts]
    state.scheduled_payouts = [p for p in state.scheduled_payouts if p[0] > now_ts]
    for _, pid in due:
        doc = state.db["se"][PAYOUTS].get(pid)
        if doc is not None and doc["status"] == "scheduled":
            doc["status"] = "paid"
            state.se_touch(doc, now)


def rebuild_payout_schedule(state: EmulatorState) -> None:
    state.scheduled_payouts = sorted(
        (parse_date(p["payout_date"]).timestamp(), p["_id"])
        for p in state.db["se"][PAYOUTS].values() if p["status"] == "scheduled"
    )
