"""How a case lives on after registration, the same in both markets: stages, fees, interest, debtors paying.

A case moves through its market's stages on the simulated clock (Sweden ``invoice`` → ``reminder`` →
``debt_collection``, Norway ``NOTICE`` → ``PAYMENT_REMINDER`` → ``COLLECTION_NOTICE``), picks up the
stage's fee, accrues interest from the reminder stage on, and — for a seeded share of debtors — is paid to
Amili, which passes the money on to the creditor. What differs per market (stage names, fees, and how a
ledger shows on the public documents) sits behind :class:`MarketFlow`, implemented in
``sweden/cases.py`` and ``norway/cases.py``; this module never imports a market package.

Due events wait in ``state.due_heap``; stale entries (the ledger changed after it was announced) are
skipped when popped, which keeps every change O(log n) instead of rescanning all cases.
"""

from __future__ import annotations

import heapq
import math
import random
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .ledger import DAY, PAYMENT_ORDER, Ledger
from .money import pct_of

if TYPE_CHECKING:
    from .state import EmulatorState


class MarketFlow(Protocol):
    """One market's rules for a case's life and its public documents."""

    interest_stages: frozenset[str]  # stages from which interest accrues

    def next_stage_due(self, led: Ledger) -> float | None:
        """When the current stage ends by itself (None: it does not)."""

    def stage_after(self, led: Ledger) -> str | None:
        """The stage that follows the current one (None: the last stage)."""

    def charge_stage_fee(self, led: Ledger, stage: str) -> None:
        """Add the fee that entering ``stage`` costs the debtor."""

    def show_stage(self, led: Ledger, stage: str, at: float) -> None:
        """Write a stage change onto the case documents."""

    def show_closed(self, led: Ledger, reason: str, at: float) -> None:
        """Write a closing onto the case documents."""

    def show_amounts(self, led: Ledger, now: datetime) -> None:
        """Copy the ledger's amounts onto the case documents (and mark them changed)."""

    def pass_on_agency_payment(self, led: Ledger, taken: dict[str, int], commission: int, vat: int,
                               at: float, now: datetime) -> None:
        """Record what Amili passes on to the creditor (payout lines / a settlement)."""


# ------------------------------------------------------------------ opening and scheduling

def open_ledger(state: EmulatorState, market: str, case_id: str, creditor: str, stage: str,
                now_ts: float) -> Ledger:
    """A new case's ledger, with its debtor's fate (whether, when and how much they pay) drawn now."""
    state.case_seq += 1
    led = Ledger(market=market, case_id=case_id, seq=state.case_seq, creditor=creditor, stage=stage,
                 stage_entered=now_ts)
    lc = state.config.lifecycle
    led._posting = lc.interest_posting_days * DAY
    if lc.enabled:
        _draw_debtor_fate(state, led, now_ts)
    state.ledgers[case_id] = led
    return led


def _draw_debtor_fate(state: EmulatorState, led: Ledger, now_ts: float) -> None:
    """Seeded per case, so a case's fate depends only on the seed and the order of registration."""
    lc = state.config.lifecycle
    rng = random.Random(f"{state.config.seed}:fate:{led.market}:{led.seq}")
    if rng.random() < lc.pay_share:
        partial = rng.random() < lc.partial_share
        lo, hi = sorted((lc.partial_min_percent, lc.partial_max_percent))
        led.pay_percent = rng.randint(lo, hi) if partial else 100
        led.pay_at = now_ts + rng.uniform(1.0, max(1.0, lc.pay_within_days)) * DAY


def timed_stage_due(state: EmulatorState, led: Ledger, stage_lengths: dict[str, str]) -> float | None:
    """End of a timed stage: ``stage_lengths`` names the lifecycle setting (days) per stage; a respite
    defers it."""
    lc = state.config.lifecycle
    setting = stage_lengths.get(led.stage) if lc.enabled else None
    due = None if setting is None else led.stage_entered + getattr(lc, setting) * DAY
    if due is not None and led.respite_until and led.respite_until > due:
        due = led.respite_until
    return due


def schedule_stage(state: EmulatorState, led: Ledger) -> None:
    led.next_stage_at = state.flows[led.market].next_stage_due(led)


def announce(state: EmulatorState, led: Ledger) -> None:
    """(Re)announce a ledger's next event. Stale heap entries are skipped when popped."""
    t = led.next_at()
    if t < math.inf:
        heapq.heappush(state.due_heap, (t, led.seq, led.case_id))
        if t < state.next_due:
            state.next_due = t


def reschedule(state: EmulatorState) -> None:
    """Rebuild the event queue from all ledgers (after changing ledgers by hand, e.g. in tests)."""
    with state.lock:
        state.due_heap = [(led.next_at(), led.seq, led.case_id) for led in state.ledgers.values()
                          if led.next_at() < math.inf]
        heapq.heapify(state.due_heap)
        state.next_due = state.due_heap[0][0] if state.due_heap else math.inf


# ------------------------------------------------------------------ changes to a case

def enter_stage(state: EmulatorState, led: Ledger, stage: str, at: float, now: datetime) -> None:
    """Move a case to a stage (SE state / NO type), charging the stage fee."""
    flow = state.flows[led.market]
    led.post_interest(at, state.config.lifecycle.interest_rate_percent)
    led.stage = stage
    led.stage_entered = at
    flow.charge_stage_fee(led, stage)
    if stage in flow.interest_stages and led.interest_from is None:
        led.interest_from = at
    schedule_stage(state, led)
    flow.show_stage(led, stage, at)
    show_amounts(state, led, now)


def close_case(state: EmulatorState, led: Ledger, reason: str, at: float) -> None:
    led.stop()
    state.flows[led.market].show_closed(led, reason, at)


def show_amounts(state: EmulatorState, led: Ledger, now: datetime) -> None:
    """Copy ledger amounts into the public documents and bump their update stamps."""
    state.flows[led.market].show_amounts(led, now)


def debtor_pays_agency(state: EmulatorState, led: Ledger, amount: int, at: float, now: datetime) -> None:
    """Money from the debtor reached Amili: allocate costs -> interest -> capital, settle it."""
    taken = led.allocate(amount, PAYMENT_ORDER)
    paid = sum(taken.values())
    if paid <= 0:
        return
    led.paid_agency += paid
    lc = state.config.lifecycle
    commission = pct_of(taken.get("capital", 0), lc.commission_percent)
    vat = pct_of(commission, lc.vat_percent)
    state.flows[led.market].pass_on_agency_payment(led, taken, commission, vat, at, now)
    if led.remaining == 0:
        close_case(state, led, "paid", at)
    show_amounts(state, led, now)


# ------------------------------------------------------------------ due events

def process_due_cases(state: EmulatorState, until: float) -> None:
    """Apply due case events in time order (ties: registration order), up to ``until``."""
    now = state.clock.now()
    heap = state.due_heap
    while heap and heap[0][0] <= until:
        t, _, case_id = heapq.heappop(heap)
        led = state.ledgers.get(case_id)
        if led is None or not led.is_open:
            continue
        current = led.next_at()
        if current != t:  # stale entry: the ledger changed after it was announced
            if current < math.inf:
                heapq.heappush(heap, (current, led.seq, led.case_id))
            continue
        _apply_event(state, led, t, now)
        nxt = led.next_at()
        if nxt < math.inf:
            heapq.heappush(heap, (nxt, led.seq, led.case_id))
    state.next_due = heap[0][0] if heap else math.inf


def _apply_event(state: EmulatorState, led: Ledger, t: float, now: datetime) -> None:
    """One event per call, in a fixed priority: stage change, then the debtor's payment, then interest."""
    rate = state.config.lifecycle.interest_rate_percent
    if led.next_stage_at is not None and led.next_stage_at <= t:
        nxt = state.flows[led.market].stage_after(led)
        if nxt is None:
            led.next_stage_at = None
        else:
            enter_stage(state, led, nxt, t, now)
        return
    if led.pay_at is not None and led.pay_at <= t:
        led.pay_at = None
        led.post_interest(t, rate)
        amount = led.remaining if led.pay_percent >= 100 else pct_of(led.remaining, led.pay_percent)
        if amount > 0:
            debtor_pays_agency(state, led, amount, t, now)
        return
    if led.interest_from is not None:
        led.post_interest(led.interest_from + led._posting, rate)
        show_amounts(state, led, now)
