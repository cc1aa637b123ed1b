"""The follow-up sensors against the real emulator (HTTP on 127.0.0.1), ticked with build_sensor_context.

Covered: what triggers a run and with which run key, restarts from a stored cursor, a lost
cursor, an API that fails during a tick (and during a run), bounded work per tick, and that no
settlement line is lost or counted twice along the way.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from decimal import Decimal

import dagster as dg
import pytest

from amili_pipelines.defs.reconcile.jobs import settlements_job
from amili_pipelines.defs.reconcile.sensors import (
    AllSourcesFailed,
    case_status_sensor,
    norway_batch_status_sensor,
    settlements_sensor,
)
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.polling import load_cursor, poll_settlements
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def _emulator_lines(emulator) -> tuple[int, Decimal]:
    state = emulator.admin.state()

    def docs(coll):
        return list(coll.values()) if isinstance(coll, dict) else list(coll or [])

    specs = docs(state["se"].get("finance--payout-specifications"))
    settlements = docs(state["no"].get("settlements"))
    total = sum((Decimal(str(s["total_amount"])) for s in specs), Decimal(0)) + sum(
        (Decimal(str(s["payoutAmount"])) for s in settlements), Decimal(0))
    return len(specs) + len(settlements), total


def _stored_lines(env) -> tuple[int, int, Decimal]:
    with open_warehouse(env.db_path, read_only=True) as wh:
        n, distinct, total = wh.connection.execute(
            "SELECT count(*), count(DISTINCT market || line_id), coalesce(sum(payout_amount), 0) FROM settlement_lines"
        ).fetchall()[0]
    return n, distinct, Decimal(total)


def test_batch_sensor_runs_once_per_finished_batch_and_survives_restarts(followup):
    emu = followup.emulator
    defs = fs.definitions(followup)
    instance = dg.DagsterInstance.ephemeral()
    emu.admin.set_faults(batch_extra_delay_seconds=1.5)  # batches stay QUEUED for 1.5 s (wall clock)
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.NO, 6), settle_batches=False)

    first = fs.tick(followup, norway_batch_status_sensor, None, instance)
    assert not first.run_requests
    assert "1 running" in first.skip_reason.skip_message and "0 newly finished" in first.skip_reason.skip_message
    assert load_cursor(first.cursor)["no_batches"][emu.no_org]["running"], "the running batch is remembered"

    time.sleep(1.8)  # the test waits; the sensor never does
    second = fs.tick(followup, norway_batch_status_sensor, first.cursor, instance)
    assert len(second.run_requests) == 1
    rr = second.run_requests[0]
    batch_id = rr.tags["amili/batch_id"]
    assert rr.run_key == f"no-batch:{batch_id}:SUCCESS"
    assert rr.run_config["ops"]["reconcile__norway_batch_results"]["config"]["batches"][0]["batch_id"] == batch_id
    fs.execute(followup, defs, norway_batch_status_sensor.job_name, rr, instance)
    with open_warehouse(followup.db_path, read_only=True) as wh:
        assert wh.connection.execute("SELECT state, count(*) FROM registration_outbox GROUP BY ALL").fetchall() == [("registered", 6)]

    # Restart from the stored cursor: nothing new.
    restarted = fs.tick(followup, norway_batch_status_sensor, second.cursor, instance)
    assert not restarted.run_requests and "0 newly finished" in restarted.skip_reason.skip_message
    # A lost cursor asks again with the *same* run key, which the daemon never launches twice.
    lost = fs.tick(followup, norway_batch_status_sensor, None, instance)
    assert [r.run_key for r in lost.run_requests] == [rr.run_key]

    # Amili down during a tick: the tick fails visibly and the cursor is not moved.
    emu.admin.set_faults(error_rates={503: 1.0})
    with pytest.raises(AllSourcesFailed):
        fs.tick(followup, norway_batch_status_sensor, second.cursor, instance)
    emu.admin.clear_faults()
    assert not fs.tick(followup, norway_batch_status_sensor, second.cursor, instance).run_requests


def test_settlements_sensor_loses_and_double_counts_nothing_when_the_api_fails(followup):
    emu = followup.emulator
    defs = fs.definitions(followup)
    instance = dg.DagsterInstance.ephemeral()
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.SE, 16) + fs.make_invoices(Market.NO, 12))
    quiet = fs.tick(followup, settlements_sensor, None, instance)
    assert not quiet.run_requests and "0 new" in quiet.skip_reason.skip_message
    emu.admin.advance(days=100)
    expected_n, expected_total = _emulator_lines(emu)
    assert expected_n > 10

    # Norway's settlements fail during this tick; Sweden's lines still trigger a run.
    emu.admin.set_faults(error_rates={503: 1.0}, path_prefixes=["/collection/v1/orgs"])
    partial = fs.tick(followup, settlements_sensor, quiet.cursor, instance)
    assert len(partial.run_requests) == 1
    assert partial.run_requests[0].run_key.startswith("settlements:")
    assert load_cursor(partial.cursor)["no_settlements"] == load_cursor(quiet.cursor).get("no_settlements", {})

    # The run it started fails too (Amili still down for Norway): nothing is half-written.
    failed = defs.resolve_job_def(settlements_job.name).execute_in_process(
        run_config={}, instance=instance, raise_on_error=False)
    assert not failed.success
    emu.admin.clear_faults()

    # Amili is back: the next tick sees Norway's lines; its run stores everything, once.
    cursor = partial.cursor
    runs = 0
    for _ in range(4):
        res = fs.tick(followup, settlements_sensor, cursor, instance)
        cursor = res.cursor
        for rr in res.run_requests:
            fs.execute(followup, defs, settlements_sensor.job_name, rr, instance)
            runs += 1
        if not res.run_requests:
            break
    assert runs >= 1
    n, distinct, total = _stored_lines(followup)
    assert (n, distinct, total) == (expected_n, expected_n, expected_total)

    # Restart from the stored cursor: quiet. A reset cursor triggers one harmless rerun: still no duplicates.
    assert not fs.tick(followup, settlements_sensor, cursor, instance).run_requests
    reset = fs.tick(followup, settlements_sensor, None, instance)
    assert len(reset.run_requests) == 1
    fs.execute(followup, defs, settlements_sensor.job_name, reset.run_requests[0], instance)
    assert _stored_lines(followup) == (expected_n, expected_n, expected_total)


def test_settlement_polling_is_bounded_per_tick_and_misses_nothing(followup):
    emu = followup.emulator
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.SE, 16) + fs.make_invoices(Market.NO, 12))
    emu.admin.advance(days=100)
    expected_n, _ = _emulator_lines(emu)
    creditors = followup.creditors
    se_ids = [c.creditor_id for c in creditors.creditors if c.creditor_id]
    orgs = [c.organization_id for c in creditors.creditors if c.organization_id]

    async def ticks(se, no):
        cursor: dict = {"v": 1}
        tokens: list[str] = []
        ticks_with_news = 0
        for _ in range(60):
            poll = await poll_settlements(cursor, se_client=se, no_client=no, se_creditor_ids=se_ids,
                                          no_organization_ids=orgs, max_items=4)
            cursor = poll.cursor
            if not poll.triggers:
                return tokens, ticks_with_news, cursor
            ticks_with_news += 1
            tokens += poll.new
        raise AssertionError("never went quiet")

    tokens, n_ticks, cursor = asyncio.run(fs.with_clients(emu, ticks))
    assert n_ticks > 2, "with 4 objects per list and tick, the work is spread over several ticks"
    json.dumps(cursor)  # the cursor stays JSON
    state = emu.admin.state()

    def docs(coll):
        return list(coll.values()) if isinstance(coll, dict) else list(coll or [])

    expected = {f"SE:{d['_id']}" for d in docs(state["se"]["finance--payout-specifications"])}
    expected |= {f"NO:{d['settlementId']}" for d in docs(state["no"]["settlements"])}
    seen = {t.split("@")[0] for t in tokens if not t.startswith("SEP:")}
    assert seen == expected, "every line was seen by some tick"
    assert len(seen) == expected_n


def test_case_status_sensor_reacts_to_changed_cases(followup):
    emu = followup.emulator
    defs = fs.definitions(followup)
    instance = dg.DagsterInstance.ephemeral()
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.SE, 5) + fs.make_invoices(Market.NO, 4))

    first = fs.tick(followup, case_status_sensor, None, instance)
    assert len(first.run_requests) == 1 and first.run_requests[0].run_key.startswith("cases:")
    fs.execute(followup, defs, case_status_sensor.job_name, first.run_requests[0], instance)
    again = fs.tick(followup, case_status_sensor, first.cursor, instance)
    assert not again.run_requests
    assert "SE cases: 0 new/changed" in again.skip_reason.skip_message and "unchanged" in again.skip_reason.skip_message

    emu.admin.advance(days=40)  # every case moves to the next stage
    changed = fs.tick(followup, case_status_sensor, again.cursor, instance)
    assert len(changed.run_requests) == 1 and changed.run_requests[0].run_key != first.run_requests[0].run_key
    fs.execute(followup, defs, case_status_sensor.job_name, changed.run_requests[0], instance)
    with open_warehouse(followup.db_path, read_only=True) as wh:
        stages = wh.connection.execute("SELECT market, state FROM cases ORDER BY ALL").fetchall()
    assert all(s != "invoice" for m, s in stages if m == "SE")
    assert not fs.tick(followup, case_status_sensor, changed.cursor, instance).run_requests


def test_case_status_sensor_starts_no_run_until_there_is_a_case(followup):
    """A first tick (no cursor) with no case at Amili is not a change; the first cases are, once."""
    emu = followup.emulator
    instance = dg.DagsterInstance.ephemeral()
    assert not emu.admin.state()["no"].get("cases") and not emu.admin.state()["se"].get("cases")

    first = fs.tick(followup, case_status_sensor, None, instance)
    assert not first.run_requests
    assert "NO cases: 0 read, unchanged" in first.skip_reason.skip_message
    assert not fs.tick(followup, case_status_sensor, first.cursor, instance).run_requests

    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.SE, 2) + fs.make_invoices(Market.NO, 3))
    cases = fs.tick(followup, case_status_sensor, first.cursor, instance)
    assert len(cases.run_requests) == 1 and cases.run_requests[0].run_key.startswith("cases:")
    assert load_cursor(cases.cursor)["no_cases"][emu.no_org]["count"] == 3
    quiet = fs.tick(followup, case_status_sensor, cases.cursor, instance)
    assert not quiet.run_requests and "NO cases: 3 read, unchanged" in quiet.skip_reason.skip_message


def test_sensors_never_touch_the_warehouse(followup, tmp_path):
    """Their state is the cursor and the API: every sensor ticks while another process holds the
    DuckDB file locked, and none of them creates, opens or migrates it."""
    emu = followup.emulator
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.SE, 3) + fs.make_invoices(Market.NO, 2))
    emu.admin.advance(days=60)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(followup.db_path)!r}); "
                               "print('locked', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = followup.db_path.stat().st_mtime_ns
        for sensor in (norway_batch_status_sensor, settlements_sensor, case_status_sensor):
            assert "warehouse" not in sensor.required_resource_keys
            assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
            assert sensor.minimum_interval_seconds >= 60
            started = time.monotonic()
            result = fs.tick(followup, sensor, None)
            assert time.monotonic() - started < 10, f"{sensor.name} waited for something"
            assert result.run_requests or result.skip_reason, sensor.name
        assert followup.db_path.stat().st_mtime_ns == before
    finally:
        holder.communicate("done\n", timeout=10)
