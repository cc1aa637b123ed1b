"""The daily follow-up sweep at 07:00 in the creditors' time zone (``AMILI_TIMEZONE``).

``followup_job`` runs everything the sensors would start (batch results, cases, settlements),
plus reporting source changes back to Amili, reconciliation and the analysts' database. It is
the safety net when sensors are off.
"""

import dagster as dg

from amili_pipelines.defs.reconcile.jobs import followup_job


def build_followup_schedule(timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_followup", job=followup_job, cron_schedule="0 7 * * *", execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Daily follow-up at 07:00 {timezone}: batches, cases, settlements, report-back, "
        "reconciliation, publish.",
    )
