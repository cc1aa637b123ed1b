"""One extract asset per configured source: what the source system says is unpaid and overdue."""

import dagster as dg

from amili_pipelines.defs.partitions import (
    WRITER_POOL,
    daily_partitions,
    partition_dates,
)
from amili_pipelines.defs.resources import CreditorsResource, WarehouseResource
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.sources.extract import ExtractSummary, extract_source

SOURCE_READABLE_CHECK = "source_readable"


def extract_asset_key(source_name: str) -> dg.AssetKey:
    return dg.AssetKey(["extract", source_name])


def build_extract_asset(creditor: CreditorConfig, source_name: str, description: str | None) -> dg.AssetsDefinition:
    @dg.asset(
        key=extract_asset_key(source_name),
        group_name="extract",
        kinds={"duckdb", "python"},
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WRITER_POOL,
        description=(
            f"Unpaid, overdue invoices of {creditor.name} ({creditor.market.value}) read from source "
            f"'{source_name}'{': ' + description if description else ''}. Every row read is kept: rows the "
            "source cannot parse are stored with the reason and quarantined by validation."
        ),
        metadata={"creditor": creditor.key, "market": creditor.market.value, "source": source_name},
        check_specs=[dg.AssetCheckSpec(
            SOURCE_READABLE_CHECK, asset=extract_asset_key(source_name), blocking=False,
            description="Every configured file (or the table) of the source was found and read. A source that "
                        "cannot be read is not registered, and the run ends with exit status 3.",
        )],
    )
    def _extract(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource
    ) -> dg.MaterializeResult:
        creditors_file = creditors.load()
        errors: list[str] = []
        files_failed = 0
        with warehouse.open(log=context.log.warning) as wh:
            for day in partition_dates(context):
                summary = extract_source(wh, creditors=creditors_file, source_name=source_name, partition_date=day)
                # A single-run backfill covers several days: each day's materialization shows its own read.
                context.add_asset_metadata(_day_metadata(summary), partition_key=day.isoformat())
                errors += [f"{day}: {e}" for e in summary.errors]
                files_failed += summary.files_failed
                context.log.info(f"{source_name} {day}: {summary.metadata()}")
        for error in errors:
            context.log.error(f"source {source_name} could not be read: {error}")
        error_text = "\n".join(errors)[:4000]
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(
                check_name=SOURCE_READABLE_CHECK, passed=not errors, severity=dg.AssetCheckSeverity.ERROR,
                metadata={"files_failed": files_failed, "errors": dg.MetadataValue.md(error_text or "none")},
            )],
        )

    return _extract


def _day_metadata(summary: ExtractSummary) -> dict[str, object]:
    counts = {k: v for k, v in summary.metadata().items() if isinstance(v, int | float) and not isinstance(v, bool)}
    error_text = "\n".join(summary.errors)[:4000]
    return {**counts, "dagster/row_count": summary.extracted, **({"source_error": error_text} if error_text else {})}


def extract_asset_keys(creditors: CreditorsFile) -> list[dg.AssetKey]:
    return [extract_asset_key(s.name) for c in creditors.creditors for s in c.sources]


def build_extract_assets(creditors: CreditorsFile) -> list[dg.AssetsDefinition]:
    return [build_extract_asset(c, s.name, s.description) for c in creditors.creditors for s in c.sources]
