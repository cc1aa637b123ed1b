"""Norwegian invoices: an invoice item of a batch becomes an invoice and its case (reference B.4, B.5).

The claims give the case's amounts (``PRINCIPAL`` → capital, ``FEE`` → fees, ``INTEREST`` → interest);
the invoice's ``type`` is the case's starting stage. Reads: ``GET /orgs/{org}/invoices`` (``Status``,
``Type``, ``InvoiceNumber``, ``UniqueSourceInvoiceId``, ``CustomerNumber``, ``From``, ``To``) and
``/invoices/{id}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.routing import Route

from ..dates import iso, parse_date
from ..money import to_minor
from ..state import EmulatorState
from . import cases
from .auth import organization
from .endpoints import ORG_PREFIX, equals, in_date_range, item_handler, list_handler


def claim_amounts(claims: list[dict[str, Any]]) -> cases.ClaimAmounts:
    capital = fees = interest = 0
    for c in claims:
        amt = to_minor(c["remainingAmount"])
        if c["type"] == "PRINCIPAL":
            capital += amt
        elif c["type"] == "FEE":
            fees += amt
        else:
            interest += amt
    return cases.ClaimAmounts(capital, fees, interest)


def register_invoice(state: EmulatorState, org: str, item: dict[str, Any], batch_id: str,
                     now: datetime) -> dict[str, Any]:
    """Store the invoice and open its case; returns the invoice."""
    orgcfg = organization(state, org) or {}
    invoice_id = state.uuid()
    case_id = state.uuid()
    state.case_number += 1
    inv = _invoice_document(org, orgcfg, item, invoice_id, case_id, state.case_number, batch_id, now)
    state.db["no"]["invoices"][invoice_id] = inv
    cases.open_case(state, orgcfg, item, inv, claim_amounts(item["claims"]), now)
    return inv


def _invoice_document(org: str, orgcfg: dict[str, Any], item: dict[str, Any], invoice_id: str, case_id: str,
                      case_number: int, batch_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "invoiceId": invoice_id,
        "organization": {"id": org, "organizationNumber": orgcfg.get("organization_number"),
                         "name": orgcfg.get("name")},
        "invoiceNumber": item["invoiceNumber"],
        "collectionCaseNumber": case_number,
        "caseId": case_id,
        "type": item["type"],
        "status": "OPEN",
        "subStatus": None,
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "registeredAt": iso(now),
        "closedAt": None,
        "invoiceDate": iso_or_none(item.get("invoiceDate")),
        "dueDate": iso_or_none(item.get("dueDate")),
        "collectionNoticeDate": iso_or_none(item.get("collectionNoticeDate")),
        "batchId": batch_id,
        "originalInvoiceAmount": item.get("originalInvoiceAmount"),
        "currency": item.get("currency") or "NOK",
        "vat": item.get("vat"),
        "fees": item.get("fees"),
        "ocrReferenceNumber": item.get("ocrReferenceNumber"),
        "uniqueSourceInvoiceId": item.get("uniqueSourceInvoiceId"),
        "customerNumber": item["debtors"][0].get("customerNumber"),
        "description": item.get("description"),
        "debtors": item["debtors"],
        "claims": item["claims"],
    }


def iso_or_none(value: Any) -> str | None:
    if not value:
        return None
    d = parse_date(value)
    return iso(d) if d else None


def rebuild_number_index(state: EmulatorState) -> None:
    """(organization, invoice number) -> invoice ids, for the ``unique_invoice_numbers`` fault."""
    state.no_by_number = {}
    for iid, inv in state.db["no"]["invoices"].items():
        state.no_by_number.setdefault((inv["organization"]["id"], inv["invoiceNumber"]), []).append(iid)


def invoice_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
    return (equals(d, q, "status", "status") and equals(d, q, "type", "type")
            and equals(d, q, "invoicenumber", "invoiceNumber")
            and equals(d, q, "uniquesourceinvoiceid", "uniqueSourceInvoiceId")
            and equals(d, q, "customernumber", "customerNumber")
            and in_date_range(d, q, "from", "to", "createdAt"))


def routes(engine: Any) -> list[Route]:
    return [
        Route(f"{ORG_PREFIX}/invoices", list_handler(engine, "invoices", invoice_filter), methods=["GET"]),
        Route(f"{ORG_PREFIX}/invoices/{{id}}", item_handler(engine, "invoices", "Invoice"), methods=["GET"]),
    ]
