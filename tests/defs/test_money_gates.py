"""A failed money check stops the money figures from reaching the creditor's books in every job that
writes them, not only in the run that computed the reconciliation.

Amili pays one payout line twice (paid out > claimed): the follow-up job's blocking check fails and
its books are skipped. The next morning's daily job also ends with the ERP feedback and the ledger;
they must not be written from that reconciliation either, and the run must say which check failed.
"""

from __future__ import annotations

import dagster as dg
import pytest

from amili_pipelines.definitions import build_definitions
from amili_pipelines.defs.books.assets import ERP_FEEDBACK, LEDGER
from amili_pipelines.reconciliation.reconcile import reconcile
from amili_pipelines.warehouse import open_warehouse
from tests.books.conftest import follow
from tests.support import followup as fs

pytestmark = pytest.mark.integration


@pytest.fixture()
def overpaid(followup, monkeypatch):
    followed = follow(followup, se=6, no=0, days=120)
    with open_warehouse(followed.db) as wh:
        # The same capital line paid out a second time under another id.
        wh.connection.execute(
            "INSERT INTO settlement_lines SELECT * REPLACE ('again-' || line_id AS line_id) FROM settlement_lines "
            "WHERE market = 'SE' AND finance_category = 'capital' ORDER BY line_id LIMIT 1")
        summary = reconcile(wh, as_of=followed.day, grace_days=followed.creditors.grace_days())
    assert summary.discrepancies == {"paid_out_exceeds_claimed": 1}
    fs.use_env(followup, monkeypatch)
    monkeypatch.setenv("AMILI_BOOKS_DIR", str(followup.tmp / "books"))
    return followup.tmp / "books"


def _run(job_name: str, **kwargs):
    job = build_definitions().resolve_job_def(job_name)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        failed = [e.event_specific_data.check_name for e in result.all_events
                  if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed]
    return result, materialized, failed


def _money_files(books_dir) -> list[str]:
    return sorted(p.name for p in books_dir.rglob("*") if p.is_file() and ("/erp/" in str(p) or "/ledger/" in str(p)))


def test_the_daily_job_writes_no_books_while_a_money_check_fails(overpaid):
    result, materialized, failed = _run("extract_validate_register", partition_key="2026-03-02")
    assert not result.success, "the run fails, so the failed-run alert names the check"
    assert "settlements_within_claimed" in failed
    assert not materialized & {ERP_FEEDBACK, LEDGER}
    assert _money_files(overpaid) == [], "nothing for the ERP or the ledger"


def test_the_daily_job_writes_the_books_when_the_money_adds_up(followup, monkeypatch):
    follow(followup, se=4, no=0, days=120)
    fs.use_env(followup, monkeypatch)
    monkeypatch.setenv("AMILI_BOOKS_DIR", str(followup.tmp / "books"))
    result, materialized, failed = _run("extract_validate_register", partition_key="2026-03-02")
    assert result.success and failed == []
    assert {ERP_FEEDBACK, LEDGER} <= materialized


def test_the_books_job_writes_no_books_while_a_money_check_fails(overpaid):
    result, materialized, failed = _run("books_job")
    assert not result.success and "settlements_within_claimed" in failed
    assert not materialized & {ERP_FEEDBACK, LEDGER}
    assert _money_files(overpaid) == []
