"""Reading problem+json error bodies (reference F.2.1)."""

from __future__ import annotations

import httpx

from amili_pipelines.amili.errors import flatten_issues
from amili_pipelines.amili.no.models import Problem
from amili_pipelines.amili.transport import DecodedError


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
        issues=tuple(flatten_issues(problem.errors)) if problem.errors else (),
        raw=problem.errors,
    )
