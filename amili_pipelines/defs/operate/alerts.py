"""Alerts from what Dagster records: a failed run, a run that needs a person, data gone stale.

Each sensor turns run and asset events into an :class:`~amili_pipelines.alerts.messages.Alert`
(creditor, partition, what failed, counts, the run's link in the UI) and delivers it on the
channels the environment configures. Identity numbers are masked in every alert; no alert holds
a credential. With no channel configured the sensors skip and say so in their tick history.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.alerts.channels import deliver
from amili_pipelines.alerts.messages import Alert
from amili_pipelines.defs.resources import CreditorsResource
from amili_pipelines.settings import Settings, alert_channels

_COUNTS = ("extracted", "quarantined", "registered", "rejected", "still_unknown", "still_pending",
           "waiting_for_batch", "sent")


def run_url(run_id: str) -> str:
    return f"{Settings().ui_url.rstrip('/')}/runs/{run_id}"


def _partition(run: dg.DagsterRun) -> str | None:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start} … {end}" if start else None


def run_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    """Asset key -> the plain metadata of its materialization in this run."""
    out: dict[str, dict[str, Any]] = {}
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        mat = record.event_log_entry.dagster_event.event_specific_data.materialization
        out[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return out


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """'asset: check' of every check that failed with severity ERROR in this run."""
    out = []
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            out.append(f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}")
    return out


# What Dagster wraps the user code's own exception in (a step's, a sensor's evaluation).
_WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "SensorExecutionError", "DagsterUserCodeExecutionError",
                       "DagsterUserCodeProcessError"})


def error_summary(error: Any) -> str:
    """One line for a step's error: the user code's exception (Dagster wraps it), without the module
    path and the stack, cut short; the alert and the console mask it."""
    while error is not None and error.cls_name in _WRAPPERS and error.cause is not None:
        error = error.cause
    if error is None:
        return "the step failed"
    text = " ".join((error.message or "").split())
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head:  # "package.module.ErrorClass: message"
        text = f"{head.rsplit('.', 1)[-1]}: {rest}"
    return text[:300] or error.cls_name or "the step failed"


def step_failures(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Step key -> what made it fail, for every step that failed in this run."""
    out: dict[str, str] = {}
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        out[event.step_key] = error_summary(event.step_failure_data.error)
    return out


def _counts(metadata: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for meta in metadata.values():
        for key in _COUNTS:
            value = meta.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value:
                counts[key] = counts.get(key, 0) + value
    return counts


def _send(context: Any, alert: Alert) -> dg.SkipReason | None:
    channels = alert_channels(Settings())
    if not channels:
        return dg.SkipReason(f"No alert channel configured (AMILI_ALERT_*): {alert.title}")
    result = deliver(alert, channels)
    if result.failed:
        context.log.error("alert not delivered on: %s", "; ".join(result.failed))
    if not result.sent:
        raise RuntimeError(f"the alert reached no channel: {'; '.join(result.failed)}")
    context.log.info("alert sent on %s: %s", ", ".join(result.sent), alert.title)
    return None


def send_once_per_spell(context: Any, alert: Alert, reported: dict[str, float], new: dict[str, float]) -> dg.SkipReason | None:
    """Send an alert about spells (stale data, a failing sensor) and, once delivered, remember them in
    the cursor: a spell is reported once, not on every tick."""
    skipped = _send(context, alert)
    if skipped is None:
        context.update_cursor(json.dumps({**reported, **new}))
    return skipped


@dg.run_failure_sensor(
    name="alert_on_failed_run", default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="Tells a person (webhook, e-mail) when a run fails: job, creditors, partition, the error, counts "
                "so far and the run's link.",
)
def alert_on_failed_run(context: dg.RunFailureSensorContext, creditors: CreditorsResource):
    run = context.dagster_run
    metadata = run_metadata(context.instance, run.run_id)
    details = [f"error: {(context.failure_event.message or 'the run failed').splitlines()[0][:300]}"]
    # The run's failure only names its steps; what a person acts on is each step's own error.
    details += [f"step {step}: {why}" for step, why in step_failures(context.instance, run.run_id).items()]
    details += [f"failed check: {c}" for c in failed_checks(context.instance, run.run_id)]
    details += needs_attention(metadata)
    alert = Alert(title=f"Run of {run.job_name} failed", severity="error", details=details,
                  creditors=[c.key for c in creditors.load().creditors], partition=_partition(run),
                  counts=_counts(metadata), run_url=run_url(run.run_id), job=run.job_name)
    return _send(context, alert)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, name="alert_on_needs_attention",
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="Tells a person when a run succeeded but left something to look at: new rejections, unclear "
                "outcomes, invoices still waiting, an unreadable source, a failed check.",
)
def alert_on_needs_attention(context: dg.RunStatusSensorContext, creditors: CreditorsResource):
    run = context.dagster_run
    metadata = run_metadata(context.instance, run.run_id)
    details = [f"failed check: {c}" for c in failed_checks(context.instance, run.run_id)] + needs_attention(metadata)
    if not details:
        return dg.SkipReason(f"run {run.run_id} needs nobody")
    alert = Alert(title=f"{run.job_name} needs a look", severity="warning", details=details,
                  creditors=[c.key for c in creditors.load().creditors], partition=_partition(run),
                  counts=_counts(metadata), run_url=run_url(run.run_id), job=run.job_name)
    return _send(context, alert)
