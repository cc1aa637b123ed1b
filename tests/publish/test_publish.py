"""The analysts' published file: masked, replaced atomically, never blocking the pipeline."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import dagster as dg
import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amili_pipelines.defs.publish.assets import analytics_snapshot
from amili_pipelines.defs.reconcile.assets import reconciliation
from amili_pipelines.domain.masking import mask_id_number
from amili_pipelines.warehouse.duckdb.analytics import MASK_MACRO
from tests.support import followup as fs

EXPECTED_TABLES = {
    "open_cases", "settlements", "payouts", "reconciliation", "reconciliation_by_creditor", "reconciliation_by_period",
    "discrepancies", "quarantine", "rejections", "ageing_buckets", "publish_info",
}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(alphabet="0123456789- +ab", max_size=16)))
def test_sql_masking_agrees_with_the_domain_rule(value):
    con = duckdb.connect()
    con.execute(MASK_MACRO.format(name="m"))
    assert con.execute("SELECT m(?)", [value]).fetchall()[0][0] == mask_id_number(value)


@pytest.mark.integration
def test_published_file_has_the_analyst_tables_masked(followup, monkeypatch):
    outcome = fs.populated(followup, monkeypatch)
    assert "Reconciliation as of" in outcome.metadata["reconcile/reconciliation"]["summary"]
    assert outcome.metadata["reconcile/reconciliation"]["cases"] == 20
    assert outcome.metadata["publish/analytics_snapshot"]["rows_reconciliation"] == 20
    con = duckdb.connect(str(followup.analytics_path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert EXPECTED_TABLES <= tables
        pins = [r[0] for r in con.execute("SELECT customer_id_number FROM open_cases").fetchall()]
        assert pins and all(p is None or "*" in p for p in pins)
        for p in pins:
            if p is not None:
                assert len(re.findall(r"\d", p)) <= 8
        # nothing unmasked anywhere: no full identity number of the test data appears in any text column
        for table in tables:
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND data_type = 'VARCHAR'",
                [table]).fetchall()]
            for col in cols:
                values = [v for (v,) in con.execute(f'SELECT "{col}" FROM {table}').fetchall() if v]
                for pin in fs.SE_PINS + fs.NO_PINS:
                    assert not any(pin in v for v in values), (table, col)
        buckets = {r[0] for r in con.execute("SELECT bucket FROM ageing_buckets").fetchall()}
        assert buckets <= {"0-30", "31-60", "61-90", "91-180", "181-365", ">365", "unknown"} and buckets
    finally:
        con.close()
    # (books/ and reports/ live next to it too: folders, not leftovers)
    leftovers = [p.name for p in followup.analytics_path.parent.iterdir()
                 if p.is_file() and p.name != followup.analytics_path.name]
    assert leftovers == [], "no temporary file is left next to the published one"


@pytest.mark.integration
def test_an_open_reader_never_blocks_a_pipeline_run(followup, monkeypatch):
    fs.populated(followup, monkeypatch, se=6, no=4, days=60)
    before = duckdb.connect(str(followup.analytics_path), read_only=True)
    first_published = before.execute("SELECT published_at FROM publish_info").fetchall()[0][0]
    before.close()
    # An analyst's process opens the published file and keeps it open.
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(followup.analytics_path)!r}, read_only=True)
            n = con.execute("SELECT count(*) FROM reconciliation").fetchall()[0][0]
            print("open", n, flush=True)
            sys.stdin.readline()          # hold the file open until told
            print("still", con.execute("SELECT count(*) FROM reconciliation").fetchall()[0][0], flush=True)
            con.close()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().startswith("open 10")
        followup.emulator.admin.advance(days=30)
        # A real Dagster run that writes the warehouse and republishes while the reader holds the file.
        import time

        time.sleep(1.1)  # published_at has one-second resolution
        result = dg.materialize([reconciliation, analytics_snapshot], resources=followup.resources())
        assert result.success
        assert result.asset_materializations_for_node("publish__analytics_snapshot")
        out, _ = reader.communicate("go\n", timeout=30)
        assert out.strip() == "still 10", "the reader kept reading its copy"
        assert reader.returncode == 0
    finally:
        if reader.poll() is None:
            reader.kill()
    after = duckdb.connect(str(followup.analytics_path), read_only=True)
    try:
        assert after.execute("SELECT published_at FROM publish_info").fetchall()[0][0] > first_published
    finally:
        after.close()
