"""Validation: every extracted invoice judged ready for Amili, or quarantined with its reasons."""

import dagster as dg

from amili_pipelines.defs.partitions import (
    DUCKDB_WRITER_POOL,
    daily_partitions,
    partition_dates,
)
from amili_pipelines.defs.resources import CreditorsResource, WarehouseResource
from amili_pipelines.sources.validate import validate_partition

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
        pool=DUCKDB_WRITER_POOL,
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
        extracted = valid = quarantined = warnings = 0
        by_rule: dict[str, int] = {}
        tables = []
        with warehouse.open(log=context.log.warning) as wh:
            for day in partition_dates(context):
                s = validate_partition(wh, creditors=creditors_file, partition_date=day)
                extracted += s.extracted
                valid += s.valid
                quarantined += s.quarantined
                warnings += s.warnings
                for rule, n in s.by_rule.items():
                    by_rule[rule] = by_rule.get(rule, 0) + n
                tables.append(f"**{day}**\n\n{s.markdown_table()}")
        return dg.MaterializeResult(
            metadata={
                "extracted": extracted,
                "valid": valid,
                "quarantined": quarantined,
                "warnings": warnings,
                "dagster/row_count": extracted,
                "quarantine_reasons": dg.MetadataValue.md("\n\n".join(tables) or "nothing extracted"),
                "issues_by_rule": dg.MetadataValue.json(by_rule),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=ACCOUNTED_FOR_CHECK,
                    passed=extracted == valid + quarantined,
                    metadata={"extracted": extracted, "valid": valid, "quarantined": quarantined},
                )
            ],
        )

    return validated_invoices
