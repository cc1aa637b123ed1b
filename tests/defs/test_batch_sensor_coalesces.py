"""Finished Norwegian batches seen in one tick start one run, not one run each.

Every run of ``norway_batch_results_job`` also reconciles and republishes, and every run waits for
the single writer slot: a day's 1,000 invoices are 10 batches, and a sensor switched on over a
backlog sees up to 500 finished ones in its first tick. One run per batch would queue hundreds of
full runs ahead of the next morning's registration.
"""

from __future__ import annotations

import asyncio
import time

import dagster as dg
import pytest

from amili_pipelines.defs.reconcile.sensors import norway_batch_status_sensor
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def _submit_in_batches_of_two(env, n: int) -> None:
    with open_warehouse(env.db_path) as wh:
        enqueue_valid_invoices(wh, fs.make_invoices(Market.NO, n), creditors=env.creditors)

        # The outbox then waits for the batches: recording them is the sensor's run's work.
        asyncio.run(fs.with_clients(env.emulator, lambda se, no: register_pending(
            wh, creditors=env.creditors, no_client=no, no_batch_size=2)))


def _batches(request: dg.RunRequest) -> list[dict]:
    return request.run_config["ops"]["reconcile__norway_batch_results"]["config"]["batches"]


def test_one_run_for_every_batch_finished_in_a_tick(followup):
    _submit_in_batches_of_two(followup, 12)  # 6 batches
    instance = dg.DagsterInstance.ephemeral()
    for _ in range(100):  # until Amili has finished all six (the test waits; the sensor never does)
        first = fs.tick(followup, norway_batch_status_sensor, None, instance)
        if sum(len(_batches(r)) for r in first.run_requests) == 6:
            break
        time.sleep(0.1)
    assert len(first.run_requests) == 1, [r.run_key for r in first.run_requests]
    request = first.run_requests[0]
    batches = _batches(request)
    assert len(batches) == 6 and len({b["batch_id"] for b in batches}) == 6
    assert request.run_key.startswith("no-batch:") and request.tags["amili/batches"] == "6"

    fs.execute(followup, fs.definitions(followup), norway_batch_status_sensor.job_name, request, instance)
    with open_warehouse(followup.db_path, read_only=True) as wh:
        assert wh.connection.execute("SELECT state, count(*) FROM registration_outbox GROUP BY ALL").fetchall() == [
            ("registered", 12)]
    # The same batches seen again (a lost cursor) ask for the same run key: the daemon never launches it twice.
    again = fs.tick(followup, norway_batch_status_sensor, None, instance)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
