"""Sensors that follow Amili: finished Norwegian batches, new money lines, changed cases.

Rules they all keep (see docs/analytics.md, "Sensors"):

* they never open the DuckDB file: their state is the JSON cursor plus the API;
* each tick reads a bounded number of objects with short explicit timeouts and never sleeps;
* every ``RunRequest`` has a ``run_key`` naming the state it reacts to, so a reset or lost
  cursor cannot start the same run twice, while a later state change does start a new one;
* a source that fails during a tick keeps its old cursor entry (nothing is skipped); if every
  source failed the tick raises, so the failure is visible in the UI instead of a green tick;
* the runs do not depend on the cursor: they read from their own watermarks in DuckDB, and
  every write is an idempotent upsert, so no settlement line is lost or counted twice.
"""


import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import dagster as dg

from amili_pipelines.defs.reconcile.clients import sensor_no_client, sensor_se_client
from amili_pipelines.defs.reconcile.jobs import case_status_job, norway_batch_results_job, settlements_job
from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource, CreditorsResource
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.polling import (
    Poll,
    dump_cursor,
    load_cursor,
    poll_cases,
    poll_norway_batches,
    poll_settlements,
)

MIN_INTERVAL_BATCHES = 60
MIN_INTERVAL_SETTLEMENTS = 300
MIN_INTERVAL_CASES = 300
BATCH_OP = "reconcile__norway_batch_results"


class AllSourcesFailed(Exception):
    """Every API read of a tick failed; the cursor is left as it was."""


def _ids(creditors: CreditorsResource) -> tuple[list[str], list[str]]:
    cf = creditors.load()
    se = sorted({c.creditor_id for c in cf.creditors if c.market is Market.SE and c.creditor_id})
    no = sorted({c.organization_id for c in cf.creditors if c.market is Market.NO and c.organization_id})
    return se, no


def _run(
    context: dg.SensorEvaluationContext,
    poll_fn: Callable[..., Awaitable[Poll]],
    *,
    se_resource: AmiliSeResource | None,
    no_resource: AmiliNoResource | None,
    **kwargs,
) -> tuple[Poll, dict]:
    cursor = load_cursor(context.cursor)

    async def go() -> Poll:
        async with AsyncExitStack() as stack:
            se = await stack.enter_async_context(sensor_se_client(se_resource)) if se_resource else None
            no = await stack.enter_async_context(sensor_no_client(no_resource)) if no_resource else None
            clients = {}
            if "se_client" in kwargs:
                clients["se_client"] = se
                kwargs.pop("se_client")
            if "no_client" in kwargs:
                clients["no_client"] = no
                kwargs.pop("no_client")
            return await poll_fn(cursor, **clients, **kwargs)

    return asyncio.run(go()), cursor


def _result(context: dg.SensorEvaluationContext, poll: Poll, old: dict, sources: int, runs: list) -> dg.SensorResult:
    if poll.failed:
        context.log.warning("Amili read failed for: %s (their cursor entries kept)", "; ".join(poll.failed))
        if len(poll.failed) >= sources and not runs:
            raise AllSourcesFailed(f"every Amili read failed this tick: {'; '.join(poll.failed)}")
    new_cursor = dump_cursor(poll.cursor)
    if not runs:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"Nothing new. Seen: {poll.summary}"), cursor=new_cursor)
    context.log.info("Seen: %s", poll.summary)
    return dg.SensorResult(run_requests=runs, cursor=new_cursor)


@dg.sensor(
    name="norway_batch_status_sensor",
    job=norway_batch_results_job,
    minimum_interval_seconds=MIN_INTERVAL_BATCHES,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches Amili Norway's batches (newest first, down to the oldest still running). Each batch that has "
        "finished (SUCCESS, PARTIAL, FAILED) starts one run recording its results. "
        "run_key = no-batch:<batch id>:<status>."
    ),
)
def norway_batch_status_sensor(
    context: dg.SensorEvaluationContext, creditors: CreditorsResource, amili_no: AmiliNoResource,
) -> dg.SensorResult:
    _, orgs = _ids(creditors)
    if not orgs:
        return dg.SensorResult(skip_reason=dg.SkipReason("No Norwegian creditor configured."), cursor=context.cursor)
    poll, old = _run(context, poll_norway_batches, se_resource=None, no_resource=amili_no, no_client=None,
                     organization_ids=orgs)
    runs = [
        dg.RunRequest(
            run_key=t.run_key,
            run_config={"ops": {BATCH_OP: {"config": t.run_config}}},
            tags=t.tags,
        )
        for t in poll.triggers
    ]
    return _result(context, poll, old, len(orgs), runs)


@dg.sensor(
    name="settlements_sensor",
    job=settlements_job,
    minimum_interval_seconds=MIN_INTERVAL_SETTLEMENTS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches the money coming back: Amili Norway settlements (settlementDate window + ids seen) and Amili "
        "Sweden payout specifications and payouts (_updated cursor). New or changed lines start one run that "
        "stores and reconciles them. run_key = settlements:<number of lines>:<digest of their ids and versions>."
    ),
)
def settlements_sensor(
    context: dg.SensorEvaluationContext, creditors: CreditorsResource, amili_se: AmiliSeResource,
    amili_no: AmiliNoResource,
) -> dg.SensorResult:
    se_ids, orgs = _ids(creditors)
    poll, old = _run(
        context, poll_settlements, se_resource=amili_se if se_ids else None, no_resource=amili_no if orgs else None,
        se_client=None, no_client=None, se_creditor_ids=se_ids, no_organization_ids=orgs,
    )
    runs = [dg.RunRequest(run_key=t.run_key, tags=t.tags) for t in poll.triggers]
    return _result(context, poll, old, 2 * len(se_ids) + len(orgs), runs)


@dg.sensor(
    name="case_status_sensor",
    job=case_status_job,
    minimum_interval_seconds=MIN_INTERVAL_CASES,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches case changes: Amili Sweden cases with _updated after the cursor, Amili Norway cases by a digest "
        "of their status and amounts. Changes start one run updating the cases table. "
        "run_key = cases:<number of changes>:<digest>."
    ),
)
def case_status_sensor(
    context: dg.SensorEvaluationContext, creditors: CreditorsResource, amili_se: AmiliSeResource,
    amili_no: AmiliNoResource,
) -> dg.SensorResult:
    se_ids, orgs = _ids(creditors)
    poll, old = _run(
        context, poll_cases, se_resource=amili_se if se_ids else None, no_resource=amili_no if orgs else None,
        se_client=None, no_client=None, se_creditor_ids=se_ids, no_organization_ids=orgs,
    )
    runs = [dg.RunRequest(run_key=t.run_key, tags=t.tags) for t in poll.triggers]
    return _result(context, poll, old, len(se_ids) + len(orgs), runs)


SENSORS = [norway_batch_status_sensor, settlements_sensor, case_status_sensor]
