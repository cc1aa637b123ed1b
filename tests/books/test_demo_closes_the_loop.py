"""The demo's loop, step by step as `make demo` runs it: hand over, 120 days at Amili, follow-up (files for
the books), the demo ERP imports them, next extract and follow-up: no case closed at Amili is unpaid at source."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from amili_pipelines.demo import _catch_up_emulator_clock
from amili_pipelines.demo.erp import DEMO_ASSETS, import_feedback, prepare_demo_erp
from amili_pipelines.emulator.config import EmulatorConfig
from amili_pipelines.emulator.testing import running_emulator
from amili_pipelines.headless import run_daily_job, run_followup_job
from amili_pipelines.settings import Settings, load_creditors
from amili_pipelines.warehouse import open_warehouse

pytestmark = pytest.mark.integration
UNPAID_AT_SOURCE = "discrepancy_closed_but_source_unpaid"


def _assets_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(DEMO_ASSETS.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_the_demo_erp_imports_the_feedback_and_the_books_agree(tmp_path, monkeypatch):
    committed = _assets_digest()
    creditors_path = prepare_demo_erp(tmp_path)
    start = (datetime.now(UTC) - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with running_emulator(EmulatorConfig.model_validate({"clock": {"start": start}})) as emu, \
            dg.DagsterInstance.ephemeral() as instance:
        for key, value in {
            "AMILI_SE_BASE_URL": emu.base_url, "AMILI_NO_BASE_URL": emu.no_base_url, "AMILI_NO_AUTH_URL": emu.no_auth_url,
            "AMILI_SE_API_CODE": "demo-api-code", "AMILI_NO_CLIENT_SECRET": "demo-secret",
            "AMILI_DUCKDB_PATH": str(tmp_path / "amili.duckdb"),
            "AMILI_ANALYTICS_PATH": str(tmp_path / "amili_analytics.duckdb"),
            "AMILI_CREDITORS_FILE": str(creditors_path),
        }.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        today = date.today()
        assert run_daily_job(partition=today, wait_for_batches_s=60, instance=instance, log_level="WARNING").success
        passed, _ = _catch_up_emulator_clock(emu.base_url)
        assert 119 < passed < 121

        first = run_followup_job(instance=instance, log_level="WARNING")
        assert first.success
        before = first.metadata["reconcile/reconciliation"].get(UNPAID_AT_SOURCE, 0)
        assert before > 50, "the ERP was never told: Amili's settled cases are unpaid at source"
        assert "reconcile/reconciliation:reconciliation_warnings" in first.failed_checks

        imported = import_feedback(load_creditors(creditors_path), books_dir=settings.books_path,
                                   erp_dir=creditors_path.parent)
        assert imported.payments > 0 and imported.invoices_paid_in_full >= before
        again_import = import_feedback(load_creditors(creditors_path), books_dir=settings.books_path,
                                       erp_dir=creditors_path.parent)
        assert again_import.files == [], "each file is imported once"

        daily = run_daily_job(partition=today, wait_for_batches_s=60, instance=instance, log_level="WARNING")
        assert daily.success
        assert daily.metadata["register/amili_se_registrations"]["sent"] == 0
        last = run_followup_job(instance=instance, log_level="WARNING")
        assert last.success
        assert last.metadata["reconcile/reconciliation"].get(UNPAID_AT_SOURCE, 0) == 0
        assert last.failed_checks == []
        assert last.metadata["reconcile/case_actions"]["detected_payments"] == 0, \
            "money Amili collected, booked from the feedback, is not reported back as a direct payment"

    with open_warehouse(settings.duckdb_path, read_only=True) as wh:
        settled_unpaid = wh.connection.execute(
            """SELECT count(*) FROM reconciliation r JOIN latest_source_balances b ON b.invoice_key = r.invoice_key
               WHERE r.status = 'settled' AND b.partition_date = ? AND b.open_balance > 0""", [today]).fetchall()[0][0]
    assert settled_unpaid == 0, "every case Amili settled is paid in the ERP's newest export"
    assert (settings.reports_path / "latest.html").exists()
    assert _assets_digest() == committed, "the committed demo exports are never written"
