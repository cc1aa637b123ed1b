"""Eve's error bodies, the Swedish API's error format (reference A.4, F.1.3).

``{"_status": "ERR", "_error": {"code", "message"}}`` for every error, plus ``_issues`` on 422
validation failures; the messages are Eve's (or Werkzeug's) defaults, which clients may match on.
"""

from __future__ import annotations

from typing import Any

from ..responses import JSON, TITLES

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


def eve_error(code: int, message: str) -> dict[str, Any]:
    return {"_status": "ERR", "_error": {"code": code, "message": message}}


def eve_issues(issues: dict[str, Any], verb: str = "Insertion failure") -> dict[str, Any]:
    return {
        "_status": "ERR",
        "_issues": issues,
        "_error": {"code": 422, "message": f"{verb}: 1 document(s) contain(s) error(s)"},
    }


def eve_error_response(code: int, message: str | None = None, headers: dict[str, str] | None = None) -> JSON:
    return JSON(
        {"_status": "ERR", "_error": {"code": code, "message": message or EVE_MESSAGES.get(code, TITLES.get(code, ""))}},
        status_code=code,
        headers=headers,
    )
