"""The follow-up job `make demo` and the daily schedule run: cases, money, report-back, reconcile, publish."""

from __future__ import annotations

import pytest

from amili_pipelines.headless import run_followup_job
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def test_followup_job_summarises_and_is_repeatable(followup, monkeypatch):
    first = fs.populated(followup, monkeypatch, se=10, no=6, days=120)
    text = first.metadata["reconcile/reconciliation"]["summary"]
    assert "cases: 16" in text and "SEK" in text and "NOK" in text and "discrepancies: none" in text
    recon = first.metadata["reconcile/reconciliation"]
    assert recon["settled"] + recon["partly_paid"] > 0
    assert first.metadata["publish/analytics_snapshot"]["rows_reconciliation"] == 16
    with open_warehouse(followup.db_path, read_only=True) as wh:
        lines = wh.connection.execute("SELECT count(*), sum(payout_amount) FROM settlement_lines").fetchall()
    assert lines[0][0] > 0
    # Again without moving the clock: the same figures, nothing stored twice.
    again = run_followup_job(log_level="WARNING")
    assert again.success
    for key in ("claimed_SEK", "claimed_NOK", "paid_out_SEK", "paid_out_NOK"):
        assert again.metadata["reconcile/reconciliation"][key] == recon[key]
    with open_warehouse(followup.db_path, read_only=True) as wh:
        assert wh.connection.execute("SELECT count(*), sum(payout_amount) FROM settlement_lines").fetchall() == lines
