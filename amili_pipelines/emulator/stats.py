"""Request counters per route template and status, for tests that must see exactly what reached "Amili".

Keys are ``"METHOD /route/template"`` (``"POST /collection/v1/orgs/{org}/invoices"``), so a test can count
registrations without knowing ids; admin calls are never counted (see ``faults.EmulatorMiddleware``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.responses: dict[str, Counter[str]] = defaultdict(Counter)
        self.faults: Counter[str] = Counter()
        self.total = 0

    def record(self, key: str, status: int | None) -> None:
        self.total += 1
        self.requests[key] += 1
        s = str(status) if status is not None else "none"
        self.statuses[s] += 1
        self.responses[key][s] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "responses": {k: dict(v) for k, v in self.responses.items()},
            "faults": dict(self.faults),
        }
