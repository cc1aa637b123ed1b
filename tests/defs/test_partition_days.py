"""Which days a run may work on: today in the creditors' time zone, never a day that has not begun.

Dagster refuses a single unknown partition key itself, but a range run (``dg launch
--partition-range``, the range tags in the launchpad) is not checked against the partitions: a range
ending tomorrow would read the sources as of tomorrow and hand over invoices that are not overdue yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from amili_pipelines.definitions import build_definitions
from amili_pipelines.defs.partitions import daily_partitions
from amili_pipelines.warehouse import open_warehouse


def test_today_at_half_past_midnight_in_stockholm_is_already_the_new_day():
    # 00:30 in Stockholm is 23:30 UTC the day before (winter) and 22:30 UTC (summer).
    assert daily_partitions.get_partition_keys(current_time=datetime(2026, 3, 10, 23, 30, tzinfo=UTC))[-1] == "2026-03-11"
    assert daily_partitions.get_partition_keys(current_time=datetime(2026, 7, 10, 22, 30, tzinfo=UTC))[-1] == "2026-07-11"
    assert daily_partitions.get_partition_keys(current_time=datetime(2026, 3, 10, 22, 59, tzinfo=UTC))[-1] == "2026-03-10"


def test_a_single_future_day_is_refused_by_dagster(pipeline_env):
    job = build_definitions().resolve_job_def("extract_validate_register")
    tomorrow = daily_partitions.get_last_partition_key()
    future = (date.fromisoformat(tomorrow) + timedelta(days=1)).isoformat()
    with dg.DagsterInstance.ephemeral() as instance, pytest.raises(dg.DagsterUnknownPartitionError, match=future):
        job.execute_in_process(instance=instance, partition_key=future)


@pytest.mark.integration
def test_a_range_reaching_into_the_future_is_refused_before_anything_is_read_or_sent(pipeline_env, fresh_emulator):
    today = date.fromisoformat(daily_partitions.get_last_partition_key())
    job = build_definitions().resolve_job_def("extract_validate_register")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags={
            "dagster/asset_partition_range_start": (today - timedelta(days=1)).isoformat(),
            "dagster/asset_partition_range_end": (today + timedelta(days=2)).isoformat()})
        failures = [e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        # The books' ledger and workbooks hang off no partitioned asset: they run as on any day.
        partitioned = [e.asset_key for e in result.get_asset_materialization_events() if e.partition]
    assert not result.success
    assert failures and all("not begun yet" in f and f"today is {today}" in f for f in failures), failures
    assert partitioned == []
    with open_warehouse(pipeline_env / "amili.duckdb", read_only=True) as wh:
        days = wh.connection.execute("SELECT DISTINCT partition_date FROM extracted_invoices").fetchall()
        queued = wh.connection.execute("SELECT count(*) FROM registration_outbox").fetchone()[0]
    assert days == [] and queued == 0, "no day of the range was read, nothing was queued or sent"
