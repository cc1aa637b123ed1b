"""The webhook sensor does not ask for a run faster than runs finish.

It ticks every 5 s; a run of the batch or settlement job (a read of Amili, a reconciliation and a
republish, one writer at a time) takes tens of seconds. Events that keep arriving while a run of
their kind is queued or running wait in the inbox and go into the next run, once that one is over,
instead of adding a run per tick to the queue.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest

from amili_pipelines.defs.reconcile.webhooks import CLAIM_TAG, norway_webhook_sensor
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.warehouse.spool import open_inbox

pytestmark = pytest.mark.integration


def _push(env, n: int, batch_id: str) -> None:
    body = json.dumps({"id": f"ev-{n}", "type": "BATCH_COMPLETED",
                       "data": {"batchId": batch_id, "organizationId": env.emulator.no_org, "status": "SUCCESS"}})
    open_inbox(env.inbox_path).accept(idempotency_key=f"key-{n}", event="BATCH_COMPLETED", event_id=f"ev-{n}",
                                      body=body.encode(), received_at=utcnow())


def _tick(env, instance):
    with dg.build_sensor_context(resources=env.resources(), instance=instance) as ctx:
        return norway_webhook_sensor(ctx)


def _as_run(instance, request: dg.RunRequest, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    return instance.add_run(dg.DagsterRun(job_name=request.job_name, run_id=f"run-{request.run_key[-12:]}-{status.value}",
                                          status=status, tags=request.tags))


def _batch_ids(request: dg.RunRequest) -> list[str]:
    return [b["batch_id"] for b in request.run_config["ops"]["reconcile__norway_batch_results"]["config"]["batches"]]


def test_events_arriving_while_a_run_of_their_kind_is_running_wait_for_the_next_run(followup):
    instance = dg.DagsterInstance.ephemeral()
    _push(followup, 1, "b-1")
    [first] = _tick(followup, instance).run_requests
    running = _as_run(instance, first, dg.DagsterRunStatus.STARTED)

    _push(followup, 2, "b-2")
    _push(followup, 3, "b-3")
    held = _tick(followup, instance)
    assert not held.run_requests, "a second run would only queue behind the first"
    assert "2 new" in held.skip_reason.skip_message and first.tags[CLAIM_TAG] in held.skip_reason.skip_message
    assert open_inbox(followup.inbox_path).counts()["new"] == 2, "the events wait, unclaimed"

    instance.delete_run(running.run_id)
    _as_run(instance, first, dg.DagsterRunStatus.SUCCESS)
    [second] = _tick(followup, instance).run_requests
    assert sorted(_batch_ids(second)) == ["b-2", "b-3"], "both waiting events in the one next run"
    assert open_inbox(followup.inbox_path).counts()["processed"] == 1
