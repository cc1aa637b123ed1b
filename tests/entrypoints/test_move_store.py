"""Moving an embedded installation to the production store: the documented command copies the
DuckDB file into PostgreSQL; the next daily run registers nothing twice and loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from amili_pipelines.headless import run_daily_job
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("amili-pipelines"))


def _posts(emu) -> int:
    return emu.admin.count("POST", "/invoice--registrations") + emu.admin.count("POST", "/collection/v1/orgs/{org}/invoices")


def test_an_embedded_installation_moves_to_postgresql_and_continues_exactly_once(pipeline_env, fresh_emulator,
                                                                                postgres_server, monkeypatch):
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_daily_job(partition=date.today(), instance=instance, wait_for_batches_s=60)
    assert first.success
    with open_warehouse(pipeline_env / "amili.duckdb", read_only=True) as wh:
        before = wh.outbox.state_counts()
        accounting_before = {m: vars(a) for m, a in wh.status.accounting().items()}
    assert before["registered"] > 250
    sent = _posts(fresh_emulator)

    url = postgres_server.create_database("moved")
    env = {**os.environ}
    moved = subprocess.run([CLI, "move-store", "--to", url], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "registration_outbox: " in moved.stdout and "Moved " in moved.stdout
    again = subprocess.run([CLI, "move-store", "--to", url], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "already holds data" in again.stdout, "a second move would duplicate rows"

    monkeypatch.setenv("AMILI_DATABASE_URL", url)
    with dg.DagsterInstance.ephemeral() as instance:
        second = run_daily_job(partition=date.today(), instance=instance, wait_for_batches_s=60)
    assert second.success
    assert second.metadata["register/amili_se_registrations"]["sent"] == 0
    assert _posts(fresh_emulator) == sent, "nothing was sent again after the move"
    with open_warehouse(url, read_only=True) as wh:
        assert wh.outbox.state_counts() == before, "nothing lost, nothing added"
        assert {m: vars(a) for m, a in wh.status.accounting().items()} == accounting_before
        assert wh.outbox.invoices_with_several_cases() == []
