"""The daily partition every stage shares: the as-of day a creditor's books were read for."""

from __future__ import annotations

from datetime import date

import dagster as dg

from amili_pipelines.settings import Settings

# end_offset=1 makes today's partition exist, so a run in the morning hands over what is overdue today.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date="2026-01-01", timezone=Settings().timezone, end_offset=1
)

# Only one process may write the operational DuckDB file at a time: every writer joins this pool.
DUCKDB_WRITER_POOL = "duckdb_writer"


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """The partition days of this run: one for a normal run, several for a single-run backfill."""
    window = context.partition_time_window
    keys = daily_partitions.get_partition_keys_in_time_window(window) if window else []
    return [date.fromisoformat(k) for k in keys]
