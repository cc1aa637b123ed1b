"""Definitions of the follow-up stage, merged into the code location by ``amili_pipelines.definitions``."""

from __future__ import annotations

import dagster as dg

from amili_pipelines.defs.reconcile.assets import amili_cases, case_actions, norway_batch_results, reconciliation, settlement_lines
from amili_pipelines.defs.reconcile.checks import CHECKS
from amili_pipelines.defs.reconcile.jobs import JOBS
from amili_pipelines.defs.reconcile.schedules import build_schedules
from amili_pipelines.defs.reconcile.sensors import SENSORS

ASSETS = [norway_batch_results, amili_cases, settlement_lines, case_actions, reconciliation]


def defs(*, include_register_schedule: bool = True) -> dg.Definitions:
    """``include_register_schedule=False`` leaves out the schedule of the lead's job (for tests of this stage alone)."""
    schedules = build_schedules()
    if not include_register_schedule:
        schedules = [s for s in schedules if s.name != "daily_extract_validate_register"]
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=JOBS,
        sensors=SENSORS,
        schedules=schedules,
    )
