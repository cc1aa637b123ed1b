"""JSON in and out of HTTP handlers, shared by both markets and the admin API.

Bodies are rendered with :func:`~.compact_json.dumps`, so what a client reads is byte-for-byte what the
emulator means; :func:`read_json` tells "no/invalid JSON" apart from valid JSON that happens to be
``null``, because the two markets answer those differently.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .compact_json import dumps

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


async def read_json(request: Request) -> tuple[Any, bool]:
    """Return (body, ok). ok=False when the body is not valid JSON."""
    raw = await request.body()
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except ValueError:
        return None, False
