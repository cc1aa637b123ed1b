"""Registration with Amili: each valid invoice handed over exactly once, per market."""
# No `from __future__ import annotations` in Dagster modules: Dagster inspects real annotations.


import dagster as dg

from amili_pipelines.defs.partitions import DUCKDB_WRITER_POOL, daily_partitions, partition_dates
from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource, CreditorsResource, WarehouseResource
from amili_pipelines.defs.validate.assets import VALIDATED_INVOICES
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration import outbox
from amili_pipelines.registration.run import register_market

SE_REGISTRATIONS = dg.AssetKey(["register", "amili_se_registrations"])
NO_REGISTRATIONS = dg.AssetKey(["register", "amili_no_registrations"])

_COMMON = dict(
    deps=[VALIDATED_INVOICES],
    group_name="register",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DUCKDB_WRITER_POOL,
)


def _result(summary, market: Market) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={
            **summary.metadata(),
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
    with warehouse.connect() as conn:
        summary = register_market(
            conn, creditors=creditors.load(), market=Market.SE, client=amili_se.client(),
            partition_dates=partition_dates(context), run_id=context.run.run_id, progress=context.log.info,
        )
    return _result(summary, Market.SE)


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
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource,
    amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        summary = register_market(
            conn, creditors=creditors.load(), market=Market.NO, client=amili_no.client(),
            partition_dates=partition_dates(context), run_id=context.run.run_id, progress=context.log.info,
            no_batch_size=amili_no.batch_size,
        )
    return _result(summary, Market.NO)


@dg.asset_check(
    asset=SE_REGISTRATIONS,
    blocking=True,
    pool=DUCKDB_WRITER_POOL,
    description="No invoice has more than one case at Amili (a debtor must never be chased twice).",
)
def se_no_invoice_with_two_cases(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _two_cases_check(warehouse, Market.SE)


@dg.asset_check(
    asset=NO_REGISTRATIONS,
    blocking=True,
    pool=DUCKDB_WRITER_POOL,
    description="No invoice has more than one case at Amili (a debtor must never be chased twice).",
)
def no_no_invoice_with_two_cases(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _two_cases_check(warehouse, Market.NO)


def _two_cases_check(warehouse: WarehouseResource, market: Market) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        dupes = [d for d in outbox.invoices_with_several_cases(conn) if d[0] == market.value]
        counts = outbox.state_counts(conn, market=market)
    table = "\n".join(["| invoice | cases |", "|---|---|", *(f"| {k} | {n} |" for _, k, n in dupes[:50])])
    return dg.AssetCheckResult(
        passed=not dupes,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"invoices_with_several_cases": len(dupes), "outbox": dg.MetadataValue.json(counts),
                  **({"duplicates": dg.MetadataValue.md(table)} if dupes else {})},
    )
