"""A rate limit shared by every process that talks to one Amili market.

Each run's client limits its own rate; with several runs at once (the production profile) their
sum must still stay under the market's limit. The store keeps one token bucket per market that
all processes draw from. The embedded store has one writing process at a time, so its bucket
lives in that process.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class RateLimitStore(Protocol):
    def reserve(self, key: str, *, tokens: int, per_second: float, burst: float) -> float:
        """Take ``tokens`` from bucket ``key`` (refilled at ``per_second``, holding at most
        ``burst``); returns the seconds to wait before using them (0: now)."""


class InProcessRateLimits:
    """The same buckets, held in this process (the embedded store's one writer)."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)
        self._lock = threading.Lock()

    def reserve(self, key: str, *, tokens: int, per_second: float, burst: float) -> float:
        if per_second <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            left, then = self._buckets.get(key, (burst, now))
            left = min(burst, left + (now - then) * per_second) - tokens
            self._buckets[key] = (left, now)
        return max(0.0, -left / per_second)
