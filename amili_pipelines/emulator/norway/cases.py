"""Norwegian cases: how a case is opened, moves through its types, shows its money, and the creditor's
case actions (reference B.6, F.2.6, F.2.9).

A case's ``type`` is its stage: ``NOTICE`` → ``PAYMENT_REMINDER`` (+ ``no_reminder_fee``) →
``COLLECTION_NOTICE`` (+ ``no_collection_fee``); ``status`` is ``OPEN``, ``PAUSED``, ``WITHDRAWN`` or
``CLOSED``. The case and its invoice show the same amounts and status. ``pause`` stops the clock for the
case (paused time does not count), ``resume`` restarts it, ``withdraw`` writes everything off; the
accept/reject actions are accepted and change nothing. A new case is announced as a ``CASE`` webhook,
every later change of its status, type or amounts as ``CASE_UPDATED`` (B.9). Reads:
``GET /orgs/{org}/cases`` (``Status``, ``Type``, ``CaseNumber``, ``CustomerNumber``,
``UniqueSourceInvoiceId``, ``SearchTerm``, ``FromCreatedAt``, ``ToCreatedAt``) and ``/cases/{id}``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Callable, NamedTuple

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import lifecycle, webhooks
from ..dates import UTC, iso
from ..ledger import Ledger
from ..money import from_minor
from ..problems import problem
from ..state import EmulatorState
from . import settlements
from .auth import authorize
from .endpoints import ORG_PREFIX, equals, in_date_range, item_handler, list_handler

NO_NEXT = {"NOTICE": "PAYMENT_REMINDER", "PAYMENT_REMINDER": "COLLECTION_NOTICE"}
STAGE_LENGTHS = {"NOTICE": "invoice_days", "PAYMENT_REMINDER": "reminder_days"}  # lifecycle settings, in days
ACTIONS = (
    "pause", "resume", "withdraw",
    "accept-debt-collection-list", "reject-debt-collection-list",
    "accept-eviction-request", "reject-eviction-request",
    "accept-eviction-confirmation", "reject-eviction-confirmation",
)
INVOICE_ACTIONS = ("pause", "resume", "withdraw")  # the older API's /invoices/{id}/... paths


class ClaimAmounts(NamedTuple):
    """A new invoice's claims, in øre."""
    capital: int
    fees: int
    interest: int


class NorwegianCaseFlow:
    """:class:`~..lifecycle.MarketFlow` for Norway: types, fees, and the case and invoice documents."""

    interest_stages = frozenset({"PAYMENT_REMINDER", "COLLECTION_NOTICE"})

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _case(self, led: Ledger) -> dict[str, Any]:
        return self.state.db["no"]["cases"][led.case_id]

    def _invoice(self, case: dict[str, Any]) -> dict[str, Any] | None:
        return self.state.db["no"]["invoices"].get(case["invoices"][0]["invoiceId"])

    def next_stage_due(self, led: Ledger) -> float | None:
        return lifecycle.timed_stage_due(self.state, led, STAGE_LENGTHS)

    def stage_after(self, led: Ledger) -> str | None:
        return NO_NEXT.get(led.stage)

    def charge_stage_fee(self, led: Ledger, stage: str) -> None:
        lc = self.state.config.lifecycle
        if stage == "PAYMENT_REMINDER":
            led.add_fee("reminder", lc.no_reminder_fee)
        elif stage == "COLLECTION_NOTICE":
            led.add_fee("collection", lc.no_collection_fee)

    def show_stage(self, led: Ledger, stage: str, at: float) -> None:
        case = self._case(led)
        case["type"] = stage
        inv = self._invoice(case)
        if inv is not None:
            inv["type"] = stage

    def show_closed(self, led: Ledger, reason: str, at: float) -> None:
        case = self._case(led)
        if case["status"] != "WITHDRAWN":
            case["status"] = "CLOSED"
        case["closedAt"] = iso(datetime.fromtimestamp(at, UTC))
        inv = self._invoice(case)
        if inv is not None:
            inv["status"] = case["status"]
            inv["closedAt"] = case["closedAt"]

    def show_amounts(self, led: Ledger, now: datetime) -> None:
        case = self._case(led)
        amounts = case_amounts(led)
        case["invoices"][0].update(amounts)
        case["invoices"][0]["status"] = case["status"]
        self.state.no_touch(case, now)
        inv = self._invoice(case)
        if inv is not None:
            inv.update(amounts)
            inv["status"] = case["status"]
            inv["type"] = case["type"]
            self.state.no_touch(inv, now)
        announce_changes(self.state, case, amounts)

    def pass_on_agency_payment(self, led: Ledger, taken: dict[str, int], commission: int, vat: int,
                               at: float, now: datetime) -> None:
        settlements.record_settlement(self.state, led, taken, commission, vat, at, now)


# the amounts a case and its invoice show, copied from the ledger after every change
AMOUNT_FIELDS = ("originalAmount", "remainingAmount", "remainingPrincipal", "remainingInterest", "remainingFees",
                 "addedFees", "addedInterest", "paidAmount", "paidToAgencyAmount", "creditedAmount",
                 "writtenOffAmount", "settledAmount")


def case_amounts(led: Ledger) -> dict[str, Any]:
    minor = (led.capital_added, led.remaining, led.rem_capital, led.rem_interest, led.rem_costs, led.costs_added,
             led.interest_added, led.paid_direct + led.paid_agency, led.paid_agency, led.credited, led.cancelled,
             led.paid_out)
    return {name: from_minor(value) for name, value in zip(AMOUNT_FIELDS, minor)}


# ------------------------------------------------------------------ case webhooks (B.9)

# what CASE_UPDATED reports as changed, in the documentation's order
ANNOUNCED_FIELDS = ("amounts", "status", "type")


def case_event_data(case: dict[str, Any]) -> dict[str, Any]:
    return {"orgId": case["organizationId"], "caseId": case["caseId"], "caseNumber": case["caseNumber"],
            "type": case["type"], "status": case["status"], "invoices": [i["invoiceId"] for i in case["invoices"]]}


def announce_changes(state: EmulatorState, case: dict[str, Any], amounts: dict[str, Any]) -> None:
    """``CASE_UPDATED`` with the fields whose value differs from what was last announced for this case.

    Every change to a Norwegian case ends in :meth:`NorwegianCaseFlow.show_amounts`, so this one place
    sees them all. A case seen for the first time is being opened: ``open_case`` announces it as ``CASE``.
    """
    now_shown = {"amounts": amounts, "status": case["status"], "type": case["type"]}
    before = state.announced_cases.get(case["caseId"])
    state.announced_cases[case["caseId"]] = now_shown
    if before is None:
        return
    changed = [f for f in ANNOUNCED_FIELDS if before[f] != now_shown[f]]
    if changed:
        webhooks.enqueue_event(state, webhooks.CASE_UPDATED, {**case_event_data(case), "fields": changed})


def rebuild_announced(state: EmulatorState) -> None:
    """After loading a state file: what the cases show now counts as announced."""
    state.announced_cases = {
        cid: {"amounts": {k: case["invoices"][0].get(k) for k in AMOUNT_FIELDS}, "status": case["status"],
              "type": case["type"]}
        for cid, case in state.db["no"]["cases"].items()
    }


# ------------------------------------------------------------------ opening a case

def open_case(state: EmulatorState, orgcfg: dict[str, Any], item: dict[str, Any], inv: dict[str, Any],
              amounts: ClaimAmounts, now: datetime) -> dict[str, Any]:
    """Store the case of a new invoice and its ledger; reminder types accrue interest from the start."""
    org = inv["organization"]["id"]
    stage = item["type"]
    case = _case_document(state, orgcfg, item, inv, now)
    state.db["no"]["cases"][inv["caseId"]] = case
    led = lifecycle.open_ledger(state, "no", inv["caseId"], org, stage, now.timestamp())
    led.capital_added = led.rem_capital = amounts.capital
    if amounts.fees:
        led.rem_fees["fee"] = amounts.fees
        led.costs_added = amounts.fees
    if amounts.interest:
        led.rem_interest = led.interest_added = amounts.interest
    if stage in ("PAYMENT_REMINDER", "COLLECTION_NOTICE"):
        led.interest_from = now.timestamp()
    lifecycle.schedule_stage(state, led)
    state.no_by_number.setdefault((org, item["invoiceNumber"]), []).append(inv["invoiceId"])
    lifecycle.show_amounts(state, led, now)
    lifecycle.announce(state, led)
    webhooks.enqueue_event(state, webhooks.CASE, case_event_data(case))
    return case


INVOICE_SUMMARY_FIELDS = ("invoiceId", "invoiceNumber", "caseId", "invoiceDate", "dueDate", "batchId",
                          "registeredAt", "uniqueSourceInvoiceId", "currency", "customerNumber", "status")


def _case_document(state: EmulatorState, orgcfg: dict[str, Any], item: dict[str, Any], inv: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    sub = {k: inv[k] for k in INVOICE_SUMMARY_FIELDS}
    debtors = [_debtor(state, i, d) for i, d in enumerate(item["debtors"])]
    case_id = inv["caseId"]
    return {
        "caseId": case_id,
        "caseNumber": inv["collectionCaseNumber"],
        "organizationId": inv["organization"]["id"],
        "creditorId": inv["organization"]["id"],
        "creditorNumber": orgcfg.get("creditor_number"),
        "status": "OPEN",
        "subStatus": None,
        "type": item["type"],
        "description": item.get("description"),
        "registeredAt": iso(now),
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "closedAt": None,
        "caseToken": hashlib.sha1(f"{state.machine}:{case_id}".encode()).hexdigest()[:16],
        "customerNumber": inv["customerNumber"],
        "invoices": [sub],
        "debtors": debtors,
    }


def _debtor(state: EmulatorState, i: int, d: dict[str, Any]) -> dict[str, Any]:
    """A debtor as the case shows it (``firstName`` on read, ``firstname`` on create, B.6)."""
    first, last = d.get("firstname"), d.get("lastname")
    return {
        "debtorId": state.uuid(), "type": d.get("type"), "debtorNumber": i + 1,
        "customerNumber": d.get("customerNumber"), "firstName": first, "lastName": last,
        "fullName": d.get("name") or " ".join(x for x in (first, last) if x) or None,
        "organizationNumber": d.get("organizationNumber"),
        "identificationNumber": d.get("identificationNumber"),
    }


# ------------------------------------------------------------------ case actions

def _pause(case: dict[str, Any], led: Ledger, now: datetime, state: EmulatorState) -> str | None:
    if case["status"] != "OPEN":
        return f"Cannot pause a case with status {case['status']}"
    case["status"] = "PAUSED"
    led.paused = True
    led.paused_at = now.timestamp()
    return None


def _resume(case: dict[str, Any], led: Ledger, now: datetime, state: EmulatorState) -> str | None:
    if case["status"] != "PAUSED":
        return f"Cannot resume a case with status {case['status']}"
    case["status"] = "OPEN"
    led.paused = False
    # time spent paused does not count towards the stage, payment or interest timers
    shift = now.timestamp() - (led.paused_at or now.timestamp())
    led.paused_at = None
    led.stage_entered += shift
    if led.next_stage_at is not None:
        led.next_stage_at += shift
    if led.pay_at is not None:
        led.pay_at += shift
    if led.interest_from is not None:
        led.interest_from += shift
    return None


def _withdraw(case: dict[str, Any], led: Ledger, now: datetime, state: EmulatorState) -> str | None:
    if case["status"] not in ("OPEN", "PAUSED"):
        return f"Cannot withdraw a case with status {case['status']}"
    case["status"] = "WITHDRAWN"
    led.paused = False
    led.write_off_everything()
    lifecycle.close_case(state, led, "withdrawn", now.timestamp())
    return None


# action -> change (returns why it does not fit the case's status); the others change nothing
STATUS_CHANGES: dict[str, Callable[[dict[str, Any], Ledger, datetime, EmulatorState], str | None]] = {
    "pause": _pause, "resume": _resume, "withdraw": _withdraw,
}


def case_action(state: EmulatorState, org: str, case_id: str, action: str,
                by_invoice: bool = False) -> tuple[int, str | None]:
    """(202, None) when done; (404 | 409, why) otherwise. ``by_invoice``: ``case_id`` is an invoice id."""
    with state.lock:
        if by_invoice:
            inv = state.db["no"]["invoices"].get(case_id)
            case_id = inv["caseId"] if inv and inv["organization"]["id"] == org else ""
        case = state.db["no"]["cases"].get(case_id)
        if case is None or case["organizationId"] != org:
            return 404, "Case not found"
        led = state.ledgers[case_id]
        now = state.clock.now()
        change = STATUS_CHANGES.get(action)
        if change is None:
            return 202, None
        refusal = change(case, led, now, state)
        if refusal:
            return 409, refusal
        lifecycle.show_amounts(state, led, now)
        lifecycle.announce(state, led)
        return 202, None


# ------------------------------------------------------------------ routes

def case_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
    usid = q.get("uniquesourceinvoiceid")
    if usid and not any(i.get("uniqueSourceInvoiceId") == usid for i in d["invoices"]):
        return False
    term = (q.get("searchterm") or "").lower()
    if term:
        hay = " ".join(str(x) for x in (
            d.get("caseNumber"), d.get("description"), d.get("customerNumber"),
            *(i.get("invoiceNumber") for i in d["invoices"]),
            *(x.get("fullName") for x in d["debtors"]),
        )).lower()
        if term not in hay:
            return False
    return (equals(d, q, "status", "status") and equals(d, q, "type", "type")
            and equals(d, q, "casenumber", "caseNumber") and equals(d, q, "customernumber", "customerNumber")
            and in_date_range(d, q, "fromcreatedat", "tocreatedat", "createdAt"))


def action_handler(engine: Any, name: str, by_invoice: bool = False) -> Callable:
    async def handler(request: Request) -> Response:
        org = request.path_params["org"]
        _, err = authorize(engine, request, org)
        if err:
            return err
        status, detail = case_action(engine, org, request.path_params["id"], name, by_invoice=by_invoice)
        if status == 202:
            return Response(status_code=202)
        return problem(status, detail)

    return handler


def read_routes(engine: Any) -> list[Route]:
    return [
        Route(f"{ORG_PREFIX}/cases", list_handler(engine, "cases", case_filter), methods=["GET"]),
        Route(f"{ORG_PREFIX}/cases/{{id}}", item_handler(engine, "cases", "Case"), methods=["GET"]),
    ]


def action_routes(engine: Any) -> list[Route]:
    routes = [Route(f"{ORG_PREFIX}/cases/{{id}}/{name}", action_handler(engine, name), methods=["POST"])
              for name in ACTIONS]
    routes += [Route(f"{ORG_PREFIX}/invoices/{{id}}/{name}", action_handler(engine, name, by_invoice=True),
                     methods=["POST"]) for name in INVOICE_ACTIONS]
    return routes
