"""The client-side rate limit: requests leave at least ``1 / rate`` seconds apart, never in a burst.

Why not a token or leaky bucket (``aiolimiter``, used before): a bucket lets its capacity through at
once after a pause, so over a server's one-second window a client limited to N/s could send N plus
the bucket (measured: 0.4-4.8 % over, and 429s from a server whose limit equals ours). Libraries
checked: ``asynciolimiter.StrictLimiter`` is correct (it spaces releases from the actual wake-up),
but releases one waiter per event-loop timer callback, so even far below its rate every request
costs a loop iteration, and it reads only the loop's clock (no fake clock to test with);
``pyrate-limiter`` and ``limits`` count a sliding window and let a whole window's worth through at
once. So this is the strict interval schedule, written out: a FIFO of waiters; the next may leave
once the interval since the previous departure has passed, measured when it really leaves (a late
wake-up delays the next one too, so lateness never turns into a burst). Over any time span ``L``
at most ``floor(L * rate) + 1`` requests leave, and over any one-second window at most ``rate``.

The stores' shared limit (``warehouse.rate_limits``) is the same schedule across processes, with
reservations instead of departures (a burst of 1: each reservation gets the next slot).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Selectors round a timer up to the next millisecond and a busy machine wakes later still, and every
# late departure delays all later ones (measured: 88 % of 200/s). So the timer is set this much early
# and the last stretch is spent giving the loop turns (other requests keep running) and re-reading
# the clock, which keeps the pacer at its rate without ever leaving early.
_SPIN_BELOW_S = 0.0015


class StrictPacer:
    """At most one departure per ``1 / rate`` seconds, measured between departures."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf  # the earliest time the next request may leave
        self._lock: asyncio.Lock | None = None  # FIFO; created in the running loop

    async def wait(self) -> None:
        """Return when this caller may send: first come, first served."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while (delay := self._next - self._clock()) > 0:
                await self._sleep(delay - _SPIN_BELOW_S if delay > _SPIN_BELOW_S else 0)
            self._next = self._clock() + self.interval

    async def __aenter__(self) -> StrictPacer:
        await self.wait()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def make_pacer(requests_per_second: float, **kwargs: Any) -> StrictPacer | None:
    """The pacer for a configured rate; ``inf`` means no client-side limit at all."""
    if not requests_per_second > 0:
        raise ValueError("requests_per_second must be positive")
    if math.isinf(requests_per_second):
        return None
    return StrictPacer(requests_per_second, **kwargs)
