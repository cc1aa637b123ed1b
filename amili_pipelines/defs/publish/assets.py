"""The analysts' published database, refreshed as the last step of every run that writes."""

import dagster as dg

from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.reconcile.assets import NORWAY_BATCH_RESULTS, RECONCILIATION
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import WarehouseResource
from amili_pipelines.publish import publish_analytics

ANALYTICS_SNAPSHOT = dg.AssetKey(["publish", "analytics_snapshot"])


@dg.asset(
    key=ANALYTICS_SNAPSHOT,
    deps=[RECONCILIATION, SE_REGISTRATIONS, NO_REGISTRATIONS, NORWAY_BATCH_RESULTS],
    group_name="publish",
    kinds={"duckdb"},
    pool=WRITER_POOL,
    description=(
        "The database finance analysts read (AMILI_ANALYTICS_PATH): open cases, settlements, payouts, "
        "reconciliation per case, per creditor and per month, discrepancies, quarantine, rejections and "
        "ageing buckets, with personal identity numbers masked. Replaced in one step at the end of every run, "
        "so a reader never sees half a file and an open reader never blocks the pipeline."
    ),
)
def analytics_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open(log=context.log.warning) as wh:
        summary = publish_analytics(wh, analytics_path=warehouse.analytics_path)
    return dg.MaterializeResult(metadata={**summary.metadata(), "path": dg.MetadataValue.path(summary.path)})
