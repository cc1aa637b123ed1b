"""The follow-up stage: batch results, cases, settlements, report-back, reconciliation; sensors and schedule."""

import dagster as dg

from amili_pipelines.defs.reconcile.assets import (
    amili_cases,
    case_actions,
    norway_batch_results,
    reconciliation,
    settlement_lines,
)
from amili_pipelines.defs.reconcile.checks import CHECKS
from amili_pipelines.defs.reconcile.jobs import JOBS
from amili_pipelines.defs.reconcile.schedules import build_followup_schedule
from amili_pipelines.defs.reconcile.sensors import SENSORS
from amili_pipelines.defs.reconcile.webhooks import norway_webhook_sensor
from amili_pipelines.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[norway_batch_results, amili_cases, settlement_lines, case_actions, reconciliation],
        asset_checks=CHECKS,
        jobs=JOBS,
        sensors=[*SENSORS, norway_webhook_sensor],
        schedules=[build_followup_schedule(Settings().timezone)],
    )
