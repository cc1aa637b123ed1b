"""Which error format a path gets: Norway's paths RFC 7807 problems, everything else Eve's error body.

Errors that arise outside a market's own handlers (unknown routes, wrong methods, injected faults,
crashes) must still look like that market's errors, because clients parse them; the admin API keeps
its own plain ``{"error": ...}``.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .eve.errors import eve_error_response
from .problems import problem
from .responses import JSON


def is_norway_path(path: str) -> bool:
    return path.startswith("/collection/") or path == "/token"


def error_for_path(path: str, status: int, message: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    if is_norway_path(path):
        return problem(status, message, headers=headers)
    return eve_error_response(status, message, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/_emulator"):
        return JSON({"error": exc.detail}, status_code=exc.status_code)
    return error_for_path(request.url.path, exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    return error_for_path(request.url.path, 500)
