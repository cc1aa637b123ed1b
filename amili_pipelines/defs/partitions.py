"""The daily partition every stage shares: the as-of day a creditor's books were read for."""

from __future__ import annotations

from datetime import date

import dagster as dg

from amili_pipelines.settings import Settings

# end_offset=1 makes today's partition exist, so a run in the morning hands over what is overdue today.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date="2026-01-01", timezone=Settings().timezone, end_offset=1
)

# Every step that writes the operational store joins this pool. Embedded: one process may write
# the DuckDB file at a time (limit 1). Production: PostgreSQL takes many writers; the pool only
# bounds how many steps write at once (AMILI_WRITER_POOL_LIMIT).
EMBEDDED_WRITER_POOL, PRODUCTION_WRITER_POOL = "duckdb_writer", "warehouse_writer"


def writer_pool(settings: Settings | None = None) -> str:
    return PRODUCTION_WRITER_POOL if (settings or Settings()).profile == "production" else EMBEDDED_WRITER_POOL


WRITER_POOL = writer_pool()


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """The partition days of this run: one for a normal run, several for a single-run backfill."""
    window = context.partition_time_window
    keys = daily_partitions.get_partition_keys_in_time_window(window) if window else []
    return [date.fromisoformat(k) for k in keys]
