"""Sweden's sliding window: up to ``slots`` registrations in flight all the time, no chunk barrier.

Three roles share one event loop:

* the feeder claims pending rows a page at a time and commits their intent (``in_flight``) before
  any of them can leave; it claims the next page only once fewer than a page wait, so at most
  about two pages are claimed but unsent (a crash leaves little in flight, and the next run looks
  every in-flight row up at Amili before sending it again);
* the senders, one per slot, each take the next claimed row and register it;
* the writer records outcomes in batches (every ``flush_rows`` outcomes or ``flush_s`` seconds)
  while the senders go on.

Every warehouse call of the window runs on one worker thread (:class:`WarehouseThread`), one
after another: a DuckDB or psycopg connection is never used by two threads at once, and the
event loop keeps sending while the database works.

Stopping keeps the outbox truthful: when Amili stops answering (circuit open) nothing more is
claimed, the rows already handed out finish (the client refuses them at once, they stay
pending), every outcome is recorded, then the window ends. When a send fails the run (refused
credentials, a bug) the senders stop taking rows, rows never taken go back to pending, the
outcomes seen are recorded, and the error is raised; a row whose request may have left stays
``in_flight`` and is looked up by the next run.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxRow, OutboxState, Outcome
from amili_pipelines.registration.routes import SwedenRoute
from amili_pipelines.warehouse import Warehouse

T = TypeVar("T")
Progress = Callable[[str], None]

FLUSH_ROWS = 200  # outcomes per write
FLUSH_S = 0.05  # at the latest after this long
PROGRESS_S = 3.0  # a progress message at most this often


class WarehouseThread:
    """Runs warehouse calls on one dedicated thread, in order (``threaded=False``: on the caller's)."""

    def __init__(self, *, threaded: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-writer") if threaded else None

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._pool is None:
            return fn(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        # Waits for a call still running (e.g. after a cancellation): the connection is the
        # caller's again only once the thread let go of it.
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class _Writer:
    """Records outcomes in batches in the background; ``close`` records what is left."""

    def __init__(self, record: Callable[[list[Outcome]], Any], *, rows: int, seconds: float) -> None:
        self._record = record
        self._rows = rows
        self._seconds = seconds
        self._buffer: list[Outcome] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run())

    def add(self, outcome: Outcome) -> None:
        self._buffer.append(outcome)
        if len(self._buffer) >= self._rows:
            self._wake.set()

    @property
    def failed(self) -> bool:
        return self._task.done() and not self._closing

    async def _run(self) -> None:
        while True:
            if not self._buffer and self._closing:
                return
            if len(self._buffer) < self._rows and not self._closing:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._seconds)
                except TimeoutError:
                    pass
            self._wake.clear()
            if self._buffer:
                batch, self._buffer = self._buffer, []
                await self._record(batch)

    async def close(self) -> None:
        """Record every outcome still buffered; raises what failed a write (the rows of an
        unwritten outcome stay in_flight and are looked up by the next run)."""
        self._closing = True
        self._wake.set()
        await self._task


class SwedenWindow:
    def __init__(self, warehouse: Warehouse, route: SwedenRoute, db: WarehouseThread, *, run_id: str,
                 page_size: int, slots: int, sent_since: datetime, max_sends: int,
                 only: Collection[str] | None, on_recorded: Callable[[Sequence[Outcome]], None],
                 progress: Progress | None) -> None:
        self.warehouse, self.route, self.db = warehouse, route, db
        self.run_id, self.page_size, self.slots = run_id, page_size, max(1, slots)
        self.sent_since, self.max_sends, self.only = sent_since, max_sends, only
        self.on_recorded, self.progress = on_recorded, progress
        self.sent = 0
        self.recorded = 0
        self.registered = 0
        self.failure: BaseException | None = None
        self._queue: asyncio.Queue[OutboxRow | None] = asyncio.Queue()
        self._room = asyncio.Event()  # fewer than a page waits: the feeder may claim the next
        self._last_progress = time.monotonic()

    async def run(self) -> int:
        """Send every claimable pending row; returns how many requests were made."""
        writer = _Writer(self._record, rows=FLUSH_ROWS, seconds=FLUSH_S)
        self._writer = writer
        try:
            await asyncio.gather(self._feed(), *(self._send() for _ in range(self.slots)))
        finally:
            # Claimed and marked, never handed to a sender: nothing left, so back to pending.
            unsent = self._drain()
            for row in unsent:
                writer.add(Outcome(row.market, row.invoice_key, OutboxState.PENDING,
                                   detail="not sent: the run stopped before its turn"))
            await writer.close()
        if self.progress:
            self.progress(f"SE: sent {self.sent}, registered {self.registered}")
        if self.failure is not None:
            raise self.failure
        return self.sent

    def _drain(self) -> list[OutboxRow]:
        rows = []
        while not self._queue.empty():
            row = self._queue.get_nowait()
            if row is not None:
                rows.append(row)
        return rows

    def _stopping(self) -> bool:
        return self.failure is not None or self._writer.failed or self.route.unavailable

    async def _feed(self) -> None:
        outbox = self.warehouse.outbox
        try:
            while not self._stopping():
                rows = await self.db(outbox.claim, [OutboxState.PENDING], market=Market.SE, run_id=self.run_id,
                                     limit=self.page_size, sent_since=self.sent_since, max_sends=self.max_sends,
                                     invoice_keys=self.only)
                if not rows:
                    return
                # The intent is committed before any of these rows can reach a sender.
                await self.db(outbox.mark_in_flight, rows, run_id=self.run_id)
                for row in rows:
                    self._queue.put_nowait(row)
                while self._queue.qsize() >= self.page_size and not self._stopping():
                    self._room.clear()
                    await self._room.wait()
        except Exception as exc:  # the store failed: stop, record what was seen, raise it
            self.failure = self.failure or exc
        finally:
            self._queue.put_nowait(None)  # no more rows: each sender passes it on and ends

    async def _send(self) -> None:
        while True:
            row = await self._queue.get()
            if row is None:
                self._queue.put_nowait(None)
                return
            if self.failure is not None or self._writer.failed:
                self._queue.put_nowait(row)  # never sent: left for _drain, back to pending
                return
            if self._queue.qsize() < self.page_size:
                self._room.set()
            self.sent += 1
            try:
                outcome = await self.route.send_one(row)
            except Exception as exc:  # refused credentials or a bug: the row stays in_flight
                self.failure = self.failure or exc
                self._room.set()
                continue
            self._writer.add(outcome)

    async def _record(self, batch: list[Outcome]) -> None:
        try:
            await self.db(self.warehouse.outbox.record_outcomes, batch, run_id=self.run_id)
        except Exception:
            self._room.set()  # the feeder sees the failure and stops
            raise
        self.recorded += len(batch)
        self.registered += sum(o.state is OutboxState.REGISTERED for o in batch)
        self.on_recorded(batch)
        now = time.monotonic()
        if self.progress and now - self._last_progress >= PROGRESS_S:
            self._last_progress = now
            self.progress(f"SE: sent {self.sent}, registered {self.registered}, {self.sent - self.recorded} in flight")
