"""Per-item validation for Norwegian batch items (invoices, payments, corrections).

A bad item fails inside the batch (F.2.3); it never fails the request.
"""

from __future__ import annotations

from typing import Any

from .util import is_number, parse_date

INVOICE_TYPES = {"NOTICE", "PAYMENT_REMINDER", "COLLECTION_NOTICE"}
DEBTOR_TYPES = {"PRIVATE", "COMPANY"}
CLAIM_TYPES = {"PRINCIPAL", "FEE", "INTEREST"}
PAYMENT_TYPES = {"DIRECT_PAYMENT"}


def _err(code: str, field: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field}


def _required_str(item: dict[str, Any], key: str, errors: list, prefix: str = "") -> None:
    v = item.get(key)
    if v is None or v == "":
        errors.append(_err("REQUIRED", prefix + key, f"'{key}' is required"))
    elif not isinstance(v, str):
        errors.append(_err("INVALID_TYPE", prefix + key, f"'{key}' must be a string"))


def _date(item: dict[str, Any], key: str, errors: list, required: bool) -> None:
    v = item.get(key)
    if v is None:
        if required:
            errors.append(_err("REQUIRED", key, f"'{key}' is required"))
        return
    if not isinstance(v, str) or parse_date(v) is None:
        errors.append(_err("INVALID_VALUE", key, f"'{key}' is not a valid date"))


def _currency(item: dict[str, Any], errors: list) -> None:
    c = item.get("currency")
    if c is None:
        errors.append(_err("REQUIRED", "currency", "'currency' is required"))
    elif not (isinstance(c, str) and len(c) == 3 and c.isalpha() and c.isupper()):
        errors.append(_err("INVALID_VALUE", "currency", f"'{c}' is not an ISO 4217 currency code"))


def validate_invoice(item: Any) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return [_err("INVALID_TYPE", "", "invoice must be an object")]
    errors: list[dict[str, Any]] = []
    t = item.get("type")
    if t is None:
        errors.append(_err("REQUIRED", "type", "'type' is required"))
    elif t not in INVOICE_TYPES:
        errors.append(_err("INVALID_VALUE", "type", f"'{t}' is not a valid invoice type"))
    _required_str(item, "invoiceNumber", errors)
    _currency(item, errors)
    _date(item, "invoiceDate", errors, True)
    _date(item, "dueDate", errors, True)
    _date(item, "collectionNoticeDate", errors, False)
    if item.get("originalInvoiceAmount") is not None and (
        not is_number(item["originalInvoiceAmount"]) or item["originalInvoiceAmount"] < 0
    ):
        errors.append(_err("INVALID_VALUE", "originalInvoiceAmount", "must be a number >= 0"))
    debtors = item.get("debtors")
    if not isinstance(debtors, list) or not debtors:
        errors.append(_err("REQUIRED", "debtors", "at least one debtor is required"))
    else:
        for i, d in enumerate(debtors):
            p = f"debtors[{i}]."
            if not isinstance(d, dict):
                errors.append(_err("INVALID_TYPE", p[:-1], "debtor must be an object"))
                continue
            if d.get("type") not in DEBTOR_TYPES:
                errors.append(_err("INVALID_VALUE", p + "type", f"'{d.get('type')}' is not a valid debtor type"))
            if not (d.get("name") or d.get("firstname") or d.get("lastname")):
                errors.append(_err("REQUIRED", p + "name", "a debtor needs 'name' or 'firstname'/'lastname'"))
    claims = item.get("claims")
    if not isinstance(claims, list) or not claims:
        errors.append(_err("REQUIRED", "claims", "at least one claim is required"))
    else:
        principal = False
        for i, c in enumerate(claims):
            p = f"claims[{i}]."
            if not isinstance(c, dict):
                errors.append(_err("INVALID_TYPE", p[:-1], "claim must be an object"))
                continue
            if c.get("type") not in CLAIM_TYPES:
                errors.append(_err("INVALID_VALUE", p + "type", f"'{c.get('type')}' is not a valid claim type"))
            principal = principal or c.get("type") == "PRINCIPAL"
            amt = c.get("remainingAmount")
            if not is_number(amt) or amt < 0:
                errors.append(_err("INVALID_VALUE", p + "remainingAmount", "must be a number >= 0"))
        if not principal and not errors:
            errors.append(_err("REQUIRED", "claims", "a PRINCIPAL claim is required"))
    return errors


def validate_money(kind: str, item: Any) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return [_err("INVALID_TYPE", "", f"{kind.lower()} must be an object")]
    errors: list[dict[str, Any]] = []
    _required_str(item, "invoiceId", errors)
    amt = item.get("amount")
    if amt is None:
        errors.append(_err("REQUIRED", "amount", "'amount' is required"))
    elif not is_number(amt) or amt <= 0:
        errors.append(_err("INVALID_VALUE", "amount", "'amount' must be a number > 0"))
    _currency(item, errors)
    if kind == "PAYMENT":
        t = item.get("type", "DIRECT_PAYMENT")
        if t not in PAYMENT_TYPES:
            errors.append(_err("INVALID_VALUE", "type", f"'{t}' is not a valid payment type"))
        _date(item, "paymentDate", errors, False)
    else:
        _date(item, "date", errors, False)
    return errors


def validate_item(kind: str, item: Any) -> list[dict[str, Any]]:
    if kind == "INVOICE":
        return validate_invoice(item)
    return validate_money(kind, item)
