"""Webhook delivery (reference B.9, F.2.7): signing, retries with backoff, and delivery faults.

Two halves. :class:`DeliveryBook` decides — deterministically — what is sent when: it takes the events
the engine queued, in order, turns each into a *delivery* (body, signature and ``IdempotencyKey`` fixed
once, so every retry and every duplicate is byte-identical), draws exactly three numbers per delivery
from its own RNG (duplicate, out of order, drop first attempt; seeded from ``EmulatorConfig.seed``, never
the request fault RNG), and schedules retries after any non-2xx answer or connection error
(``backoff_seconds``, doubling, up to ``max_attempts``). :class:`WebhookSender` is the asyncio task that
does the HTTP, one attempt at a time in the book's order, off the request path and never holding the
engine lock across a network call.

Out of order: a held-back delivery waits in a single slot until the next delivery has been queued ahead
of it (or ``out_of_order_hold_seconds`` passed), so with ``out_of_order: true`` events arrive in swapped
pairs. Scheduling uses the monotonic clock; the log shows wall-clock times.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .compact_json import dumps
from .config import WebhookConfig
from .dates import UTC
from .webhooks import delivery_key, event_name

MAX_LOG = 10_000  # most recent deliveries and attempts kept for GET /_emulator/webhooks
DROPPED = "dropped before reaching the receiver (fault drop_first_attempt_rate)"
SWITCHED_OFF = "delivery switched off (url is null)"
FINAL_STATES = ("delivered", "failed", "cancelled")


def wall_iso(offset_seconds: float = 0.0) -> str:
    t = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign(secret: str, body: bytes) -> str:
    """``X-Webhook-Signature`` (F.2.7): lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One delivery of one event; a duplicate (``copy`` 2) is a second delivery with the same key."""

    key: str
    body: bytes
    headers: dict[str, str]
    copy: int
    duplicate: bool  # another copy follows once this one is done
    drop_first: bool
    generation: int
    record: dict[str, Any]  # its entry in the public delivery log, updated in place
    attempts: int = 0


class DeliveryBook:
    """The deterministic part of delivery. Every method runs under the engine lock."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.generation = 0
        self.clear()

    @property
    def config(self) -> WebhookConfig:
        return self.engine.config.norway.webhooks

    def clear(self) -> None:
        """Forget queued deliveries and the logs (reset); deliveries in flight are ignored when they end."""
        self.generation += 1
        self.queue: list[tuple[float, int, Delivery]] = []
        self.order = itertools.count()
        self.held: Delivery | None = None
        self.held_since = 0.0
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=MAX_LOG)
        self.attempts: deque[dict[str, Any]] = deque(maxlen=MAX_LOG)
        self.reseed()

    def reseed(self) -> None:
        self.rng = random.Random(f"webhooks:{self.engine.config.seed}")

    # ------------------------------------------------------------------ admission
    def take_new_events(self, now: float) -> None:
        events, self.engine.outbox = self.engine.outbox, []
        for envelope in events:
            self._admit(envelope, now)

    def _admit(self, envelope: dict[str, Any], now: float) -> None:
        cfg = self.config
        r_duplicate, r_out_of_order, r_drop = self.rng.random(), self.rng.random(), self.rng.random()
        body = dumps(envelope)
        headers = {
            "Content-Type": "application/json",
            "X-Amili-Event": event_name(envelope),
            "IdempotencyKey": delivery_key(envelope["id"]),
            "X-Amili-Request-Id": envelope["id"],
            "X-Webhook-Signature": sign(cfg.secret, body),
        }
        d = self._new_delivery(envelope, body, headers, copy=1, duplicate=r_duplicate < cfg.duplicate_rate,
                               drop_first=r_drop < cfg.drop_first_attempt_rate)
        if self.held is not None:
            held, self.held = self.held, None
            self._schedule(d, now)
            self._schedule(held, now)  # after the later one
        elif r_out_of_order < cfg.out_of_order:
            self.held, self.held_since = d, now
            d.record["state"] = "held"
        else:
            self._schedule(d, now)

    def _new_delivery(self, envelope: dict[str, Any], body: bytes, headers: dict[str, str], *, copy: int,
                      duplicate: bool, drop_first: bool) -> Delivery:
        record = {
            "idempotencyKey": headers["IdempotencyKey"], "eventId": envelope["id"], "event": event_name(envelope),
            "copy": copy, "state": "queued", "attempts": 0, "status": None, "error": None, "url": None,
            "queuedAt": wall_iso(), "finishedAt": None, "headers": headers, "body": envelope,
        }
        self.deliveries.append(record)
        return Delivery(key=headers["IdempotencyKey"], body=body, headers=headers, copy=copy, duplicate=duplicate,
                        drop_first=drop_first, generation=self.generation, record=record)

    def _schedule(self, d: Delivery, at: float) -> None:
        heapq.heappush(self.queue, (at, next(self.order), d))
        d.record["state"] = "queued" if d.attempts == 0 else "retrying"

    def release_stale_hold(self, now: float, force: bool = False) -> None:
        if self.held is not None and (force or now - self.held_since >= self.config.out_of_order_hold_seconds):
            held, self.held = self.held, None
            self._schedule(held, now)

    # ------------------------------------------------------------------ sending
    def pop_due(self, now: float, force: bool = False) -> Delivery | None:
        if self.queue and (force or self.queue[0][0] <= now):
            return heapq.heappop(self.queue)[2]
        return None

    def seconds_to_next(self, now: float) -> float | None:
        """How long until something is due (None: nothing is waiting)."""
        times = [self.queue[0][0]] if self.queue else []
        if self.held is not None:
            times.append(self.held_since + self.config.out_of_order_hold_seconds)
        return max(0.0, min(times) - now) if times else None

    @property
    def pending(self) -> int:
        return len(self.engine.outbox) + len(self.queue) + (self.held is not None)

    def finish_attempt(self, d: Delivery, url: str | None, status: int | None, error: str | None,
                       started: str, now: float) -> None:
        """Log one attempt and decide what follows: done, a retry after backoff, or the duplicate."""
        if d.generation != self.generation:
            return  # the emulator was reset while this attempt was in flight
        d.attempts += 1
        cfg = self.config
        retry_in = None
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
        elif error == SWITCHED_OFF:
            outcome = "cancelled"
        elif d.attempts < cfg.max_attempts:
            outcome, retry_in = "retry", cfg.backoff_seconds * 2 ** (d.attempts - 1)
        else:
            outcome = "failed"
        finished = wall_iso()
        self.attempts.append({
            "event": d.record["event"], "eventId": d.record["eventId"], "idempotencyKey": d.key, "copy": d.copy,
            "attempt": d.attempts, "url": url, "status": status, "error": error, "outcome": outcome,
            "startedAt": started, "finishedAt": finished,
            "retryAt": wall_iso(retry_in) if retry_in is not None else None,
        })
        d.record.update(attempts=d.attempts, status=status, error=error, url=url)
        if retry_in is not None:
            self._schedule(d, now + retry_in)
            return
        d.record.update(state=outcome, finishedAt=finished)
        if d.duplicate:
            self._schedule(self._second_copy(d), now)

    def _second_copy(self, d: Delivery) -> Delivery:
        return self._new_delivery(d.record["body"], d.body, d.headers, copy=2, duplicate=False, drop_first=False)

    def view(self) -> dict[str, Any]:
        """``GET /_emulator/webhooks``: every delivery, every attempt, and how many are still to go."""
        return {"deliveries": [dict(r) for r in self.deliveries], "attempts": [dict(a) for a in self.attempts],
                "pending": self.pending}


class WebhookSender:
    """The asyncio task that performs the book's attempts, one at a time, in order."""

    BUSY_POLL = 0.02  # how soon new events are picked up while delivery is on
    IDLE_POLL = 0.25

    def __init__(self, engine: Any, book: DeliveryBook, client: Any) -> None:
        self.engine = engine
        self.book = book
        self.client = client

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.send_due()
            except Exception as exc:  # noqa: BLE001 - keep delivering, report
                print(f"amili emulator: webhook sender failed: {exc!r}", flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._pause())
            except asyncio.TimeoutError:
                pass

    def _pause(self) -> float:
        with self.engine.lock:
            nxt = self.book.seconds_to_next(time.monotonic())
            poll = self.BUSY_POLL if self.book.config.url or self.book.pending else self.IDLE_POLL
        return poll if nxt is None else min(nxt, poll)

    async def send_due(self, force: bool = False) -> None:
        """Admit new events, then make every attempt that is due (``force``: every queued one, now)."""
        with self.engine.lock:
            now = time.monotonic()
            self.book.take_new_events(now)
            self.book.release_stale_hold(now, force)
        while True:
            with self.engine.lock:
                d = self.book.pop_due(time.monotonic(), force)
            if d is None:
                return
            await self.attempt(d)

    async def attempt(self, d: Delivery) -> None:
        cfg = self.engine.config.norway.webhooks
        url = cfg.url
        started = wall_iso()
        status: int | None = None
        error: str | None = None
        if url is None:
            error = SWITCHED_OFF
        elif d.drop_first and d.attempts == 0:
            error = DROPPED
        else:
            try:
                resp = await self.client.post(url, content=d.body, headers=d.headers, timeout=cfg.timeout_seconds)
                status = resp.status_code
            except Exception as exc:  # noqa: BLE001 - any failure to deliver is an attempt that failed
                error = f"{type(exc).__name__}: {exc}"
        with self.engine.lock:
            self.book.finish_attempt(d, url, status, error, started, time.monotonic())

    async def flush(self, budget_seconds: float) -> None:
        """On shutdown: whatever is still pending gets its remaining attempts now, within the budget."""
        try:
            await asyncio.wait_for(self.send_due(force=True), timeout=budget_seconds)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - shutting down regardless
            pass
