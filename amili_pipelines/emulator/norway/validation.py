"""Validation of Norwegian write requests (invoices, payments, corrections), in two tiers.

1. **Request level, reference F.2.9**: an enum value outside its allowed set (invoice ``type``, debtor
   ``type``, claim ``type``, payment ``type``) in *any* item refuses the whole request with 422
   problem+json, ``errors`` keyed by JSON path (``invoices[3].debtors[0].type``). Nothing is created,
   and an ``IdempotencyKey`` sent with it stays unused: such a request can never succeed, so a client
   must fix it rather than poll a batch for it.
2. **Item level, F.2.3**: everything else (a missing field, a bad date or amount, a non-object item) fails
   only that item inside the batch. Item validation still knows the enums, so an item that somehow
   skipped the request check (e.g. queued before a restart) fails cleanly instead of creating a case of
   an unknown type.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..dates import parse_date
from ..money import is_number

# Allowed values, in the order the messages list them (F.2.9)
INVOICE_TYPES = ("NOTICE", "PAYMENT_REMINDER", "COLLECTION_NOTICE")
DEBTOR_TYPES = ("PRIVATE", "COMPANY")
CLAIM_TYPES = ("PRINCIPAL", "FEE", "INTEREST")
PAYMENT_TYPES = ("DIRECT_PAYMENT",)
DEFAULT_PAYMENT_TYPE = "DIRECT_PAYMENT"

ItemError = dict[str, Any]

# Norway's dates are ISO 8601 (B.4: "2024-01-15T00:00:00Z" or "yyyy-MM-dd"); a .NET JSON reader does not
# take Sweden's RFC 1123 ("Mon, 15 Jan 2024 00:00:00 GMT"), so neither does the emulator.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T|$)")


class UnknownEnumValues(ValueError):
    """A write request carries enum values outside their allowed sets (F.2.9): refuse it as a whole."""

    detail = "One or more values are outside their allowed set; the request was not processed."

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(f"{self.detail} {errors}")
        self.errors = errors


# ------------------------------------------------------------------ request level (F.2.9)

def enum_fields(kind: str, item: Any) -> Iterator[tuple[str, Any, str, tuple[str, ...]]]:
    """(path within the item, value, what it is, allowed values) for every enum field an item has."""
    if not isinstance(item, dict):
        return
    if kind == "INVOICE":
        yield "type", item.get("type"), "invoice type", INVOICE_TYPES
        for i, d in _objects(item.get("debtors")):
            yield f"debtors[{i}].type", d.get("type"), "debtor type", DEBTOR_TYPES
        for i, c in _objects(item.get("claims")):
            yield f"claims[{i}].type", c.get("type"), "claim type", CLAIM_TYPES
    elif kind == "PAYMENT":
        yield "type", item.get("type", DEFAULT_PAYMENT_TYPE), "payment type", PAYMENT_TYPES


def _objects(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, dict):
                yield i, v


def unknown_enum_message(value: Any, what: str, allowed: tuple[str, ...]) -> str:
    return f"'{value}' is not a valid {what}. Allowed values: {', '.join(allowed)}."


def unknown_enum_values(kind: str, items: list[Any], key: str) -> dict[str, list[str]]:
    """JSON path -> messages for every present enum value outside its set (missing values are item errors)."""
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        for path, value, what, allowed in enum_fields(kind, item):
            if value is not None and value not in allowed:
                errors[f"{key}[{index}].{path}"] = [unknown_enum_message(value, what, allowed)]
    return errors


def check_enums(kind: str, items: list[Any], key: str) -> None:
    """Raise :class:`UnknownEnumValues` when any item has an unknown enum value."""
    errors = unknown_enum_values(kind, items, key)
    if errors:
        raise UnknownEnumValues(errors)


# ------------------------------------------------------------------ item level (F.2.3)

def _err(code: str, field: str, message: str) -> ItemError:
    return {"code": code, "message": message, "field": field}


def _required_str(item: dict[str, Any], key: str, errors: list[ItemError], prefix: str = "") -> None:
    v = item.get(key)
    if v is None or v == "":
        errors.append(_err("REQUIRED", prefix + key, f"'{key}' is required"))
    elif not isinstance(v, str):
        errors.append(_err("INVALID_TYPE", prefix + key, f"'{key}' must be a string"))


def _date(item: dict[str, Any], key: str, errors: list[ItemError], required: bool) -> None:
    v = item.get(key)
    if v is None:
        if required:
            errors.append(_err("REQUIRED", key, f"'{key}' is required"))
        return
    if not isinstance(v, str) or not _ISO_DATE.match(v) or parse_date(v) is None:
        errors.append(_err("INVALID_VALUE", key, f"'{key}' is not a valid ISO 8601 date"))


def _currency(item: dict[str, Any], errors: list[ItemError]) -> None:
    c = item.get("currency")
    if c is None:
        errors.append(_err("REQUIRED", "currency", "'currency' is required"))
    elif not (isinstance(c, str) and len(c) == 3 and c.isalpha() and c.isupper()):
        errors.append(_err("INVALID_VALUE", "currency", f"'{c}' is not an ISO 4217 currency code"))


def validate_invoice(item: Any) -> list[ItemError]:
    if not isinstance(item, dict):
        return [_err("INVALID_TYPE", "", "invoice must be an object")]
    errors: list[ItemError] = []
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
    _debtors(item.get("debtors"), errors)
    _claims(item.get("claims"), errors)
    return errors


def _debtors(debtors: Any, errors: list[ItemError]) -> None:
    if not isinstance(debtors, list) or not debtors:
        errors.append(_err("REQUIRED", "debtors", "at least one debtor is required"))
        return
    for i, d in enumerate(debtors):
        p = f"debtors[{i}]."
        if not isinstance(d, dict):
            errors.append(_err("INVALID_TYPE", p[:-1], "debtor must be an object"))
            continue
        if d.get("type") not in DEBTOR_TYPES:
            errors.append(_err("INVALID_VALUE", p + "type", f"'{d.get('type')}' is not a valid debtor type"))
        if not (d.get("name") or d.get("firstname") or d.get("lastname")):
            errors.append(_err("REQUIRED", p + "name", "a debtor needs 'name' or 'firstname'/'lastname'"))


def _claims(claims: Any, errors: list[ItemError]) -> None:
    """Claims need a type, an amount >= 0, and one PRINCIPAL among them (checked only when all else is fine)."""
    if not isinstance(claims, list) or not claims:
        errors.append(_err("REQUIRED", "claims", "at least one claim is required"))
        return
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


def validate_money(kind: str, item: Any) -> list[ItemError]:
    if not isinstance(item, dict):
        return [_err("INVALID_TYPE", "", f"{kind.lower()} must be an object")]
    errors: list[ItemError] = []
    _required_str(item, "invoiceId", errors)
    amt = item.get("amount")
    if amt is None:
        errors.append(_err("REQUIRED", "amount", "'amount' is required"))
    elif not is_number(amt) or amt <= 0:
        errors.append(_err("INVALID_VALUE", "amount", "'amount' must be a number > 0"))
    _currency(item, errors)
    if kind == "PAYMENT":
        t = item.get("type", DEFAULT_PAYMENT_TYPE)
        if t not in PAYMENT_TYPES:
            errors.append(_err("INVALID_VALUE", "type", f"'{t}' is not a valid payment type"))
        _date(item, "paymentDate", errors, False)
    else:
        _date(item, "date", errors, False)
    return errors


def validate_item(kind: str, item: Any) -> list[ItemError]:
    if kind == "INVOICE":
        return validate_invoice(item)
    return validate_money(kind, item)
