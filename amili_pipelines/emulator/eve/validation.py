"""Request validation in the Cerberus style Eve uses, with Eve's ``_issues`` messages.

Issues mirror the field path as nested dicts (``{"customer": {"name": "required field"}}``) and list
items by position (``{"matrix": {"0": {...}}}``), because clients map them back onto their own fields.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..dates import parse_date
from ..money import is_number


Schema = dict[str, dict[str, Any]]

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": is_number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "datetime": lambda v: isinstance(v, str) and parse_date(v) is not None,
    "objectid": lambda v: isinstance(v, str) and len(v) == 24 and all(c in "0123456789abcdef" for c in v.lower()),
}


def validate(doc: Any, schema: Schema, *, allow_unknown: bool = False) -> dict[str, Any]:
    """Return Eve/Cerberus-style issues (empty dict = valid). Nested dicts mirror the field path."""
    if not isinstance(doc, dict):
        return {"_schema": "must be of dict type"}
    issues: dict[str, Any] = {}
    for field, spec in schema.items():
        if field not in doc or (doc[field] is None and not spec.get("required") and spec.get("nullable", True)):
            if field not in doc and spec.get("required"):
                issues[field] = "required field"
            continue
        err = _check(doc[field], spec)
        if err:
            issues[field] = err
    if not allow_unknown:
        for field in doc:
            if field not in schema:
                issues[field] = "unknown field"
    return issues


def _check(value: Any, spec: dict[str, Any]) -> Any:
    if spec.get("readonly"):
        return "field is read-only"
    if value is None:
        return "null value not allowed"
    t = spec.get("type")
    if t and not _TYPE_CHECKS[t](value):
        return f"must be of {t} type"
    if "allowed" in spec and value not in spec["allowed"]:
        return f"unallowed value {value}"
    if spec.get("empty") is False and value in ("", [], {}):
        return "empty values not allowed"
    if "regex" in spec and isinstance(value, str) and not re.fullmatch(spec["regex"], value):
        return f"value does not match regex '{spec['regex']}'"
    if "min" in spec and is_number(value) and value < spec["min"]:
        return f"min value is {spec['min']}"
    if t == "dict" and "schema" in spec:
        sub = validate(value, spec["schema"], allow_unknown=spec.get("allow_unknown", False))
        return sub or None
    if t == "list" and "items" in spec:
        sub_issues: dict[str, Any] = {}
        item_spec = spec["items"]
        for i, item in enumerate(value):
            err = _check(item, item_spec)
            if err:
                sub_issues[str(i)] = err
        return sub_issues or None
    return None
