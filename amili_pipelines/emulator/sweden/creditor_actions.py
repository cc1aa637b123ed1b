"""What a creditor reports on a Swedish case: ``creditor--payments``, ``--creditings``, ``--cancellations``
(reference A.9, D.2).

The case is found by ``case`` or by ``invoice_number`` + ``creditor`` (both or neither: 422). Payments
are applied costs → interest → capital, creditings capital → interest → costs, a cancellation writes
off everything remaining; the case closes (``paid``/``credited``/``cancelled``) when nothing remains.
Over-payment, over-crediting or an action on a closed case is still stored (201) but with status
``warning``, because the creditor's books already say it happened.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from starlette.routing import Route

from .. import lifecycle
from ..dates import parse_date, rfc1123
from ..eve import eve_issues, validate
from ..ledger import CREDIT_ORDER, PAYMENT_ORDER, Ledger
from ..money import from_minor, to_minor
from ..state import EmulatorState
from . import schemas
from .endpoints import post_handler

PAYMENTS = "creditor--payments"
CREDITINGS = "creditor--creditings"
CANCELLATIONS = "creditor--cancellations"
SCHEMAS = {PAYMENTS: schemas.CREDITOR_PAYMENT, CREDITINGS: schemas.CREDITOR_CREDITING,
           CANCELLATIONS: schemas.CREDITOR_CANCELLATION}


def resolve_case(state: EmulatorState, body: dict[str, Any],
                 account: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The case an action is about; by invoice number, the newest open case wins (else the newest)."""
    has_case = body.get("case") is not None
    has_number = body.get("invoice_number") is not None
    if has_case and has_number:
        return None, {"invoice_number": "'invoice_number' must not be present with 'case'"}
    if not has_case and not has_number:
        return None, {"case": "one of 'case' or 'invoice_number' is required"}
    cases = state.db["se"]["cases"]
    if has_case:
        doc = cases.get(body["case"])
        if doc is None or doc["account"] != account or doc["creditor"] != body["creditor"]:
            return None, {"case": f"value '{body['case']}' must exist in resource 'cases', field '_id'."}
        return doc, {}
    ids = state.se_by_number.get((body["creditor"], body["invoice_number"]), [])
    docs = [cases[i] for i in ids if i in cases and cases[i]["account"] == account]
    if not docs:
        return None, {"invoice_number": f"no case found for invoice_number '{body['invoice_number']}'"}
    open_docs = [d for d in docs if d["closed"] is None]
    return (open_docs or docs)[-1], {}


def creditor_action(state: EmulatorState, kind: str, body: Any, account: str,
                    dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    issues = validate(body, SCHEMAS[kind])
    with state.lock:
        if not issues:
            issues = _reference_issues(state, body, account)
        case = None
        if not issues:
            case, issues = resolve_case(state, body, account)
        if issues:
            return 422, eve_issues(issues)
        if dry_run:
            return 200, {"_status": "OK"}
        now = state.clock.now()
        led = state.ledgers[case["_id"]]
        status, reason, settled = _apply(state, kind, body, led, now)
        doc = state.se_insert(kind, _action_fields(kind, body, account, case, status, reason, settled, now), now)
        lifecycle.announce(state, led)
        out = {k: doc[k] for k in ("_updated", "_created", "_etag", "_id")}
        out["_status"] = "OK"
        if kind == CANCELLATIONS:
            out["_cancellation_status"] = status
        else:
            out["_payment_status"] = status
        return 201, out


def _reference_issues(state: EmulatorState, body: dict[str, Any], account: str) -> dict[str, Any]:
    issues: dict[str, Any] = {}
    if body.get("account") is not None and body["account"] != account:
        issues["account"] = f"value '{body['account']}' must exist in resource 'accounts', field '_id'."
    cred = state.db["se"]["creditors"].get(body["creditor"])
    if cred is None or cred["account"] != account:
        issues["creditor"] = f"value '{body['creditor']}' must exist in resource 'creditors', field '_id'."
    return issues


def _apply(state: EmulatorState, kind: str, body: dict[str, Any], led: Ledger,
           now: datetime) -> tuple[str, str | None, int]:
    """Apply the action to the ledger; returns (status, status_reason_locale, settled amount)."""
    now_ts = now.timestamp()
    if not led.is_open:
        return "warning", f"{kind.split('--')[1]}.case_closed", 0
    if kind == CANCELLATIONS:
        settled = led.write_off_everything()
        lifecycle.close_case(state, led, "cancelled", now_ts)
        lifecycle.show_amounts(state, led, now)
        return "completed", None, settled
    # no interest posting here: clients act on the amounts they can read
    amount = to_minor(body["amount"])
    if kind == PAYMENTS:
        settled = sum(led.allocate(amount, PAYMENT_ORDER).values())
        led.paid_direct += settled
        close_reason, excess_reason = "paid", "creditor_payment.overpayment"
    else:
        settled = sum(led.allocate(amount, CREDIT_ORDER).values())
        led.credited += settled
        close_reason, excess_reason = "credited", "creditor_crediting.exceeds_remaining"
    status, reason = ("warning", excess_reason) if settled < amount else ("completed", None)
    if led.remaining == 0:
        lifecycle.close_case(state, led, close_reason, now_ts)
    lifecycle.show_amounts(state, led, now)
    return status, reason, settled


def _action_fields(kind: str, body: dict[str, Any], account: str, case: dict[str, Any], status: str,
                   reason: str | None, settled: int, now: datetime) -> dict[str, Any]:
    fields = dict(body)
    for k in ("bank_transaction_date", "client_registration_date"):
        if k in fields and fields[k] is not None:
            fields[k] = rfc1123(parse_date(fields[k]))
    if kind != CANCELLATIONS:
        fields.setdefault("client_registration_date", rfc1123(now))
    fields.update({
        "account": account,
        "case": case["_id"],
        "status": status,
        "status_reason_locale": reason,
        "case_invoice_number": case["debt"]["invoice_number"],
        "case_reference_number": case.get("reference_number"),
    })
    if kind != CANCELLATIONS:
        fields["settled_amount"] = from_minor(settled)
    return fields


def routes(engine: Any) -> list[Route]:
    return [Route(f"/{kind}", post_handler(engine, partial(creditor_action, engine, kind)), methods=["POST"])
            for kind in (PAYMENTS, CREDITINGS, CANCELLATIONS)]
