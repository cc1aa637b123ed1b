"""RFC 7807 ``application/problem+json`` errors, the Norwegian API's error format (reference F.2.1).

``errors`` maps a JSON path of the request (``invoices[3].debtors[0].type``) to messages; it is present
on 400/422 validation failures only. ``traceId`` is random on purpose: it identifies one response, and
nothing may depend on it.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response

from .compact_json import dumps
from .responses import TITLES


class Problem(Response):
    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def problem(status: int, detail: str | None = None, *, errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None, instance: str | None = None) -> Problem:
    body: dict[str, Any] = {
        "type": f"https://httpstatuses.io/{status}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or TITLES.get(status, "Error"),
        "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00",
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return Problem(body, status_code=status, headers=headers)
