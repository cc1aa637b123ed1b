"""End to end: register in both markets, let the emulator's clock run through the case lifecycle,
tick every sensor until quiet (running the jobs they request), and check that the reconciliation
agrees with the emulator's own books to the öre/øre for every case."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from amili_pipelines.defs.reconcile.sensors import (
    case_status_sensor,
    norway_batch_status_sensor,
    settlements_sensor,
)
from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration
SENSORS = [norway_batch_status_sensor, case_status_sensor, settlements_sensor]


def _compare(wh: duckdb.DuckDBPyConnection, emulator) -> int:
    expected = fs.emulator_cases(emulator.admin.state())
    rows = {
        (m, c): dict(zip(("claimed", "remaining", "principal", "paid_out", "closed"), r))
        for m, c, *r in wh.connection.execute(
            "SELECT market, case_id, claimed_capital, remaining_capital, paid_principal, paid_out, is_closed "
            "FROM reconciliation"
        ).fetchall()
    }
    assert set(rows) == set(expected), "every Amili case is reconciled, and nothing else"
    for key, e in expected.items():
        r = rows[key]
        assert r["claimed"] == e["claimed"], key
        assert r["principal"] == e["paid_principal"], key
        assert r["paid_out"] == e["paid_out"], key
        assert r["closed"] == e["closed"], key
        assert r["remaining"] == (Decimal("0.00") if e["closed"] else e["remaining_capital"]), key
    return len(expected)


def test_sensors_drive_reconciliation_to_agree_with_amili(followup):
    emu = followup.emulator
    creditors = followup.creditors
    instance = dg.DagsterInstance.ephemeral()
    defs = fs.definitions(followup)
    cursors: dict[str, str | None] = {}
    with open_warehouse(followup.db_path) as wh:
        # Norway's batches are left for the batch-status sensor to record.
        fs.register(wh, emu, creditors, fs.make_invoices(Market.SE, 24) + fs.make_invoices(Market.NO, 18),
                    settle_batches=False)
        waiting = wh.connection.execute("SELECT count(*) FROM registration_outbox WHERE state = 'waiting_for_batch'").fetchall()
    assert waiting[0][0] == 18

    keys = fs.tick_until_quiet(followup, defs, SENSORS, cursors, instance)
    assert keys["norway_batch_status_sensor"] and all(k.startswith("no-batch:") for k in keys["norway_batch_status_sensor"])
    assert keys["case_status_sensor"], "new cases were seen"
    with open_warehouse(followup.db_path) as wh:
        states = dict(wh.connection.execute("SELECT state, count(*) FROM registration_outbox GROUP BY ALL").fetchall())
        assert states == {"registered": 42}

    total_runs = 0
    for days in (35, 20, 40, 60):  # invoice → reminder → debt collection → paid / closed
        emu.admin.advance(days=days)
        keys = fs.tick_until_quiet(followup, defs, SENSORS, cursors, instance)
        total_runs += sum(len(v) for v in keys.values())
        # One more tick of each: nothing new, and the skip reason says what was seen.
        for sensor in SENSORS:
            res = fs.tick(followup, sensor, cursors[sensor.name], instance)
            assert not res.run_requests
            assert "Nothing new" in res.skip_reason.skip_message

    assert total_runs >= 4
    with open_warehouse(followup.db_path, read_only=True) as wh:
        n = _compare(wh, emu)
        statuses = dict(wh.connection.execute("SELECT status, count(*) FROM reconciliation GROUP BY ALL").fetchall())
        errors = wh.connection.execute(
            "SELECT reason, detail FROM reconciliation_discrepancies WHERE severity = 'error'").fetchall()
        lines = wh.connection.execute("SELECT count(*), count(DISTINCT line_id) FROM settlement_lines").fetchall()[0]
    assert n == 42
    assert statuses.get("settled", 0) > 0 and statuses.get("partly_paid", 0) + statuses.get("open", 0) > 0
    assert errors == []
    assert lines[0] == lines[1] > 0
    # The published copy was refreshed by the last run and carries the same totals.
    pub = duckdb.connect(str(followup.analytics_path), read_only=True)
    try:
        assert pub.execute("SELECT count(*) FROM reconciliation").fetchall()[0][0] == 42
    finally:
        pub.close()
