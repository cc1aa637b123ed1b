"""Validation: every extracted invoice judged ready for Amili, or quarantined with its reasons."""

import dagster as dg

from amili_pipelines.defs.partitions import (
    WRITER_POOL,
    daily_partitions,
    partition_dates,
)
from amili_pipelines.defs.resources import CreditorsResource, WarehouseResource
from amili_pipelines.sources.validate import ValidationSummary, validate_partition

VALIDATED_INVOICES = dg.AssetKey(["validate", "validated_invoices"])
ACCOUNTED_FOR_CHECK = "every_extracted_invoice_accounted_for"


def build_validate_asset(extract_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=VALIDATED_INVOICES,
        deps=extract_keys,
        group_name="validate",
        kinds={"duckdb", "python"},
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WRITER_POOL,
        description=(
            "Every extracted invoice checked against the rules Amili and Nordic law impose (identity numbers, "
            "amounts, dates, currency, duplicates). Valid invoices go on to registration; the others wait in "
            "quarantine with a reason that names the file, row and field to fix. A fixed row is picked up on "
            "the next run."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                ACCOUNTED_FOR_CHECK, asset=VALIDATED_INVOICES, blocking=True,
                description="extracted = valid + quarantined: no invoice vanished between source and registration",
            )
        ],
    )
    def validated_invoices(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource
    ) -> dg.MaterializeResult:
        creditors_file = creditors.load()
        days: list[ValidationSummary] = []
        with warehouse.open(log=context.log.warning) as wh:
            for day in partition_dates(context):
                summary = validate_partition(wh, creditors=creditors_file, partition_date=day)
                # A single-run backfill covers several days: each day's materialization shows its own verdicts.
                context.add_asset_metadata(_day_metadata(summary), partition_key=day.isoformat())
                days.append(summary)
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name=ACCOUNTED_FOR_CHECK,
                    # per day: a surplus one day must not hide a loss on another
                    passed=all(s.extracted == s.valid + s.quarantined for s in days),
                    metadata={"extracted": sum(s.extracted for s in days), "valid": sum(s.valid for s in days),
                              "quarantined": sum(s.quarantined for s in days)},
                )
            ],
        )

    return validated_invoices


def _day_metadata(summary: ValidationSummary) -> dict[str, object]:
    return {
        "extracted": summary.extracted,
        "valid": summary.valid,
        "quarantined": summary.quarantined,
        "warnings": summary.warnings,
        "dagster/row_count": summary.extracted,
        "quarantine_reasons": dg.MetadataValue.md(summary.markdown_table()),
        "issues_by_rule": dg.MetadataValue.json(dict(summary.by_rule)),
    }
