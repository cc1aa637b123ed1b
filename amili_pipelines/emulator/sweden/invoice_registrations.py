"""``POST /invoice--registrations`` (reference A.6): one invoice becomes an ``invoices`` document and a case.

The case's capital is the invoice total **including VAT**: per ``matrix`` line
``total_price_excluding_vat × (1 + unit_vat_percent)`` (default ``"25%"``), rounded to öre per line, so
the seed's person example (500 + 25 %) makes a case of 625.00 SEK.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from starlette.routing import Route

from ..dates import parse_date
from ..eve import eve_issues
from ..money import from_minor, pct_of, to_minor
from ..state import EmulatorState
from . import cases, schemas
from .endpoints import post_handler
from .registration_rules import body_issues, duplicate_issue, normalize_dates, reference_issues

DATE_FIELDS = ("invoice_date", "invoice_due_date", "invoice_delivery_date")


def register_invoice(state: EmulatorState, body: Any, account: str,
                     dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    issues = body_issues(body, schemas.INVOICE_REGISTRATION)
    if not issues:
        issues = reference_issues(state, body, account)
    with state.lock:
        if not issues:
            dup = duplicate_issue(state, body["creditor"], body["invoice_number"])
            if dup:
                issues = {"invoice_number": dup}
        if issues:
            return 422, eve_issues(issues)
        if dry_run:
            return 200, {"_status": "OK"}
        return 201, _register(state, body, state.clock.now())


def priced_matrix(matrix: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
    """(net, vat, lines with their VAT) in öre; VAT is rounded per line, as on the printed invoice."""
    net = vat = 0
    lines = []
    for item in matrix:
        line_net = to_minor(item["total_price_excluding_vat"])
        pct = item.get("unit_vat_percent") or "25%"
        line_vat = pct_of(line_net, pct.rstrip("%"))
        net += line_net
        vat += line_vat
        lines.append({**item, "unit_vat_percent": pct, "vat_amount": from_minor(line_vat),
                      "total_price_including_vat": from_minor(line_net + line_vat)})
    return net, vat, lines


def _register(state: EmulatorState, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    now_ts = now.timestamp()
    net, vat, lines = priced_matrix(body["matrix"])
    total = net + vat
    reg_id = state.oid(now_ts)
    case_id = state.oid(now_ts)
    ocr_id = state.oid(now_ts)
    ocr = state.ocr(now)
    norm = normalize_dates(body, DATE_FIELDS)
    reg = state.se_insert(
        "invoice--registrations",
        {**norm, "invoice": reg_id, "case": case_id, "ocr_number": ocr_id, "ocr_number_ocr": ocr},
        now, _id=reg_id,
    )
    state.se_insert(
        "invoices",
        {
            **{k: v for k, v in norm.items() if k != "matrix"},
            "matrix": lines,
            "invoice_registration": reg_id,
            "case": case_id,
            "ocr_number": ocr_id,
            "ocr_number_ocr": ocr,
            "total_amount_excluding_vat": from_minor(net),
            "total_vat_amount": from_minor(vat),
            "total_amount": from_minor(total),
        },
        now, _id=reg_id,
    )
    creditor = state.db["se"]["creditors"][body["creditor"]]
    cases.open_case(state, case_id, body, creditor, _debt(body, norm, creditor, total), total, 0, "invoice", now,
                    ocr, invoice_registration=reg_id, invoice=reg_id)
    return {
        "_updated": reg["_updated"],
        "_created": reg["_created"],
        "_etag": reg["_etag"],
        "_id": reg_id,
        "_status": "OK",
        "_invoice": reg_id,
        "_case": case_id,
        "_ocr_number": ocr_id,
        "ocr_number_ocr": ocr,
        "_ocr_number_ocr": ocr,
    }


def _debt(body: dict[str, Any], norm: dict[str, Any], creditor: dict[str, Any], total: int) -> dict[str, Any]:
    """The case's ``debt`` block: the invoice seen as a claim, due days counted from the invoice date."""
    due = parse_date(body["invoice_due_date"])
    inv_date = parse_date(body["invoice_date"])
    due_days = max(0, (due.date() - inv_date.date()).days)
    return {
        "invoice_number": body["invoice_number"],
        "debt_reference": body.get("reference_number"),
        "payout_reference": body.get("payout_reference"),
        "invoice_date": norm["invoice_date"],
        "invoice_due_date": norm["invoice_due_date"],
        "invoice_due_days_after_invoice_date": due_days,
        "interest_days_after_invoice_date": due_days,
        "initial_capital": from_minor(total),
        "capital_to_claim": from_minor(total),
        "debt_description": body.get("debt_description") or creditor.get("standard_debt_description"),
    }


def routes(engine: Any) -> list[Route]:
    return [Route("/invoice--registrations", post_handler(engine, partial(register_invoice, engine)),
                  methods=["POST"])]
