"""The production store: four registration runs at once on one PostgreSQL outbox, under faults,
one of them SIGKILLed mid-flight; every invoice is registered exactly once at Amili."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_exactly_once_under_faults import FAULTS, assert_exactly_once_at_emulator
from tests.support.invoices import make_invoices

pytestmark = pytest.mark.integration
N = 600


def _start(url: str, emu) -> subprocess.Popen:
    # A short lease: the killed run's rows are taken over within seconds, not ten minutes.
    return subprocess.Popen(
        [sys.executable, "-m", "tests.registration.register_worker", url, emu.base_url, emu.no_base_url,
         emu.no_auth_url, str(N)], cwd=PROJECT_ROOT, env={**os.environ, "AMILI_OUTBOX_LEASE_S": "5"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.timeout(600)
def test_four_runs_at_once_one_killed_register_every_invoice_exactly_once(postgres_server, fresh_emulator):
    url = postgres_server.create_database("parallel_runs")
    fresh_emulator.admin.set_faults(**FAULTS)
    workers = [_start(url, fresh_emulator) for _ in range(4)]
    deadline = time.monotonic() + 180
    while fresh_emulator.admin.count("POST", "/invoice--registrations") < N // 4:
        assert time.monotonic() < deadline, "the runs are too slow to reach the kill point"
        time.sleep(0.05)
    os.kill(workers[0].pid, signal.SIGKILL)
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    assert workers[0].returncode == -signal.SIGKILL
    assert [w.returncode for w in workers[1:]] == [0, 0, 0], outputs

    fresh_emulator.admin.clear_faults()
    with open_warehouse(url) as wh:
        assert_exactly_once_at_emulator(fresh_emulator, wh, make_invoices(Market.SE, N), make_invoices(Market.NO, N))
        runs = {r for (r,) in wh.connection.execute(
            "SELECT DISTINCT run_id FROM registration_events WHERE to_state = 'in_flight'").fetchall()}
    assert len(runs) >= 3, f"the work was shared between the runs: {runs}"
