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
    """The partition days of this run: one for a normal run, several for a single-run backfill.

    A range run (``dg launch --partition-range``, range tags in the launchpad) is not checked against
    the partitions by Dagster, as a single key is: a day after today would hand over invoices that
    are not overdue yet. Such a run is refused before anything is read or sent."""
    window = context.partition_time_window
    keys = daily_partitions.get_partition_keys_in_time_window(window) if window else []
    refuse_days_outside_partitions(keys)
    return [date.fromisoformat(k) for k in keys]


def refuse_days_outside_partitions(keys: list[str]) -> None:
    first, last = daily_partitions.get_first_partition_key(), daily_partitions.get_last_partition_key()
    future = [k for k in keys if last is None or k > last]
    early = [k for k in keys if first is None or k < first]
    if future or early:
        why = []
        if future:
            why.append(f"{_days(future)} not begun yet (today is {last} in {daily_partitions.timezone})")
        if early:
            why.append(f"{_days(early)} before the first partition {first}")
        raise dg.Failure(
            description=f"Refused: partition day(s) {'; '.join(why)}. Nothing was read or sent for any day of this "
                        "run; launch it again for days up to today.",
            allow_retries=False,
        )


def _days(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{keys[0]} … {keys[-1]} ({len(keys)} days)"
