"""Reading Eve error bodies: ``{"_status":"ERR","_error":{...},"_issues":{...}}`` (reference A.4, F.1.3)."""

from __future__ import annotations

import httpx

from amili_pipelines.amili.errors import flatten_issues
from amili_pipelines.amili.transport import DecodedError


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
        raw_issues = {str(i): it.get("_issues") for i, it in enumerate(body["_items"]) if isinstance(it, dict) and it.get("_issues")}
    return DecodedError(
        message=str(message or response.reason_phrase or f"HTTP {response.status_code}"),
        issues=tuple(flatten_issues(raw_issues)) if raw_issues else (),
        raw=raw_issues,
    )
