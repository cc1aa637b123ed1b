"""Reading problem+json error bodies (reference F.2.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from amili_pipelines.amili.errors import ApiIssue, flatten_issues
from amili_pipelines.amili.fields import code_text
from amili_pipelines.amili.no.models import Problem
from amili_pipelines.amili.transport import DecodedError

# Keys of one error entry in a list-shaped ``errors`` (compared in lower case): ASP.NET, FluentValidation
# and RFC 9457 spellings.
_FIELD_KEYS = ("field", "path", "propertyname", "pointer", "name", "key", "member", "membernames", "parameter")
_MESSAGE_KEYS = ("message", "errormessage", "msg", "detail", "description", "reason", "title")
_CODE_KEYS = ("code", "errorcode")
_POINTER_STEP = re.compile(r"[^/]+")


def decode_problem(response: httpx.Response) -> DecodedError:
    try:
        problem = Problem.model_validate(response.json())
    except ValueError:
        return DecodedError(message=response.reason_phrase or f"HTTP {response.status_code}")
    parts = [p for p in (problem.title, problem.detail) if p]
    message = ": ".join(parts) or response.reason_phrase or f"HTTP {response.status_code}"
    if problem.trace_id:
        message += f" (traceId {problem.trace_id})"
    return DecodedError(
        message=message,
        issues=tuple(problem_issues(problem.errors)),
        raw=problem.errors,
    )


def problem_issues(errors: Any) -> list[ApiIssue]:
    """A problem+json ``errors`` member as field-path issues, whatever its shape.

    * ``{"invoices[0].dueDate": ["msg", ...]}`` (F.2.1): one issue per message;
    * ``[{"field": "invoices[0].dueDate", "message": "msg", "code": ...}, ...]``: the entry's own field;
    * ``["msg", ...]`` or ``"msg"``: messages without a field (``"_"``).

    Paths written as ``$.invoices[0].dueDate`` or as a JSON pointer ``/invoices/0/dueDate`` become
    ``invoices[0].dueDate`` so the item they name can still be found.
    """
    if not errors:
        return []
    if isinstance(errors, Mapping):
        out: list[ApiIssue] = []
        for key, value in errors.items():
            field = _path(key)
            if isinstance(value, list | tuple) and any(_entry_keys(v) for v in value):
                for v in value:
                    out.extend(_entry(v, field) if _entry_keys(v) else flatten_issues(v, field))
            else:
                out.extend(flatten_issues(value, field))
        return out
    if isinstance(errors, list | tuple):
        out = []
        for item in errors:
            if _entry_keys(item):
                out.extend(_entry(item))
            elif isinstance(item, list | tuple):
                out.extend(problem_issues(item))
            else:
                out.extend(flatten_issues(item))
        return out
    return flatten_issues(errors)


def _entry_keys(value: Any) -> dict[str, Any] | None:
    """The lower-cased keys of one error entry, or None when ``value`` is not one."""
    if not isinstance(value, Mapping):
        return None
    keys = {str(k).lower(): v for k, v in value.items()}
    if any(k in keys for k in (*_MESSAGE_KEYS, "messages", "errors")) or any(k in keys for k in _FIELD_KEYS):
        return keys
    return None


def _entry(value: Mapping[str, Any], default_field: str = "_") -> list[ApiIssue]:
    keys = _entry_keys(value) or {}
    field_value = next((keys[k] for k in _FIELD_KEYS if keys.get(k) not in (None, "", [])), None)
    if isinstance(field_value, list | tuple):  # ASP.NET ``memberNames``: the first one names the field
        field_value = field_value[0]
    field = _path(field_value) if field_value is not None else default_field
    code = next((code_text(keys[k]) for k in _CODE_KEYS if keys.get(k) is not None), None)
    code = str(code) if code is not None else None
    message = next((keys[k] for k in _MESSAGE_KEYS if keys.get(k) not in (None, "")), None)
    if message is None:
        message = keys.get("messages", keys.get("errors"))
    if isinstance(message, list | tuple):
        return [ApiIssue(field=field, message=str(m), code=code) for m in message] or [ApiIssue(field, "", code)]
    if message is None:  # no message key: keep what there is rather than nothing
        rest = {k: v for k, v in value.items() if str(k).lower() not in (*_FIELD_KEYS, *_CODE_KEYS)}
        message = str(rest) if rest else ""
    return [ApiIssue(field=field, message=str(message), code=code)]


def _path(value: Any) -> str:
    text = str(value).strip()
    if text.startswith("#/"):
        text = text[1:]
    if text.startswith("/"):  # JSON pointer: /invoices/0/dueDate -> invoices[0].dueDate
        path = ""
        for step in _POINTER_STEP.findall(text):
            step = step.replace("~1", "/").replace("~0", "~")
            path += f"[{step}]" if step.isdigit() else (f".{step}" if path else step)
        return path or "_"
    if text.startswith("$."):
        text = text[2:]
    elif text.startswith("$["):
        text = text[1:]
    return text or "_"
