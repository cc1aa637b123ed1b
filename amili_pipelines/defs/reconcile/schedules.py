"""Schedules: the daily hand-over and a daily follow-up sweep, in the creditors' time zone.

* ``daily_extract_validate_register`` starts the lead's daily-partitioned job
  ``extract_validate_register`` (``defs/register/jobs.py``, referenced by name) at 06:00 for
  today's partition (the partitions have ``end_offset=1``, so today's exists).
* ``daily_followup`` runs ``followup_job`` at 07:00: everything the sensors would start (batch
  results, cases, settlements), plus reporting source changes back to Amili, reconciliation and
  the analysts' database. It is the safety net when sensors are off.

The time zone is ``Settings.timezone`` (``AMILI_TIMEZONE``, default Europe/Stockholm).
"""

from __future__ import annotations

import dagster as dg

from amili_pipelines.config import Settings
from amili_pipelines.defs.reconcile.jobs import followup_job
from amili_pipelines.defs.reconcile.keys import EXTRACT_VALIDATE_REGISTER_JOB


def build_schedules(settings: Settings | None = None) -> list:
    tz = (settings or Settings()).timezone

    @dg.schedule(
        name="daily_extract_validate_register",
        job_name=EXTRACT_VALIDATE_REGISTER_JOB,
        cron_schedule="0 6 * * *",
        execution_timezone=tz,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Hand over the day's overdue invoices at 06:00 {tz}: extract, validate, register, publish.",
    )
    def daily_extract_validate_register(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)

    daily_followup = dg.ScheduleDefinition(
        name="daily_followup", job=followup_job, cron_schedule="0 7 * * *", execution_timezone=tz,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Daily follow-up at 07:00 {tz}: batches, cases, settlements, report-back, reconciliation, publish.",
    )
    return [daily_extract_validate_register, daily_followup]
