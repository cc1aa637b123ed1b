"""Keeping a dead run from wedging the live ones (headless runs, no Dagster daemon).

Every run that writes the operational DuckDB file holds the ``duckdb_writer`` pool's one slot
while a step runs. A run whose process was killed (OOM, reboot, ``kill -9``) keeps its slot in
the instance, and every later run would wait for it forever. Before a headless run starts:

* runs of this host tagged with a process that is gone are marked failed and their slots freed
  (the tags carry the pid and the process's start time, so a reused pid is not mistaken for it);
* slots of runs that already ended are freed;
* a slot held by a live run is waited for, at most ``AMILI_POOL_WAIT_S`` seconds, saying which
  run holds it (run id, partition, since when, pid) every few seconds.

While the run goes on, a watchdog applies the same bound to a step waiting for the slot: the run
is marked failed and the process ends with a message instead of waiting in silence.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.run_tags import (
    TAG_HOST,
    TAG_PID,
    TAG_PID_START,
    process_start,
)
from amili_pipelines.settings import Settings
from amili_pipelines.warehouse import WarehouseLocked

DEFAULT_POOL_WAIT_S = 120.0
_SAY_EVERY_S = 10.0
_ACTIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED,
           dg.DagsterRunStatus.CANCELING]

Say = Callable[[str], None]


class PoolBusy(WarehouseLocked):
    """A live run held the writer slot longer than the bound (the store is busy with another run)."""


def pool_wait_bound() -> float:
    env = os.environ.get("AMILI_POOL_WAIT_S")
    return float(env) if env else DEFAULT_POOL_WAIT_S


def _is_dead(run: dg.DagsterRun) -> bool:
    tags = run.tags
    if tags.get(TAG_HOST) != socket.gethostname() or not tags.get(TAG_PID):
        return False  # not provably ours: the daemon's run monitoring watches it
    started = process_start(int(tags[TAG_PID]))
    return started is None or (bool(tags.get(TAG_PID_START)) and started != tags[TAG_PID_START])


def writer_slots() -> int:
    """One slot for the embedded DuckDB file; the configured limit for PostgreSQL."""
    settings = Settings()
    return settings.writer_pool_limit if settings.profile == "production" else 1


def ensure_pool_limit(instance: dg.DagsterInstance) -> None:
    """The writer pool has its slots set (on the named pool, never as a default for all pools)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    slots = writer_slots()
    if storage.get_concurrency_info(WRITER_POOL).slot_count != slots:
        storage.set_concurrency_slots(WRITER_POOL, slots)


def reap_dead_runs(instance: dg.DagsterInstance, say: Say) -> list[str]:
    """Mark this host's runs whose process is gone as failed and free their slots; returns their ids."""
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE, tags={TAG_HOST: socket.gethostname()})):
        if _is_dead(run):
            instance.report_run_failed(run, f"The process that ran it (pid {run.tags.get(TAG_PID)}) is gone: "
                                            "killed or crashed. Marked failed by the next headless run.")
            _free(instance, run.run_id)
            say(f"Recovered from run {run.run_id} ({_partition(run)}): its process {run.tags.get(TAG_PID)} is gone; "
                "marked it failed and freed its writer slot. Its unfinished work is picked up by this run.")
            reaped.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for slot in storage.get_concurrency_info(WRITER_POOL).claimed_slots:
            run = instance.get_run_by_id(slot.run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(slot.run_id)
    return reaped


def _free(instance: dg.DagsterInstance, run_id: str) -> None:
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _partition(run: dg.DagsterRun) -> str:
    p = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_start")
    return f"partition {p}" if p else "no partition"


def describe_holders(instance: dg.DagsterInstance, *, besides: str | None = None) -> list[str]:
    """Who holds the writer slot: run id, partition, since when, pid."""
    out = []
    for slot in instance.event_log_storage.get_concurrency_info(WRITER_POOL).claimed_slots:
        if slot.run_id == besides:
            continue
        record = instance.get_run_record_by_id(slot.run_id)
        run = record.dagster_run if record else None
        since = (datetime.fromtimestamp(record.start_time, UTC).isoformat(timespec="seconds")
                 if record and record.start_time else "?")
        pid = run.tags.get(TAG_PID, "?") if run else "?"
        out.append(f"run {slot.run_id} ({_partition(run) if run else 'unknown run'}, step {slot.step_key}, "
                   f"since {since}, pid {pid})")
    return out


def wait_for_writer_slot(instance: dg.DagsterInstance, say: Say, *, bound_s: float | None = None) -> None:
    """Wait (bounded, never silently) until no live run holds the writer slot (embedded profile:
    with PostgreSQL, runs write side by side and the pool's queue orders them)."""
    if not instance.event_log_storage.supports_global_concurrency_limits or writer_slots() > 1:
        return
    bound = pool_wait_bound() if bound_s is None else bound_s
    deadline = time.monotonic() + bound
    told = 0.0
    while holders := describe_holders(instance):
        now = time.monotonic()
        if now >= deadline:
            raise PoolBusy(f"The writer slot (pool {WRITER_POOL}) is still held after {bound:.0f} s by "
                           + "; ".join(holders) + ". Let that run finish, or, if its process is gone on another "
                           "machine, mark it failed in the Dagster UI. Raise AMILI_POOL_WAIT_S to wait longer.")
        if now - told >= _SAY_EVERY_S:
            say(f"Waiting for the writer slot (up to {deadline - now:.0f} s more): held by " + "; ".join(holders))
            told = now
        time.sleep(1.0)


class Watchdog:
    """Ends this process if one of its run's steps waits for the writer slot longer than the bound."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, say: Say, *, bound_s: float | None = None) -> None:
        self.instance, self.run_id, self.say = instance, run_id, say
        self.bound = pool_wait_bound() if bound_s is None else bound_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="amili-pool-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        if self.instance.event_log_storage.supports_global_concurrency_limits:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _watch(self) -> None:
        storage = self.instance.event_log_storage
        while not self._stop.wait(2.0):
            pending = [p for p in storage.get_concurrency_info(WRITER_POOL).pending_steps
                       if p.run_id == self.run_id]
            waited = max((time.time() - p.enqueued_timestamp.timestamp() for p in pending), default=0.0)
            if waited > self.bound:
                self._give_up(waited)
            elif pending and waited > _SAY_EVERY_S:
                self.say(f"Step waits {waited:.0f} s for the writer slot, held by {self._holders()}")

    def _holders(self) -> str:
        """Other runs holding the slot, or else this run's own step (one step writes at a time)."""
        others = describe_holders(self.instance, besides=self.run_id)
        if others:
            return "; ".join(others)
        own = [s.step_key for s in self.instance.event_log_storage.get_concurrency_info(WRITER_POOL).claimed_slots
               if s.run_id == self.run_id]
        return "; ".join(f"this run's step {step}" for step in own) or "another run"

    def _give_up(self, waited: float) -> None:
        holders = self._holders()
        self.say(f"Gave up after waiting {waited:.0f} s for the writer slot held by {holders}. "
                 "Nothing was lost: the next run continues where this one stopped.")
        run = self.instance.get_run_by_id(self.run_id)
        if run is not None:
            self.instance.report_run_failed(run, f"Waited {waited:.0f} s for the writer slot held by {holders}.")
        _free(self.instance, self.run_id)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)  # the executor's wait loop cannot be interrupted from here
