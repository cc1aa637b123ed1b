"""Typed errors raised by the Amili clients.

The split follows what the caller must do next, not the HTTP status:

* :class:`ApiRejection`: Amili processed the request and said no (validation). Quarantine the
  invoice with the API's own messages; retrying the same payload will not help.
* :class:`OutcomeUnknown`: the request may or may not have been applied (a timeout after the body
  was sent, a 5xx on a non-idempotent POST). Never blindly resend: look the invoice up first.
* :class:`ApiUnavailable`: retries exhausted on failures that left nothing applied (or that an
  idempotency key makes safe to resend later).
* :class:`AuthenticationFailed`, :class:`NotFound`: as named.

Messages never contain tokens, API codes or client secrets: they are built from the method, the
URL path and the API's own error text only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiIssue:
    """One problem the API reported about one field of the request."""

    field: str  # dotted path as the API named it, e.g. "customer.address.zip_code" or "invoices[0].dueDate"
    message: str
    code: str | None = None


class AmiliError(Exception):
    """Base class of everything the Amili clients raise."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, method={self.method!r}, path={self.path!r}, status_code={self.status_code!r})"


class ApiRejection(AmiliError):
    """Amili rejected the request as invalid (Sweden 400/422 ``_issues``, Norway problem+json or a failed batch item).

    ``issues`` keeps the API's own field paths and messages; ``raw`` is the API's issue structure
    as received (Sweden's nested ``_issues`` dict, Norway's ``errors`` map or item error list).
    """

    def __init__(
        self,
        message: str,
        *,
        issues: Sequence[ApiIssue] = (),
        raw: Any = None,
        method: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
        item_index: int | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status_code=status_code)
        self.issues: tuple[ApiIssue, ...] = tuple(issues)
        self.raw = raw
        self.item_index = item_index

    def __str__(self) -> str:
        if not self.issues:
            return self.message
        detail = "; ".join(f"{i.field}: {i.message}" for i in self.issues)
        return f"{self.message} ({detail})"


class ApiConflict(ApiRejection):
    """409: the action does not fit the resource's current state (e.g. resuming an open case)."""


class OutcomeUnknown(AmiliError):
    """The request may have been applied. Resolve by a lookup before sending it again.

    ``idempotency_key`` is set when the request carried one: resending with the same key is then
    safe, because Amili answers a repeated key with the original result.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status_code=status_code)
        self.idempotency_key = idempotency_key


class ApiUnavailable(AmiliError):
    """Retries exhausted (429/503/connection failures, or 5xx on reads). Nothing was applied, or an idempotency key covers it."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
        attempts: int = 0,
        retry_after: float | None = None,
        reached: bool = True,
    ) -> None:
        super().__init__(message, method=method, path=path, status_code=status_code)
        self.attempts = attempts
        self.retry_after = retry_after
        # False when no attempt of this request got through to Amili (every one failed to connect):
        # then nothing of it can have been applied.
        self.reached = reached


class CircuitOpen(ApiUnavailable):
    """Not sent (again): Amili failed too many times in a row, so this client stopped sending for a while.

    ``attempts`` counts the tries this request made before the circuit opened; ``reached`` says
    whether any of them got through to Amili.
    """


class AuthenticationFailed(AmiliError):
    """The credentials were refused (401 after one token refresh, or 403)."""


class NotFound(AmiliError):
    """The addressed resource does not exist (404)."""


def flatten_issues(raw: Any, prefix: str = "") -> list[ApiIssue]:
    """Turn Eve's nested ``_issues`` (or a problem+json ``errors`` map) into field-path issues.

    Eve nests sub-document errors as dicts and list-item errors keyed by index; messages may be a
    string or a list of strings. Everything else is kept as its ``str``.
    """
    out: list[ApiIssue] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            key_s = str(key)
            if prefix:
                path = f"{prefix}[{key_s}]" if key_s.isdigit() else f"{prefix}.{key_s}"
            else:
                path = key_s
            out.extend(flatten_issues(value, path))
    elif isinstance(raw, (list, tuple)):
        for value in raw:
            if isinstance(value, (Mapping, list, tuple)):
                out.extend(flatten_issues(value, prefix))
            else:
                out.append(ApiIssue(field=prefix or "_", message=str(value)))
    elif raw is not None:
        out.append(ApiIssue(field=prefix or "_", message=str(raw)))
    return out
