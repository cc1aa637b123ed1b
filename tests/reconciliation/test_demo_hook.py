"""The demo hook `make demo` calls after registration: advance, follow up, reconcile, publish."""

from __future__ import annotations

import followup_support as fs
import pytest

from amili_pipelines.reconciliation.demo import run_followup_cycle
from amili_pipelines.warehouse import connect

pytestmark = pytest.mark.integration


def test_followup_cycle_summarises_and_is_repeatable(followup):
    first = fs.populated(followup, se=10, no=6, days=120)
    text = first.render()
    assert "Follow-up after 120 simulated days" in text
    assert "cases: 16" in text and "SEK" in text and "NOK" in text and "discrepancies: none" in text
    assert first.reconciliation.settled + first.reconciliation.partly_paid > 0
    assert first.emulator_now
    with connect(followup.db_path, read_only=True) as conn:
        lines = conn.execute("SELECT count(*), sum(payout_amount) FROM settlement_lines").fetchall()
    # Again without moving the clock: the same figures, nothing stored twice.
    again = run_followup_cycle(settings=fs.settings(followup), days=0)
    assert again.reconciliation.paid_out == first.reconciliation.paid_out
    assert again.reconciliation.claimed == first.reconciliation.claimed
    with connect(followup.db_path, read_only=True) as conn:
        assert conn.execute("SELECT count(*), sum(payout_amount) FROM settlement_lines").fetchall() == lines
