"""The operate stage: alerts when a run fails, needs a person, data goes stale or a sensor keeps failing;
operators' actions."""

import dagster as dg

from amili_pipelines.defs.operate.alerts import (
    alert_on_failed_run,
    alert_on_needs_attention,
)
from amili_pipelines.defs.operate.failing_sensors import alert_on_failing_sensors
from amili_pipelines.defs.operate.operator_jobs import OPERATOR_JOBS
from amili_pipelines.defs.operate.stale import alert_on_stale_data


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[alert_on_failed_run, alert_on_needs_attention, alert_on_stale_data,
                                   alert_on_failing_sensors],
                          jobs=OPERATOR_JOBS)
