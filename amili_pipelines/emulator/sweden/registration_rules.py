"""Checks shared by Sweden's two ways to register debt (invoice registrations and case registrations).

A registration must name an existing account (the caller's own) and an active creditor of it; with the
``unique_invoice_numbers`` fault switched on, a creditor may use an invoice number only once. Dates
arrive as RFC 1123 or ISO and are stored as RFC 1123, as Eve would echo them.
"""

from __future__ import annotations

from typing import Any

from ..dates import parse_date, rfc1123
from ..eve import Schema, validate
from ..state import EmulatorState
from . import schemas


def body_issues(body: Any, schema: Schema) -> dict[str, Any]:
    """Schema issues plus the customer rules a schema cannot express."""
    issues = validate(body, schema)
    if isinstance(body, dict):
        cust = schemas.customer_rules(body.get("customer"))
        if cust:
            issues = schemas.merge_issues(issues, {"customer": cust})
    return issues


def reference_issues(state: EmulatorState, body: dict[str, Any], account: str) -> dict[str, Any]:
    issues: dict[str, Any] = {}
    if body.get("account") not in {a.id for a in state.config.sweden.accounts} or body.get("account") != account:
        issues["account"] = f"value '{body.get('account')}' must exist in resource 'accounts', field '_id'."
    cred = state.db["se"]["creditors"].get(body.get("creditor", ""))
    if cred is None or cred.get("account") != body.get("account"):
        issues["creditor"] = f"value '{body.get('creditor')}' must exist in resource 'creditors', field '_id'."
    elif not cred.get("is_active"):
        issues["creditor"] = f"creditor '{body.get('creditor')}' is not active"
    return issues


def duplicate_issue(state: EmulatorState, creditor: str, number: str) -> str | None:
    if state.config.faults.unique_invoice_numbers and state.se_by_number.get((creditor, number)):
        return f"value '{number}' is not unique"
    return None


def normalize_dates(body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = dict(body)
    for k in keys:
        if out.get(k) is not None:
            d = parse_date(out[k])
            if d is not None:
                out[k] = rfc1123(d)
    return out
