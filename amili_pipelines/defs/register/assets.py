"""Registration with Amili: each valid invoice handed over exactly once, per market."""
# No `from __future__ import annotations` in Dagster modules: Dagster inspects real annotations.

from datetime import timedelta

import dagster as dg

from amili_pipelines.defs.partitions import (
    WRITER_POOL,
    daily_partitions,
    partition_dates,
)
from amili_pipelines.defs.resources import (
    AmiliNoResource,
    AmiliSeResource,
    CreditorsResource,
    WarehouseResource,
)
from amili_pipelines.defs.run_tags import tag_run_with_this_process
from amili_pipelines.defs.validate.assets import VALIDATED_INVOICES
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.run import register_market
from amili_pipelines.registration.summary import QUEUE_FIELDS, RegistrationSummary
from amili_pipelines.settings import Settings

SE_REGISTRATIONS = dg.AssetKey(["register", "amili_se_registrations"])
NO_REGISTRATIONS = dg.AssetKey(["register", "amili_no_registrations"])

_COMMON = dict(
    deps=[VALIDATED_INVOICES],
    # No successful registration for this long shows the asset overdue in the UI (and alerts).
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=Settings().stale_registration_hours)),
    group_name="register",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
)


class NorwayRegistrationConfig(dg.Config):
    """Under the Dagster daemon the batch-status sensor records batch results; a headless run has no
    sensor, so it waits here (bounded) for the batches it submitted."""

    wait_for_batches_s: float = 0.0


def _result(context: dg.AssetExecutionContext, summary: RegistrationSummary, market: Market) -> dg.MaterializeResult:
    """What each partition day queued on its own materialization; what the run sent (every pending
    invoice, earlier days' retries included, so it belongs to no single day) on each of them."""
    for day, queued in summary.queued_by_day.items():
        if day is not None:
            context.add_asset_metadata(queued, partition_key=day.isoformat())
    sending = {k: v for k, v in summary.metadata().items() if k not in QUEUE_FIELDS}
    return dg.MaterializeResult(
        metadata={
            **sending,
            "market": market.value,
            "rejections": dg.MetadataValue.md(summary.rejections_markdown()),
        }
    )


@dg.asset(
    key=SE_REGISTRATIONS,
    kinds={"duckdb", "amili"},
    description=(
        "Valid Swedish invoices registered with Amili (POST /invoice--registrations). Each gets a case id and "
        "an OCR number at once. An invoice is sent at most once: reruns, retries and backfills skip what Amili "
        "already has, and an unclear outcome (timeout, 502) is looked up at Amili before anything is resent."
    ),
    **_COMMON,
)
def amili_se_registrations(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource,
    amili_se: AmiliSeResource,
) -> dg.MaterializeResult:
    tag_run_with_this_process(context)  # a killed run is then recognisably dead
    with warehouse.open(log=context.log.warning) as wh:
        summary = register_market(
            wh, creditors=creditors.load(), market=Market.SE, client=amili_se.connection().client(),
            partition_dates=partition_dates(context), run_id=context.run.run_id, progress=context.log.info,
        )
    return _result(context, summary, Market.SE)


@dg.asset(
    key=NO_REGISTRATIONS,
    kinds={"duckdb", "amili"},
    description=(
        "Valid Norwegian invoices submitted to Amili AutoCollect in batches (POST /orgs/{org}/invoices) with a "
        "deterministic IdempotencyKey. Batches finish asynchronously: the batch-status sensor records the case "
        "ids of succeeded items and Amili's reasons for failed ones."
    ),
    **_COMMON,
)
def amili_no_registrations(
    context: dg.AssetExecutionContext, config: NorwayRegistrationConfig, warehouse: WarehouseResource,
    creditors: CreditorsResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    tag_run_with_this_process(context)  # a killed run is then recognisably dead
    with warehouse.open(log=context.log.warning) as wh:
        summary = register_market(
            wh, creditors=creditors.load(), market=Market.NO, client=amili_no.connection().client(),
            partition_dates=partition_dates(context), run_id=context.run.run_id, progress=context.log.info,
            no_batch_size=amili_no.batch_size, wait_for_batches_s=config.wait_for_batches_s,
        )
    return _result(context, summary, Market.NO)
