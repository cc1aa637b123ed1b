"""Checks on registration: no invoice may have two cases at Amili (a debtor chased twice)."""

import dagster as dg

from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import WarehouseResource
from amili_pipelines.domain.invoice import Market


def _two_cases_check(warehouse: WarehouseResource, market: Market) -> dg.AssetCheckResult:
    with warehouse.open() as wh:
        dupes = wh.outbox.invoices_with_several_cases(market=market)
        counts = wh.outbox.state_counts(market=market)
    table = "\n".join(["| invoice | cases |", "|---|---|", *(f"| {k} | {n} |" for _, k, n in dupes[:50])])
    return dg.AssetCheckResult(
        passed=not dupes,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"invoices_with_several_cases": len(dupes), "outbox": dg.MetadataValue.json(counts),
                  **({"duplicates": dg.MetadataValue.md(table)} if dupes else {})},
    )


@dg.asset_check(
    asset=SE_REGISTRATIONS,
    blocking=True,
    pool=WRITER_POOL,
    description="No invoice has more than one case at Amili (a debtor must never be chased twice).",
)
def se_no_invoice_with_two_cases(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _two_cases_check(warehouse, Market.SE)


@dg.asset_check(
    asset=NO_REGISTRATIONS,
    blocking=True,
    pool=WRITER_POOL,
    description="No invoice has more than one case at Amili (a debtor must never be chased twice).",
)
def no_no_invoice_with_two_cases(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _two_cases_check(warehouse, Market.NO)
