"""Response helpers shared by the HTTP layers."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .util import dumps


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class Problem(Response):
    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


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

EVE_MESSAGES = {
    400: "The browser (or proxy) sent a request that this server could not understand.",
    401: "Please provide proper credentials",
    403: "You don't have the permission to access the requested resource.",
    404: "The requested URL was not found on the server.",
    405: "The method is not allowed for the requested URL.",
    429: "Rate limit exceeded",
    500: "The server encountered an internal error and was unable to complete your request.",
    502: "The proxy server received an invalid response from an upstream server.",
    503: "The server is temporarily unable to service your request. Please try again later.",
    504: "The gateway timed out.",
}


def eve_error_response(code: int, message: str | None = None, headers: dict[str, str] | None = None) -> JSON:
    return JSON(
        {"_status": "ERR", "_error": {"code": code, "message": message or EVE_MESSAGES.get(code, TITLES.get(code, ""))}},
        status_code=code,
        headers=headers,
    )


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


def is_norway_path(path: str) -> bool:
    return path.startswith("/collection/") or path == "/token"


def error_for_path(path: str, status: int, message: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    if is_norway_path(path):
        return problem(status, message, headers=headers)
    return eve_error_response(status, message, headers=headers)


async def read_json(request: Request) -> tuple[Any, bool]:
    """Return (body, ok). ok=False when the body is not valid JSON."""
    import json

    raw = await request.body()
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except ValueError:
        return None, False
