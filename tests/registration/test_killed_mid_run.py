"""Issue 'Exactly-once registration': the run process is SIGKILLed mid-flight, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from amili_pipelines.domain.invoice import Market
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_exactly_once_under_faults import (
    FAULTS,
    assert_exactly_once_at_emulator,
)
from tests.support.invoices import make_invoices


def _start(db: Path, emu) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.registration.register_worker", str(db), emu.base_url, emu.no_base_url,
         emu.no_auth_url, "1000"], cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_sigkill_mid_run_then_rerun_registers_exactly_once(tmp_path, fresh_emulator):
    db = tmp_path / "amili.duckdb"
    fresh_emulator.admin.set_faults(**FAULTS)
    worker = _start(db, fresh_emulator)
    deadline = time.monotonic() + 120
    # Kill it once a good part of the Swedish invoices has gone out, but not all.
    while fresh_emulator.admin.count("POST", "/invoice--registrations") < 300:
        assert worker.poll() is None, f"worker ended before it could be killed: {worker.stdout.read()}"
        assert time.monotonic() < deadline, "worker too slow to reach the kill point"
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    with open_warehouse(db) as wh:
        left = wh.connection.execute("SELECT count(*) FROM registration_outbox WHERE state <> 'registered'").fetchone()[0]
    assert left > 0, "the kill must have interrupted the run"

    again = _start(db, fresh_emulator)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    fresh_emulator.admin.clear_faults()
    with open_warehouse(db) as wh:
        assert_exactly_once_at_emulator(
            fresh_emulator, wh, make_invoices(Market.SE, 1000), make_invoices(Market.NO, 1000))
