"""The push path: Amili Norway's webhooks, from the inbox the receiver fills to the runs they call for.

Each tick (every ``WEBHOOK_TICK_SECONDS``, the daemon's own loop time) the sensor

1. settles its open claims by the Dagster runs tagged with them: a run that succeeded completes its
   claim (the events are processed, never before); a failed or canceled one counts as a failed
   attempt, asked for again after a back-off under a new run key; a claim with no run at all (the
   tick ended before Dagster stored its request) is asked for again under the same run key, which
   Dagster never launches twice;
2. claims what arrived since (``MAX_EVENTS_PER_TICK`` at most) into one run per kind: finished
   batches, new settlements, named cases (``reconciliation.webhooks.plan_runs``); a kind whose run
   is still asked for, queued or running claims nothing: its events wait for the next run, so the
   run queue holds at most one run per kind however fast events arrive;
3. once an hour (the cursor holds when), forgets processed events older than the resource's
   ``keep_days``, so the inbox it counts at every tick stays the size of that window.

It reads files and the Dagster instance only: never the operational DuckDB file, never an API. The
polling sensors stay on as the safety net for anything a webhook did not bring.
"""

from datetime import datetime, timedelta

import dagster as dg

from amili_pipelines.defs.reconcile.jobs import case_status_job, norway_batch_results_job, settlements_job
from amili_pipelines.defs.reconcile.sensors import BATCH_OP
from amili_pipelines.defs.resources import CreditorsResource, WebhookInboxResource
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.webhooks import BATCH_RESULTS, CASES, NOTHING, SETTLEMENTS, plan_runs
from amili_pipelines.warehouse.inbox import Claim, WebhookInbox

WEBHOOK_TICK_SECONDS = 5
MAX_EVENTS_PER_TICK = 500
CLAIM_TAG, ATTEMPT_TAG = "amili/webhook_claim", "amili/webhook_attempt"
CASES_OP = "reconcile__amili_cases"
# After the n-th failed run of a claim, wait this long before asking again (the last one repeats).
RETRY_AFTER = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
_JOBS = {BATCH_RESULTS: norway_batch_results_job, SETTLEMENTS: settlements_job, CASES: case_status_job}
_OPS = {"batch_results": BATCH_OP, "cases": CASES_OP}  # what a planned run configures -> the job's step
_FAILED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
PRUNE_EVERY = timedelta(hours=1)


def run_request(claim: Claim) -> dg.RunRequest:
    ops = {_OPS[step]: {"config": config} for step, config in claim.run_config.items()}
    return dg.RunRequest(
        run_key=f"webhooks:{claim.claim_id}:{claim.attempt}",
        job_name=_JOBS[claim.kind].name,
        run_config={"ops": ops} if ops else {},
        tags={CLAIM_TAG: claim.claim_id, ATTEMPT_TAG: str(claim.attempt), "amili/market": "NO",
              "amili/webhook_events": str(len(claim.event_hashes))},
    )


def _run_of(instance: dg.DagsterInstance, claim: Claim) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={CLAIM_TAG: claim.claim_id, ATTEMPT_TAG: str(claim.attempt)}),
                             limit=1)
    return runs[0] if runs else None


def _settle(context: dg.SensorEvaluationContext, inbox: WebhookInbox, requests: list[dg.RunRequest],
            notes: list[str]) -> dict[str, str]:
    """Settle the open claims; returns kind -> the claim whose run is still to come or going on."""
    now = utcnow()
    in_flight: dict[str, str] = {}
    for claim in inbox.open_claims():
        run = _run_of(context.instance, claim)
        if run is None:
            wait = RETRY_AFTER[min(claim.attempt, len(RETRY_AFTER)) - 1] if claim.attempt else timedelta(0)
            if claim.failed_at is not None and now < claim.failed_at + wait:
                notes.append(f"{claim.claim_id}: run failed {claim.attempt}×, asked again after "
                             f"{(claim.failed_at + wait).isoformat(timespec='seconds')}Z")
            else:
                requests.append(run_request(claim))
                in_flight[claim.kind] = claim.claim_id
        elif run.status == dg.DagsterRunStatus.SUCCESS:
            inbox.complete(claim.claim_id)
            notes.append(f"{claim.claim_id}: run {run.run_id[:8]} succeeded, {len(claim.event_hashes)} event(s) processed")
        elif run.status in _FAILED:
            inbox.failed(claim.claim_id, at=now)
            context.log.warning(f"{claim.claim_id}: run {run.run_id} {run.status.value}; its "
                                f"{len(claim.event_hashes)} event(s) stay in the inbox and are asked for again")
        else:
            notes.append(f"{claim.claim_id}: run {run.run_id[:8]} {run.status.value}")
            in_flight[claim.kind] = claim.claim_id
    return in_flight


def _prune(cursor: str | None, inbox: WebhookInbox, keep_days: int, notes: list[str]) -> str:
    """Forget old processed events, at most every PRUNE_EVERY; the next cursor (when it last did)."""
    now = utcnow()
    try:
        last = datetime.fromisoformat(cursor) if cursor else None
    except ValueError:
        last = None
    if last is not None and now - last < PRUNE_EVERY:
        return cursor or ""
    pruned = inbox.prune(received_before=now - timedelta(days=keep_days))
    if pruned:
        notes.append(f"forgot {pruned} processed event(s) received more than {keep_days} day(s) ago")
    return now.isoformat()


@dg.sensor(
    name="norway_webhook_sensor",
    jobs=[norway_batch_results_job, settlements_job, case_status_job],
    minimum_interval_seconds=WEBHOOK_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts the runs Amili Norway's webhooks call for, within one tick of their arrival: a finished batch "
        "records its case ids, a settlement is read, a changed case is read (just that case). Reads the inbox "
        "the webhook receiver fills; an event counts as processed only once its run succeeded. "
        "run_key = webhooks:<claim>:<attempt>. Skips quietly while no receiver delivers anything."
    ),
)
def norway_webhook_sensor(
    context: dg.SensorEvaluationContext, creditors: CreditorsResource, webhook_inbox: WebhookInboxResource,
) -> dg.SensorResult:
    inbox = webhook_inbox.open()
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    in_flight = _settle(context, inbox, requests, notes)
    orgs = {c.organization_id for c in creditors.load().in_market(Market.NO) if c.organization_id}
    for planned in plan_runs(inbox.new_events(limit=MAX_EVENTS_PER_TICK), organization_ids=orgs):
        if planned.kind in in_flight:
            # A second run of the kind would only queue behind the first (one writer at a time), and the
            # sensor ticks faster than runs finish: the events stay new and go into the next run.
            notes.append(f"{len(planned.event_hashes)} {planned.kind} event(s) wait for {in_flight[planned.kind]}")
            continue
        claim = inbox.claim(Claim(claim_id=planned.claim_id, kind=planned.kind,
                                  event_hashes=tuple(planned.event_hashes), created_at=utcnow(),
                                  run_config=planned.config, description=planned.description()))
        if planned.kind == NOTHING:
            inbox.complete(claim.claim_id)
            context.log.warning(f"Events needing no run, marked processed: {claim.description}")
            continue
        requests.append(run_request(claim))
        notes.append(f"{claim.claim_id}: {claim.description}")
    cursor = _prune(context.cursor, inbox, webhook_inbox.keep_days, notes)
    if notes:
        context.log.info("; ".join(notes))
    if not requests:
        counts = inbox.counts()
        return dg.SensorResult(skip_reason=dg.SkipReason(
            f"Nothing to start. Inbox: {counts['new']} new, {counts['claimed']} claimed, {counts['processed']} "
            f"processed. " + "; ".join(notes)[:900]), cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
