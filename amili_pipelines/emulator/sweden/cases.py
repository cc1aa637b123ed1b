"""Swedish cases: how a case is opened, moves through its states, shows its money, and gets a respite.

State and status follow each other (reference F.1.8, F.1.9): ``initializing`` → ``invoice`` (invoice
registrations) or ``first_action`` (case registrations) after ``sweden.initializing_seconds``, then
``reminder`` (+ ``se_reminder_fee``) and ``debt_collection`` (+ ``se_debt_collection_fee``); every change
appends to ``state_history``/``status_history``. ``closed`` is ``null`` until the case closes with a
reason (F.1.10). ``POST /cases/{id}/respite`` (F.1.7) defers the next state change. The case list and
item endpoints are the generic Eve ones (``endpoints.read_routes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import lifecycle
from ..dates import UTC, parse_date, rfc1123
from ..eve import eve_error, eve_issues, validate
from ..ledger import Ledger
from ..money import from_minor
from ..responses import JSON, read_json
from ..state import EmulatorState
from . import finance, schemas
from .endpoints import account_of, bad_json, json_payload, unauthorized, unknown_payload

INITIALIZING = "initializing"
SE_STATUS = {
    INITIALIZING: "initialized",
    "invoice": "invoice_active",
    "reminder": "reminder_active",
    "debt_collection": "debt_collection_active",
    "closed": "closed",
}
SE_NEXT = {"invoice": "reminder", "reminder": "debt_collection"}
STAGE_LENGTHS = {"invoice": "invoice_days", "reminder": "reminder_days"}  # lifecycle settings, in days


class SwedishCaseFlow:
    """:class:`~..lifecycle.MarketFlow` for Sweden: states, fees, and the ``cases`` document."""

    interest_stages = frozenset({"reminder", "debt_collection"})

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def next_stage_due(self, led: Ledger) -> float | None:
        if led.stage == INITIALIZING:
            return led.stage_entered + self.state.config.sweden.initializing_seconds if led.flow_started else None
        return lifecycle.timed_stage_due(self.state, led, STAGE_LENGTHS)

    def stage_after(self, led: Ledger) -> str | None:
        return led.first_stage if led.stage == INITIALIZING else SE_NEXT.get(led.stage)

    def charge_stage_fee(self, led: Ledger, stage: str) -> None:
        lc = self.state.config.lifecycle
        if stage == "reminder":
            if led.rem_fees.get("reminder") and led.costs_added == led.rem_fees["reminder"]:
                return  # case registration with fees_already_claimed.reminder: that fee replaces ours
            led.add_fee("reminder", lc.se_reminder_fee)
        elif stage == "debt_collection":
            led.add_fee("debt_collection", lc.se_debt_collection_fee)

    def show_stage(self, led: Ledger, stage: str, at: float) -> None:
        doc = self.state.db["se"]["cases"][led.case_id]
        _record_state(doc, stage, SE_STATUS[stage], rfc1123(datetime.fromtimestamp(at, UTC)))

    def show_closed(self, led: Ledger, reason: str, at: float) -> None:
        doc = self.state.db["se"]["cases"][led.case_id]
        d = rfc1123(datetime.fromtimestamp(at, UTC))
        doc["closed"] = {"date": d, "reason": reason}
        _record_state(doc, "closed", "closed", d)

    def show_amounts(self, led: Ledger, now: datetime) -> None:
        doc = self.state.db["se"]["cases"][led.case_id]
        doc.update(case_amounts(led))
        self.state.se_touch(doc, now)

    def pass_on_agency_payment(self, led: Ledger, taken: dict[str, int], commission: int, vat: int,
                               at: float, now: datetime) -> None:
        finance.record_payout_lines(self.state, led, taken, commission, vat, at, now)


def _record_state(doc: dict[str, Any], state_name: str, status: str, date: str) -> None:
    doc["state"] = state_name
    doc["status"] = status
    doc["state_history"].append({"state": state_name, "state_date": date})
    doc["status_history"].append({"status": status, "status_date": date})
    doc["latest_state_date"] = date


def case_amounts(led: Ledger) -> dict[str, Any]:
    """The documented ``local_added_*``/``local_remaining_*`` amounts plus the emulator's paid/credited/
    cancelled/paid-out additions, so a client can check the ledger identity from the document alone."""
    return {
        "local_added_capital_amount": from_minor(led.capital_added),
        "local_added_costs_amount": from_minor(led.costs_added),
        "local_added_interest_amount": from_minor(led.interest_added),
        "local_added_transaction_amount": 0,
        "local_remaining_capital_amount": from_minor(led.rem_capital),
        "local_remaining_costs_amount": from_minor(led.rem_costs),
        "local_remaining_interest_amount": from_minor(led.rem_interest),
        "local_remaining_transaction_amount": 0,
        "total_remaining_capital_amount": from_minor(led.rem_capital),
        "total_remaining_amount": from_minor(led.remaining),
        "local_paid_amount": from_minor(led.paid_agency),
        "local_creditor_paid_amount": from_minor(led.paid_direct),
        "local_credited_amount": from_minor(led.credited),
        "local_cancelled_amount": from_minor(led.cancelled),
        "local_paid_out_amount": from_minor(led.paid_out),
    }


def open_case(state: EmulatorState, case_id: str, body: dict[str, Any], creditor: dict[str, Any],
              debt: dict[str, Any], capital: int, fees: int, first_stage: str, now: datetime, ocr: str, *,
              invoice_registration: str | None = None, invoice: str | None = None,
              case_registration: str | None = None) -> dict[str, Any]:
    """Store a new case and its ledger; with no initializing delay it enters ``first_stage`` at once."""
    now_ts = now.timestamp()
    fields = _case_fields(state, body, creditor, debt, now, ocr, invoice_registration=invoice_registration,
                          invoice=invoice, case_registration=case_registration)
    doc = state.se_insert("cases", fields, now, _id=case_id)
    led = lifecycle.open_ledger(state, "se", case_id, body["creditor"], INITIALIZING, now_ts)
    led.first_stage = first_stage
    led.flow_started = fields["start_flow"]
    led.capital_added = led.rem_capital = capital
    if fees:
        led.rem_fees["reminder"] = fees
        led.costs_added = fees
    state.se_by_number.setdefault((body["creditor"], debt["invoice_number"]), []).append(case_id)
    lifecycle.schedule_stage(state, led)
    if led.flow_started and state.config.sweden.initializing_seconds == 0:
        lifecycle.enter_stage(state, led, first_stage, now_ts, now)
    else:
        lifecycle.show_amounts(state, led, now)
    lifecycle.announce(state, led)
    return doc


def _case_fields(state: EmulatorState, body: dict[str, Any], creditor: dict[str, Any], debt: dict[str, Any],
                 now: datetime, ocr: str, **origin: str | None) -> dict[str, Any]:
    cust = body["customer"]
    ts = rfc1123(now)
    ctype = "person" if cust.get("is_person") else ("company" if cust.get("is_company") else "foreign")
    return {
        "account": body["account"],
        "creditor": body["creditor"],
        "creditor_name": creditor.get("name"),
        "customer": state.oid(now.timestamp()),
        "customer_name": cust.get("name"),
        "customer_id_number": cust.get("id_number"),
        "customer_number": cust.get("customer_number"),
        "customer_type": ctype,
        "customer_status": "initialized",
        "reference_number": debt.get("debt_reference"),
        "payout_reference": debt.get("payout_reference"),
        "currency": "SEK",
        "agreement_version": "1",
        "case_registration": origin["case_registration"],
        "invoice_registration": origin["invoice_registration"],
        "invoice": origin["invoice"],
        "ocr_number_ocr": ocr,
        "state": INITIALIZING,
        "status": SE_STATUS[INITIALIZING],
        "state_history": [{"state": INITIALIZING, "state_date": ts}],
        "status_history": [{"status": SE_STATUS[INITIALIZING], "status_date": ts}],
        "latest_state_date": ts,
        "closed": None,
        "respite_until": None,
        "case_settings": body.get("case_settings") or {},
        "labels": body.get("labels") or [],
        "start_flow": body.get("start_flow", True) is not False,
        "preferred_invoice_distribution": body.get("preferred_invoice_distribution"),
        "debt": debt,
    }


def rebuild_number_index(state: EmulatorState) -> None:
    """(creditor, invoice number) -> case ids, for creditor actions addressed by invoice number."""
    state.se_by_number = {}
    for cid, case in state.db["se"]["cases"].items():
        state.se_by_number.setdefault((case["creditor"], case["debt"]["invoice_number"]), []).append(cid)


def grant_respite(state: EmulatorState, case_id: str, body: Any, account: str) -> tuple[int, dict[str, Any]]:
    with state.lock:
        case = state.db["se"]["cases"].get(case_id)
        if case is None or case["account"] != account:
            return 404, eve_error(404, "The requested URL was not found on the server.")
        issues = validate(body, schemas.RESPITE)
        if issues:
            return 422, eve_issues(issues)
        led = state.ledgers[case_id]
        if not led.is_open:
            return 422, eve_issues({"case": "case is closed"})
        now = state.clock.now()
        until = parse_date(body["respite_until"])
        led.respite_until = until.timestamp()
        lifecycle.schedule_stage(state, led)
        case["respite_until"] = rfc1123(until)
        lifecycle.show_amounts(state, led, now)
        lifecycle.announce(state, led)
        return 201, {
            "_id": case_id,
            "_created": case["_created"],
            "_updated": case["_updated"],
            "_etag": case["_etag"],
            "_status": "OK",
            "_respite_status": "completed",
        }


def routes(engine: Any) -> list[Route]:
    async def respite(request: Request) -> Response:
        account = account_of(engine, request)
        if account is None:
            return unauthorized()
        if not json_payload(request):
            return unknown_payload(request)
        body, ok = await read_json(request)
        if not ok:
            return bad_json()
        status, out = grant_respite(engine, request.path_params["id"], body, account)
        return JSON(out, status_code=status)

    return [Route("/cases/{id}/respite", respite, methods=["POST"])]
