"""Definitions of the follow-up stage, merged into the code location by ``amili_pipelines.definitions``."""

from __future__ import annotations

import dagster as dg

from amili_pipelines.defs.reconcile.assets import amili_cases, case_actions, norway_batch_results, reconciliation, settlement_lines
from amili_pipelines.defs.reconcile.checks import CHECKS
from amili_pipelines.defs.reconcile.jobs import JOBS
from amili_pipelines.defs.reconcile.schedules import build_schedules
from amili_pipelines.defs.reconcile.sensors import SENSORS

ASSETS = [norway_batch_results, amili_cases, settlement_lines, case_actions, reconciliation]


def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=JOBS,
        sensors=SENSORS,
        schedules=build_schedules(),
    )
