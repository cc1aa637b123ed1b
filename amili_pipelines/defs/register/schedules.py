"""The daily hand-over at 06:00 in the creditors' time zone (``AMILI_TIMEZONE``)."""

import dagster as dg

from amili_pipelines.defs.register.jobs import extract_validate_register_job


def build_register_schedule(timezone: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_extract_validate_register",
        job=extract_validate_register_job,
        cron_schedule="0 6 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Hand over the day's overdue invoices at 06:00 {timezone}: extract, validate, register, publish.",
    )
    def daily_extract_validate_register(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # The partitions have end_offset=1, so today's partition exists at 06:00.
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)

    return daily_extract_validate_register
