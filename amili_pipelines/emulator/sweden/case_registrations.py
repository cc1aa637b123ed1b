"""``POST /case--registrations`` (reference A.7): debts already past the invoice stage, one case per debt.

The cases start at ``first_action`` (``reminder`` or ``debt_collection``); a reminder fee the creditor
already claimed (``fees_already_claimed.reminder``) replaces the emulator's own reminder fee.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from starlette.routing import Route

from ..dates import parse_date, rfc1123
from ..eve import eve_issues
from ..money import to_minor
from ..state import EmulatorState
from . import cases, schemas
from .endpoints import post_handler
from .registration_rules import body_issues, duplicate_issue, normalize_dates, reference_issues


def register_cases(state: EmulatorState, body: Any, account: str,
                   dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    issues = body_issues(body, schemas.CASE_REGISTRATION)
    if not issues:
        issues = reference_issues(state, body, account)
    with state.lock:
        if not issues:
            issues = _duplicate_issues(state, body)
        if issues:
            return 422, eve_issues(issues)
        if dry_run:
            return 200, {"_status": "OK"}
        return 201, _register(state, body, state.clock.now())


def _duplicate_issues(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    dups = {}
    for i, d in enumerate(body["debts"]):
        msg = duplicate_issue(state, body["creditor"], d["invoice_number"])
        if msg:
            dups[str(i)] = {"invoice_number": msg}
    return {"debts": dups} if dups else {}


def _register(state: EmulatorState, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    reg_id = state.oid(now.timestamp())
    creditor = state.db["se"]["creditors"][body["creditor"]]
    case_ids, ocr_ids, ocrs = [], [], []
    for d in body["debts"]:
        case_id = state.oid(now.timestamp())
        ocr_ids.append(state.oid(now.timestamp()))
        ocr = state.ocr(now)
        ocrs.append(ocr)
        cases.open_case(state, case_id, body, creditor, _debt(d, creditor), to_minor(d["capital_to_claim"]),
                        _already_claimed_reminder_fee(d), body["first_action"], now, ocr,
                        case_registration=reg_id)
        case_ids.append(case_id)
    norm = dict(body)
    norm["debts"] = [normalize_dates(d, ("invoice_date",)) for d in body["debts"]]
    reg = state.se_insert(
        "case--registrations",
        {**norm, "cases": case_ids, "ocr_numbers": ocr_ids, "ocr_numbers_ocr": ocrs},
        now, _id=reg_id,
    )
    return {
        "_updated": reg["_updated"],
        "_created": reg["_created"],
        "_etag": reg["_etag"],
        "_id": reg_id,
        "_status": "OK",
        "_cases": case_ids,
        "_ocr_numbers": ocr_ids,
        "_ocr_numbers_ocr": ocrs,
    }


def _already_claimed_reminder_fee(debt: dict[str, Any]) -> int:
    fac = debt.get("fees_already_claimed") or {}
    if isinstance(fac.get("reminder"), dict) and fac["reminder"].get("amount") is not None:
        return to_minor(fac["reminder"]["amount"])
    return 0


def _debt(d: dict[str, Any], creditor: dict[str, Any]) -> dict[str, Any]:
    return {
        "invoice_number": d["invoice_number"],
        "debt_reference": d.get("reference_number"),
        "payout_reference": d.get("payout_reference"),
        "invoice_date": rfc1123(parse_date(d["invoice_date"])),
        "invoice_due_days_after_invoice_date": d.get("invoice_due_days_after_invoice_date"),
        "interest_days_after_invoice_date": d.get("interest_days_after_invoice_date"),
        "initial_capital": d["capital_to_claim"],
        "capital_to_claim": d["capital_to_claim"],
        "debt_description": d.get("debt_description") or creditor.get("standard_debt_description"),
    }


def routes(engine: Any) -> list[Route]:
    return [Route("/case--registrations", post_handler(engine, partial(register_cases, engine)), methods=["POST"])]
