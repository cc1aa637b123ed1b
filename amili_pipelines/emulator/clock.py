"""The simulated clock every emulated date comes from.

Debt collection plays out over weeks; tests and demos cannot wait for that. Simulated time is the
configured start plus wall time elapsed × ``speed`` plus whatever the admin API advanced, so a test can
freeze time (speed 0) and jump 30 days, while a demo can let a day pass every second. Token lifetimes
and the default batch delay deliberately stay on the wall clock (see the README).
"""

from __future__ import annotations

import time
from datetime import datetime

from .dates import UTC, parse_date


class SimClock:
    """Simulated time = start + wall elapsed × speed + offset (advanced by admin calls)."""

    def __init__(self, start: str | None, speed: float) -> None:
        parsed = parse_date(start) if start else None
        self.start_ts = parsed.timestamp() if parsed else time.time()
        self.wall0 = time.time()
        self.speed = speed
        self.offset = 0.0

    def now_ts(self) -> float:
        return self.start_ts + (time.time() - self.wall0) * self.speed + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def restore(self, saved_now: float) -> None:
        """Continue after a restart: never go back in time."""
        if saved_now > self.now_ts():
            self.offset += saved_now - self.now_ts()
