"""Reading Eve error bodies: ``{"_status":"ERR","_error":{...},"_issues":{...}}`` (reference A.4, F.1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from amili_pipelines.amili.errors import ApiIssue, flatten_issues
from amili_pipelines.amili.transport import DecodedError

# One error entry a non-Eve server may put in an ``_issues`` list: {"field": ..., "message": ..., "code": ...}.
_ENTRY_KEYS = frozenset({"field", "message", "code"})


def decode_eve_error(response: httpx.Response) -> DecodedError:
    try:
        body = response.json()
    except ValueError:
        return DecodedError(message=response.reason_phrase or f"HTTP {response.status_code}")
    if not isinstance(body, dict):
        return DecodedError(message=response.reason_phrase or f"HTTP {response.status_code}")
    error = body.get("_error")
    message = None
    if isinstance(error, dict):
        message = error.get("message")
    elif isinstance(error, str):
        message = error
    raw_issues = body.get("_issues")
    # Bulk POSTs nest issues per item in ``_items``; fold them in under the item index.
    if raw_issues is None and isinstance(body.get("_items"), list):
        raw_issues = {str(i): it.get("_issues") for i, it in enumerate(body["_items"])
                      if isinstance(it, dict) and it.get("_issues")}
    return DecodedError(
        message=str(message or response.reason_phrase or f"HTTP {response.status_code}"),
        issues=tuple(eve_issues(raw_issues)) if raw_issues else (),
        raw=raw_issues,
    )


def eve_issues(raw: Any) -> list[ApiIssue]:
    """Eve's ``_issues`` as field-path issues (:func:`flatten_issues`), also when it is a list.

    ``["msg", ...]`` keeps every message (field ``"_"``); a list of ``{"field", "message"[, "code"]}``
    entries keeps each entry's field and code. Other shapes (Eve's nested dicts, Cerberus' lists of
    nested error trees) are read as before.
    """
    if isinstance(raw, list | tuple) and any(_is_entry(item) for item in raw):
        out: list[ApiIssue] = []
        for item in raw:
            if _is_entry(item):
                code = item.get("code")
                out.append(ApiIssue(field=str(item.get("field") or "_"), message=str(item["message"]),
                                    code=None if code is None else str(code)))
            else:
                out.extend(flatten_issues(item))
        return out
    return flatten_issues(raw)


def _is_entry(value: Any) -> bool:
    # Strict on purpose: Cerberus nests error trees in lists too ([{"0": {"name": ["required"]}}]).
    return (isinstance(value, Mapping) and isinstance(value.get("message"), str)
            and set(map(str, value)) <= _ENTRY_KEYS)
