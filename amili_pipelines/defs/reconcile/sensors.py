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


import hashlib
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
    Trigger,
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
        "Watches Amili Norway's batches (newest first, down to the oldest still running). The batches that "
        "finished (SUCCESS, PARTIAL, FAILED) since the last tick start one run recording their results. "
        "run_key = no-batch:<batch id>:<status> for one batch, no-batch:<n> batches:<digest> for several."
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
    runs = [_one_run_for_batches(poll.triggers)] if poll.triggers else []
    return _result(context, poll, len(orgs), runs)


def _one_run_for_batches(triggers: list[Trigger]) -> dg.RunRequest:
    """Every batch finished since the last tick, in one run.

    Each run also reconciles and republishes and waits for the single writer slot: one run per
    batch would queue up to a tick's 500 full runs ahead of the daily registration. One batch keeps
    its own run key; several get one naming their ids and statuses, so the same set seen again (a
    lost cursor) is still never launched twice."""
    if len(triggers) == 1:
        t = triggers[0]
        return dg.RunRequest(run_key=t.run_key, run_config={"ops": {BATCH_OP: {"config": t.run_config}}}, tags=t.tags)
    keys = sorted(t.run_key for t in triggers)
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    batches = [b for t in triggers for b in t.run_config["batches"]]
    statuses = sorted({t.tags.get("amili/batch_status", "") for t in triggers})
    return dg.RunRequest(
        run_key=f"no-batch:{len(triggers)} batches:{digest}",
        run_config={"ops": {BATCH_OP: {"config": {"batches": batches}}}},
        tags={"amili/market": "NO", "amili/batches": str(len(triggers)), "amili/batch_status": ",".join(statuses)},
    )


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
