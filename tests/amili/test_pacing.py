"""The client-side rate limit never lets more than its rate through, whatever the callers do.

Runs the real pacer on an event loop with a virtual clock: sleeping advances the clock instead of
waiting (and, where asked, wakes up late, as a busy machine does), so a minute of traffic takes
milliseconds and every departure time is exact.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from amili_pipelines.amili.pacing import StrictPacer


class _Clock:
    now = 1000.0


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: a wait for ``timeout`` moves the clock on by it (plus any lateness)."""

    def __init__(self, clock: _Clock, lateness: Callable[[], float]) -> None:
        super().__init__()
        self.clock, self.lateness = clock, lateness

    def select(self, timeout=None):  # noqa: ANN001, ANN201 - the selectors signature
        if timeout is None:
            raise AssertionError("nothing left to wake up: the pacer would hang")
        if timeout > 0:
            self.clock.now += timeout + self.lateness()
        else:  # a loop turn takes time too (the pacer spins its last stretch on them)
            self.clock.now += 0.00002
        return super().select(0)


def _virtual_loop(lateness: Callable[[], float] = lambda: 0.0) -> asyncio.AbstractEventLoop:
    clock = _Clock()
    loop = asyncio.SelectorEventLoop(_VirtualSelector(clock, lateness))
    loop.time = lambda: clock.now  # type: ignore[method-assign]
    return loop


def _departures(rate: float, arrivals: list[float], *, lateness: Callable[[], float] = lambda: 0.0) -> list[float]:
    """When each caller (arriving at the given offsets) was let through."""
    loop = _virtual_loop(lateness)

    async def main() -> list[float]:
        pacer = StrictPacer(rate, clock=loop.time)
        start = loop.time()
        out: list[float] = []

        async def caller(at: float) -> None:
            await asyncio.sleep(at)
            await pacer.wait()
            out.append(loop.time() - start)

        await asyncio.gather(*(caller(a) for a in arrivals))
        return sorted(out)

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def _most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of departures inside any half-open window [t, t + window)."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_a_crowd_at_once_leaves_one_interval_apart_and_at_the_rate():
    times = _departures(50, [0.0] * 500)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1 / 50 - 1e-9, "never two within one interval"
    assert _most_in_any_window(times, 1.0) == 50
    assert len(times) / (times[-1] + 1 / 50) >= 0.99, "and the full rate when it is the limit"


def test_a_pause_earns_no_burst():
    # 100 callers, a quiet second, 100 more: a bucket would let the second crowd's first part through at once
    times = _departures(50, [0.0] * 100 + [3.0] * 100)
    assert _most_in_any_window(times, 1.0) == 50
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 1 / 50 - 1e-9


def test_late_wake_ups_make_it_slower_never_faster():
    rng = random.Random(7)
    times = _departures(50, [rng.uniform(0, 5) for _ in range(400)], lateness=lambda: rng.uniform(0, 0.004))
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 1 / 50 - 1e-9
    assert _most_in_any_window(times, 1.0) <= 50


@settings(max_examples=40, deadline=None)
@given(rate=st.sampled_from([2.0, 10.0, 50.0, 55.0, 200.0, 3000.0]),
       arrivals=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=300),
       late_ms=st.floats(min_value=0, max_value=5))
def test_no_window_ever_holds_more_than_the_rate(rate, arrivals, late_ms):
    rng = random.Random(len(arrivals))
    times = _departures(rate, arrivals, lateness=lambda: rng.uniform(0, late_ms / 1000))
    assert len(times) == len(arrivals), "everybody gets through"
    assert min((b - a for a, b in zip(times, times[1:], strict=False)), default=1.0) >= 1 / rate - 1e-9
    for window in (0.1, 1.0, 2.5):
        assert _most_in_any_window(times, window) <= int(window * rate + 1e-9) + 1
    assert _most_in_any_window(times, 1.0) <= max(1, int(rate + 1e-9))


def test_a_cancelled_waiter_does_not_hold_up_the_others():
    loop = _virtual_loop()

    async def main() -> int:
        pacer = StrictPacer(10, clock=loop.time)
        await pacer.wait()
        waiting = asyncio.ensure_future(pacer.wait())
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.gather(*(pacer.wait() for _ in range(3)))
        return 3

    try:
        assert loop.run_until_complete(main()) == 3
    finally:
        loop.close()
