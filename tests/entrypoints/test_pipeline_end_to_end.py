"""Issue 'Foundation': demo invoices go from the ERP export through Dagster into Amili and back as case ids."""

from __future__ import annotations

from datetime import date

import dagster as dg

from amili_pipelines.headless import run_daily_job
from amili_pipelines.settings import Settings
from amili_pipelines.warehouse import open_warehouse


def _registrations(path):
    with open_warehouse(path) as wh:
        return wh.connection.execute("SELECT invoice_key, case_id, ocr_number FROM registrations WHERE market = 'SE'").fetchall()


def test_daily_job_registers_every_valid_demo_invoice_once_over_real_http(pipeline_env, fresh_emulator):
    settings = Settings()
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_daily_job(partition=date.today(), instance=instance)
    assert outcome.success, outcome.failed_checks

    with open_warehouse(settings.duckdb_path) as wh:
        se = vars(wh.status.accounting()["SE"])
        quarantine_rows = wh.connection.execute("SELECT count(*) FROM quarantine WHERE invoice_key LIKE 'demo-se/%'").fetchone()[0]
    assert se["extracted"] >= 200
    # Every demo invoice accounted for: registered + quarantined + rejected = extracted.
    assert se["registered"] + se["quarantined"] + se["rejected"] == se["extracted"]
    assert 0.05 * se["extracted"] <= se["quarantined"] <= 0.12 * se["extracted"]
    assert quarantine_rows >= se["quarantined"]  # each quarantined invoice has at least one reason
    assert se["registered"] == se["valid"] - se["rejected"]

    regs = _registrations(settings.duckdb_path)
    assert len(regs) == se["registered"]
    assert all(case_id and ocr for _, case_id, ocr in regs)
    assert len({case_id for _, case_id, _ in regs}) == len(regs)

    # What really reached "Amili": exactly one registration per registered invoice.
    posts = fresh_emulator.admin.count("POST", "/invoice--registrations")
    assert posts == se["registered"] + se["rejected"]

    # The Dagster metadata tells the same story.
    meta = outcome.metadata["validate/validated_invoices"]
    assert meta["extracted"] == meta["valid"] + meta["quarantined"]
    assert "quarantine_reasons" in meta

    # Running again on the same DuckDB file registers nothing new and sends nothing.
    with dg.DagsterInstance.ephemeral() as instance:
        again = run_daily_job(partition=date.today(), instance=instance)
    assert again.success
    assert fresh_emulator.admin.count("POST", "/invoice--registrations") == posts
    assert _registrations(settings.duckdb_path) == regs
    assert again.metadata["register/amili_se_registrations"]["sent"] == 0
