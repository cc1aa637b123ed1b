"""Jobs the follow-up sensors and schedules start. Every step writes DuckDB (pool duckdb_writer)."""

from __future__ import annotations

import dagster as dg

from amili_pipelines.defs.reconcile.keys import (
    AMILI_CASES,
    ANALYTICS_SNAPSHOT,
    CASE_ACTIONS,
    CASE_STATUS_JOB,
    FOLLOWUP_JOB,
    NORWAY_BATCH_RESULTS,
    NORWAY_BATCH_RESULTS_JOB,
    RECONCILIATION,
    SETTLEMENT_LINES,
    SETTLEMENTS_JOB,
)

norway_batch_results_job = dg.define_asset_job(
    name=NORWAY_BATCH_RESULTS_JOB,
    selection=dg.AssetSelection.assets(NORWAY_BATCH_RESULTS, RECONCILIATION, ANALYTICS_SNAPSHOT),
    description="Record the outcome of finished Norwegian batches, reconcile and republish.",
    tags={"amili/stage": "followup"},
)

settlements_job = dg.define_asset_job(
    name=SETTLEMENTS_JOB,
    selection=dg.AssetSelection.assets(AMILI_CASES, SETTLEMENT_LINES, RECONCILIATION, ANALYTICS_SNAPSHOT),
    description="Store new settlement and payout lines (and the cases they belong to), reconcile and republish.",
    tags={"amili/stage": "followup"},
)

case_status_job = dg.define_asset_job(
    name=CASE_STATUS_JOB,
    selection=dg.AssetSelection.assets(AMILI_CASES, RECONCILIATION, ANALYTICS_SNAPSHOT),
    description="Update changed cases, reconcile and republish.",
    tags={"amili/stage": "followup"},
)

followup_job = dg.define_asset_job(
    name=FOLLOWUP_JOB,
    selection=dg.AssetSelection.assets(
        NORWAY_BATCH_RESULTS, AMILI_CASES, SETTLEMENT_LINES, CASE_ACTIONS, RECONCILIATION, ANALYTICS_SNAPSHOT
    ),
    description="Everything after registration: batches, cases, settlements, reporting back to Amili, "
    "reconciliation and the analysts' database.",
    tags={"amili/stage": "followup"},
)

JOBS = [norway_batch_results_job, settlements_job, case_status_job, followup_job]
