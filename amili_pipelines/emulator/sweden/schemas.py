"""Request schemas of the Swedish resources, taken from the seed documents' property tables.

They drive :func:`~..eve.validate`; rules a schema cannot express (exactly one customer type flag,
``car_registration`` excluding ``customer_number``) are in :func:`customer_rules`.
"""

from __future__ import annotations

from typing import Any

from ..eve import Schema

S = {"type": "string"}
B = {"type": "boolean"}
N = {"type": "number"}
D = {"type": "datetime"}

ADDRESS: Schema = {
    "address_line_1": S,
    "address_line_2": S,
    "address_line_3": S,
    "zip_code": S,
    "city": S,
    "country": {"type": "string", "regex": "[A-Z]{2}"},  # "ISO 3166-1 alpha-2 format (e.g. \"SE\")" (seed table)
    "gln": S,
}

CUSTOMER: Schema = {
    "name": {"type": "string", "required": True, "empty": False},
    "customer_number": S,
    "id_number": S,
    "is_person": B,
    "is_company": B,
    "is_foreign": B,
    "address": {"type": "dict", "schema": ADDRESS},
    "mobile_number": S,
    "email": S,
    "car_registration": {
        "type": "dict",
        "schema": {"number": {"type": "string", "required": True}, "country": S, "ownership_date": D},
    },
}

MATRIX_ITEM: Schema = {
    "article_number": S,
    "article_description": {"type": "string", "required": True},
    "unit_price": N,
    "number_of_units": N,
    "total_price_excluding_vat": {"type": "number", "required": True},
    "unit_vat_percent": {"type": "string", "regex": r"\d{1,2}(\.\d{1,2})?%"},
    "is_discount": B,
    "cost_center": S,
    "article_date": D,
    "order_line_reference": S,
    "custom_column_data": {"type": "list"},
    "extra_rows": {"type": "list"},
}

INVOICE_REGISTRATION: Schema = {
    "account": {"type": "objectid", "required": True},
    "creditor": {"type": "objectid", "required": True},
    "customer": {"type": "dict", "required": True, "schema": CUSTOMER},
    "invoice_type": {"type": "string", "required": True, "allowed": ["invoice"]},
    "invoice_number": {"type": "string", "required": True, "empty": False},
    "reference_number": S,
    "payout_reference": S,
    "invoice_date": {"type": "datetime", "required": True},
    "invoice_due_date": {"type": "datetime", "required": True},
    "invoice_delivery_date": D,
    "invoice_headline": S,
    "invoice_body_text": S,
    "currency": {"type": "string", "required": True, "allowed": ["SEK"]},
    "your_contact": S,
    "your_reference": S,
    "our_reference": S,
    "your_additional_reference": S,
    "order_reference": S,
    "contract_reference": S,
    "debt_description": S,
    "letter_template": S,
    "custom_column_headlines": {"type": "list"},
    "matrix": {"type": "list", "required": True, "empty": False, "items": {"type": "dict", "schema": MATRIX_ITEM}},
    "preferred_invoice_distribution": S,
    "case_settings": {"type": "dict"},
    "labels": {"type": "list", "items": S},
    "file_import_report": {"type": "dict", "readonly": True},
    "start_flow": B,
}

DEBT: Schema = {
    "invoice_number": {"type": "string", "required": True, "empty": False},
    "debt_description": S,
    "reference_number": S,
    "payout_reference": S,
    "invoice_date": {"type": "datetime", "required": True},
    "capital_to_claim": {"type": "number", "required": True, "min": 0},
    "invoice_due_days_after_invoice_date": {"type": "integer"},
    "interest_days_after_invoice_date": {"type": "integer"},
    "fees_included_in_capital_to_claim": {"type": "dict", "schema": {"invoice_fee": N}},
    "fees_already_claimed": {
        "type": "dict",
        "schema": {"reminder": {"type": "dict", "schema": {"amount": N, "fee_registration_date": D}}},
    },
}

CASE_REGISTRATION: Schema = {
    "account": {"type": "objectid", "required": True},
    "creditor": {"type": "objectid", "required": True},
    "first_action": {"type": "string", "required": True, "allowed": ["reminder", "debt_collection"]},
    "currency": {"type": "string", "required": True, "allowed": ["SEK"]},
    "customer": {"type": "dict", "required": True, "schema": CUSTOMER},
    "debts": {"type": "list", "required": True, "empty": False, "items": {"type": "dict", "schema": DEBT}},
    "case_settings": {"type": "dict"},
    "labels": {"type": "list", "items": S},
    "start_flow": B,
    "preferred_invoice_distribution": S,
    "file_import_report": {"type": "dict", "readonly": True},
}

_ACTION_COMMON: Schema = {
    "account": {"type": "objectid"},
    "creditor": {"type": "objectid", "required": True},
    "case": {"type": "objectid"},
    "invoice_number": {"type": "string", "empty": False},
    "file_import_report": {"type": "dict", "readonly": True},
    "origin": {"type": "string", "required": True, "allowed": ["creditor_system"]},
}

CREDITOR_PAYMENT: Schema = {
    **_ACTION_COMMON,
    "currency": {"type": "string", "required": True, "allowed": ["SEK"]},
    "amount": {"type": "number", "required": True, "min": 0.01},
    "bank_transaction_date": {"type": "datetime", "required": True},
    "client_registration_date": D,
    "creditor_payment_reference": S,
}

CREDITOR_CREDITING: Schema = {
    **_ACTION_COMMON,
    "currency": {"type": "string", "required": True, "allowed": ["SEK"]},
    "amount": {"type": "number", "required": True, "min": 0.01},
    "credit_invoice": S,
    "client_registration_date": D,
    "creditor_reference": S,
}

# A.9.3: creditor, case | invoice_number, file_import_report, origin. "There is no amount and no account."
CREDITOR_CANCELLATION: Schema = {k: v for k, v in _ACTION_COMMON.items() if k != "account"}

RESPITE: Schema = {
    "respite_until": {"type": "datetime", "required": True},
    "origin": {"type": "string", "required": True, "allowed": ["creditor_system"]},
}

CREDITOR: Schema = {
    "account": {"type": "objectid", "required": True},
    "name": {"type": "string", "required": True, "empty": False},
    "organization_no": S,
    "non_swedish_organization_no": S,
    "is_active": B,
    "standard_debt_description": S,
    "agreement_address": {"type": "dict"},
    "case_config": {"type": "dict"},
    "description": S,
    "default_letter_locale": S,
    "payout_details": {"type": "dict"},
    "sender_address": {"type": "dict"},
    "invoice_address": {"type": "dict"},
    "always_use_standard_debt_description": B,
    "agreement_template": S,
    "partner": {"type": "string", "readonly": True},
    "creditor_number": {"type": "integer", "readonly": True},
    "added_to_erp_system": {"type": "boolean", "readonly": True},
}


def customer_rules(customer: Any) -> dict[str, Any]:
    """Exactly one of is_person / is_company / is_foreign; car_registration excludes customer_number."""
    if not isinstance(customer, dict):
        return {}
    issues: dict[str, Any] = {}
    flags = [k for k in ("is_person", "is_company", "is_foreign") if customer.get(k) is True]
    if not flags:
        issues["is_person"] = "exactly one of 'is_person', 'is_company' or 'is_foreign' must be true"
    elif len(flags) > 1:
        issues[flags[1]] = f"'{flags[1]}' must not be present with '{flags[0]}'"
    if customer.get("car_registration") is not None and customer.get("customer_number") is not None:
        issues["car_registration"] = "'car_registration' must not be present with 'customer_number'"
    return issues


def merge_issues(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if k in out and isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = merge_issues(out[k], v)
        elif k not in out:
            out[k] = v
    return out
