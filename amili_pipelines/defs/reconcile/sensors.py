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

With Norway's webhooks on (``webhooks.py``), ``AMILI_NO_SAFETY_NET_POLL_SECONDS`` makes the Norwegian
batch list and case sweep a slower safety net; Sweden is polled as before.
"""


from collections.abc import Awaitable, Callable
from typing import Any

import dagster as dg

from amili_pipelines.amili.clients import SENSOR_TIMEOUT, AmiliClients
from amili_pipelines.defs.reconcile.jobs import (
    case_status_job,
    norway_batch_results_job,
    settlements_job,
)
from amili_pipelines.defs.resources import (
    AmiliNoResource,
    AmiliSeResource,
    CreditorsResource,
    run_with_clients,
)
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.polling import (
    Poll,
    dump_cursor,
    load_cursor,
    poll_cases,
    poll_norway_batches,
    poll_settlements,
)
from amili_pipelines.settings import Settings

MIN_INTERVAL_BATCHES = 60
MIN_INTERVAL_SETTLEMENTS = 300
MIN_INTERVAL_CASES = 300
BATCH_OP = "reconcile__norway_batch_results"


class AllSourcesFailed(Exception):
    """Every API read of a tick failed; the cursor is left as it was."""


def _ids(creditors: CreditorsResource) -> tuple[list[str], list[str]]:
    cf = creditors.load()
    se = sorted({c.creditor_id for c in cf.in_market(Market.SE) if c.creditor_id})
    no = sorted({c.organization_id for c in cf.in_market(Market.NO) if c.organization_id})
    return se, no


def _poll(
    context: dg.SensorEvaluationContext, creditors: CreditorsResource, amili_se: AmiliSeResource,
    amili_no: AmiliNoResource, poll: Callable[[dict[str, Any], AmiliClients], Awaitable[Poll]],
) -> Poll:
    """Run one API poll with fail-fast clients (short timeouts, no retries): the next tick retries."""
    cursor = load_cursor(context.cursor)
    return run_with_clients(lambda clients: poll(cursor, clients), creditors=creditors.load(), amili_se=amili_se,
                            amili_no=amili_no, timeout=SENSOR_TIMEOUT, max_retries=0)


def _result(context: dg.SensorEvaluationContext, poll: Poll, sources: int, runs: list) -> dg.SensorResult:
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
    context: dg.SensorEvaluationContext, creditors: CreditorsResource, amili_se: AmiliSeResource,
    amili_no: AmiliNoResource,
) -> dg.SensorResult:
    _, orgs = _ids(creditors)
    if not orgs:
        return dg.SensorResult(skip_reason=dg.SkipReason("No Norwegian creditor configured."), cursor=context.cursor)
    safety_net = Settings().no_safety_net_poll_seconds
    poll = _poll(context, creditors, amili_se, amili_no, lambda cursor, c: poll_norway_batches(
        cursor, no_client=c.no, organization_ids=orgs, safety_net_s=safety_net))
    runs = [
        dg.RunRequest(
            run_key=t.run_key,
            run_config={"ops": {BATCH_OP: {"config": t.run_config}}},
            tags=t.tags,
        )
        for t in poll.triggers
    ]
    return _result(context, poll, len(orgs), runs)


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
    poll = _poll(context, creditors, amili_se, amili_no, lambda cursor, c: poll_settlements(
        cursor, se_client=c.se, no_client=c.no, se_creditor_ids=se_ids, no_organization_ids=orgs))
    runs = [dg.RunRequest(run_key=t.run_key, tags=t.tags) for t in poll.triggers]
    return _result(context, poll, 2 * len(se_ids) + len(orgs), runs)


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
    safety_net = Settings().no_safety_net_poll_seconds
    poll = _poll(context, creditors, amili_se, amili_no, lambda cursor, c: poll_cases(
        cursor, se_client=c.se, no_client=c.no, se_creditor_ids=se_ids, no_organization_ids=orgs,
        safety_net_s=safety_net))
    runs = [dg.RunRequest(run_key=t.run_key, tags=t.tags) for t in poll.triggers]
    return _result(context, poll, len(se_ids) + len(orgs), runs)


SENSORS = [norway_batch_status_sensor, settlements_sensor, case_status_sensor]
