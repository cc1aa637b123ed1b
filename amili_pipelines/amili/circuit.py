"""A circuit breaker per Amili client: stop sending when Amili keeps failing, try again later.

When Amili is down, retrying every invoice with backoff turns a minute of outage into an hour of
waiting. After ``failure_threshold`` consecutive connection failures or 5xx answers the circuit
opens: requests fail at once with :class:`~amili_pipelines.amili.errors.CircuitOpen` (nothing is
sent, so the rows stay pending). After ``open_seconds`` one probe may go through (half-open); an
answer closes the circuit again, another failure keeps it open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_FAILURE_THRESHOLD = 8
DEFAULT_OPEN_SECONDS = 30.0


@dataclass
class CircuitBreaker:
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    open_seconds: float = DEFAULT_OPEN_SECONDS
    clock: Callable[[], float] = time.monotonic
    consecutive_failures: int = 0
    opened_at: float | None = None
    times_opened: int = 0
    _probing: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls, market: str) -> CircuitBreaker:
        """Thresholds from ``AMILI_<MARKET>_CIRCUIT_FAILURES`` / ``AMILI_<MARKET>_CIRCUIT_OPEN_SECONDS``."""
        failures = os.environ.get(f"AMILI_{market}_CIRCUIT_FAILURES")
        seconds = os.environ.get(f"AMILI_{market}_CIRCUIT_OPEN_SECONDS")
        return cls(failure_threshold=int(failures) if failures else DEFAULT_FAILURE_THRESHOLD,
                   open_seconds=float(seconds) if seconds else DEFAULT_OPEN_SECONDS)

    @property
    def is_open(self) -> bool:
        """Open and not yet due for a probe."""
        return self.opened_at is not None and self.clock() - self.opened_at < self.open_seconds

    def allow(self) -> bool:
        """May a request be sent now? In the half-open state only one probe at a time."""
        if self.opened_at is None:
            return True
        if self.is_open or self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        if self._probing or self.consecutive_failures >= self.failure_threshold:
            if self.opened_at is None or self._probing:
                self.times_opened += 1
            self.opened_at = self.clock()
            self._probing = False
