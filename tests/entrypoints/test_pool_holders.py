"""The pool watchdog's message names who holds the writer slot: another run with its partition
and pid, or else this run's own step (one step of a run writes at a time, and the others wait)."""

from __future__ import annotations

import dagster as dg

from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.headless.guard import Watchdog


def _run(instance: dg.DagsterInstance, *, partition: str) -> str:
    run = instance.create_run_for_job(dg.GraphDefinition(name="g").to_job(), tags={"dagster/partition": partition})
    return run.run_id


def test_a_step_waiting_on_its_own_run_names_that_step_and_another_run_is_named_with_its_partition():
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots(WRITER_POOL, 1)
        mine, other = _run(instance, partition="2026-11-30"), _run(instance, partition="2026-12-01")
        said: list[str] = []
        watchdog = Watchdog(instance, mine, said.append, bound_s=60)

        instance.event_log_storage.claim_concurrency_slot(WRITER_POOL, mine, "register__amili_se_registrations")
        assert watchdog._holders() == "this run's step register__amili_se_registrations"

        instance.event_log_storage.free_concurrency_slots_for_run(mine)
        instance.event_log_storage.claim_concurrency_slot(WRITER_POOL, other, "publish__analytics_snapshot")
        holders = watchdog._holders()
        assert holders.startswith(f"run {other} (partition 2026-12-01, step publish__analytics_snapshot")
