"""Jobs the follow-up sensors and schedules start. Every step writes the warehouse (pool duckdb_writer)."""

import dagster as dg

from amili_pipelines.defs.books.assets import BOOKS_KEYS
from amili_pipelines.defs.publish.assets import ANALYTICS_SNAPSHOT
from amili_pipelines.defs.reconcile.assets import (
    AMILI_CASES,
    CASE_ACTIONS,
    NORWAY_BATCH_RESULTS,
    RECONCILIATION,
    SETTLEMENT_LINES,
)

NORWAY_BATCH_RESULTS_JOB = "norway_batch_results_job"
SETTLEMENTS_JOB = "settlements_job"
CASE_STATUS_JOB = "case_status_job"
FOLLOWUP_JOB = "followup_job"

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
        NORWAY_BATCH_RESULTS, AMILI_CASES, SETTLEMENT_LINES, CASE_ACTIONS, RECONCILIATION, ANALYTICS_SNAPSHOT,
        *BOOKS_KEYS,
    ),
    description="Everything after registration: batches, cases, settlements, reporting back to Amili, "
    "reconciliation, the analysts' database, the files for the creditors' books and the report.",
    tags={"amili/stage": "followup"},
)

JOBS = [norway_batch_results_job, settlements_job, case_status_job, followup_job]
