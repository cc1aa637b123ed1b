"""The transport's policies: how long to back off, how to read ``Retry-After``, how fast to send,
and the counters a run reports."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from amili_pipelines.amili.pacing import StrictPacer, make_pacer


@dataclass
class RetryPolicy:
    max_retries: int = 5
    backoff_base: float = 0.5  # seconds; first retry waits up to this
    backoff_cap: float = 30.0  # no single computed wait is longer
    retry_after_cap: float = 120.0  # a server asking for more than this is treated as unavailable


@dataclass
class TransportStats:
    """Counters for run metadata. Read ``snapshot()``; the fields are live."""

    requests_sent: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers seen
    token_refreshes: int = 0
    outcome_unknown: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests_sent": self.requests_sent,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "token_refreshes": self.token_refreshes,
            "outcome_unknown": self.outcome_unknown,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "transport_errors": dict(self.transport_errors),
        }


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    ceiling = min(cap, base * (2 ** min(attempt, 62)))
    return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; ``None`` if absent or garbled."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN guard
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def make_limiter(requests_per_second: float) -> StrictPacer | None:
    """The client-side rate limit for a configured rate (``amili.pacing``: strict, never a burst)."""
    return make_pacer(requests_per_second)
