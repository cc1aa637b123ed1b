"""Contract: every process sending to a market draws from one bucket, so their sum keeps its rate."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.serial  # the waits it asserts are measured on the wall clock


def test_a_bucket_gives_its_burst_at_once_then_its_rate(warehouse):
    limits = warehouse.rate_limits
    waits = [limits.reserve("amili-SE", tokens=1, per_second=20, burst=5) for _ in range(10)]
    assert waits[:5] == [0.0] * 5, "the burst is there at once"
    # the sixth request waits one refill interval, the tenth five: never more than 20 per second
    assert 0.03 < waits[5] <= 0.06 and 0.22 < waits[9] <= 0.26, waits
    assert limits.reserve("amili-NO", tokens=1, per_second=20, burst=5) == 0.0, "one bucket per market"


def test_the_bucket_refills_with_time(warehouse):
    limits = warehouse.rate_limits
    for _ in range(3):
        limits.reserve("amili-SE", tokens=1, per_second=50, burst=3)
    assert limits.reserve("amili-SE", tokens=1, per_second=50, burst=3) > 0
    time.sleep(0.15)  # 7.5 tokens refilled, capped at the burst of 3
    assert [limits.reserve("amili-SE", tokens=1, per_second=50, burst=3) for _ in range(2)] == [0.0, 0.0]
