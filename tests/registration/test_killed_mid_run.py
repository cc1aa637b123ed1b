"""Issue 'Exactly-once registration': the run process is SIGKILLed mid-flight, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import connect

from registration_invoices import make_invoices
from test_exactly_once_under_faults import FAULTS, assert_exactly_once_at_emulator

WORKER = Path(__file__).with_name("register_worker.py")


def _start(db: Path, emu) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), emu.base_url, emu.no_base_url, emu.no_auth_url, "1000"],
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

    with connect(db) as conn:
        left = conn.execute("SELECT count(*) FROM registration_outbox WHERE state <> 'registered'").fetchone()[0]
    assert left > 0, "the kill must have interrupted the run"

    again = _start(db, fresh_emulator)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    fresh_emulator.admin.clear_faults()
    with connect(db) as conn:
        assert_exactly_once_at_emulator(
            fresh_emulator, conn, make_invoices(Market.SE, 1000), make_invoices(Market.NO, 1000))
