"""Everything that happens because time passed, in time order: queued Norwegian batches, case events
(stage changes, interest, debtors paying Amili) and Swedish payout runs.

Runs on every API request that finds something due, on every background tick, and on the admin
``advance``/``process`` calls. Payout runs interleave with case events (cases are processed up to each
run's date first), so a payout contains exactly the lines booked before it.
"""

from __future__ import annotations

import math
from datetime import datetime

from . import lifecycle
from .ledger import DAY
from .norway import batches
from .state import EmulatorState
from .sweden import finance


def advance(state: EmulatorState, seconds: float) -> datetime:
    with state.lock:
        state.clock.advance(max(0.0, seconds))
        process(state)
        return state.clock.now()


def process(state: EmulatorState) -> None:
    """Apply every lifecycle event, payout and batch that is due at the current simulated time."""
    with state.lock:
        now_ts = state.clock.now_ts()
        batches.process_pending_batches(state)
        if not state.config.lifecycle.enabled:
            return
        interval = state.config.lifecycle.payout_interval_days * DAY
        if state.next_payout_at is None:
            state.next_payout_at = (math.floor(now_ts / interval) + 1) * interval
        while True:
            target = min(now_ts, state.next_payout_at)
            if state.next_due <= target:
                lifecycle.process_due_cases(state, target)
            if state.next_payout_at <= now_ts:
                finance.run_payouts(state, state.next_payout_at)
                state.next_payout_at += interval
                continue
            break
        finance.pay_scheduled_payouts(state, now_ts)
