"""Chaos: the real daily job (``amili-pipelines run`` on a Dagster instance configured like the one
the project ships: the named writer pool, run monitoring) is SIGKILLed during extraction, during
the Swedish sends, while outcomes are written and during the Norwegian batch POST, against the
emulator's fault mix. Each rerun recovers the dead run, finishes within its bound, and in the end
every valid invoice is registered exactly once: 0 duplicates at the emulator, 0 lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(Path(sys.executable).with_name("amili-pipelines"))
POOL_BOUND_S = 20
FAULT_MIX = dict(error_rates={500: 0.05, 502: 0.05}, rate_429=0.05, retry_after_seconds=0,
                 committed_then_failed_rate=0.05, committed_then_failed_mode="502", seed=5)


class Job:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([CLI, "run", "--wait-for-batches", "60"], cwd=PROJECT_ROOT, env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def kill_when(self, ready: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, f"the run ended before '{what}': {self.proc.stdout.read()[-3000:]}"
            assert time.monotonic() < deadline, f"never reached '{what}'"
            time.sleep(0.02)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def finish(self) -> tuple[int, str]:
        # The rerun must never hang: its bound on waiting for the writer slot, plus the run itself.
        out, _ = self.proc.communicate(timeout=POOL_BOUND_S + 240)
        return self.proc.returncode, out


def _step_started(instance: dg.DagsterInstance, prefix: str, pid: int) -> bool:
    """Has the run of process ``pid`` started a step whose key starts with ``prefix``?"""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"amili/pid": str(pid)}), limit=1)
    if not runs:
        return False
    events = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START)
    return any((e.step_key or "").startswith(prefix) for e in events)


@pytest.mark.timeout(900)
def test_killed_runs_heal_and_register_every_invoice_once(pipeline_env, fresh_emulator, tmp_path, monkeypatch):
    emu = fresh_emulator
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster_instance.yaml").read_text(), encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env = {**os.environ, "AMILI_POOL_WAIT_S": str(POOL_BOUND_S), "AMILI_SE_REQUESTS_PER_SECOND": "40",
           "AMILI_NO_BATCH_SIZE": "25"}
    instance = dg.DagsterInstance.get()
    se_posts = lambda: emu.admin.count("POST", "/invoice--registrations")  # noqa: E731
    org = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"
    outputs: list[str] = []

    emu.admin.set_faults(**FAULT_MIX)
    for ready, what in (
        (lambda job: _step_started(instance, "extract__", job.proc.pid), "extraction"),
        (lambda job: se_posts() >= 40, "the Swedish sends"),
        (lambda job: se_posts() >= 130, "the outcome writes of later Swedish sends"),
    ):
        job = Job(env)
        job.start()
        job.kill_when(lambda: ready(job), what)
    # The Norwegian batch POST takes 1.5 s at the emulator; kill once the Norwegian step is under way.
    emu.admin.clear_faults()
    emu.admin.set_faults(latency_ms=1500, path_prefixes=[f"/collection/v1/orgs/{org}/invoices"], methods=["POST"])
    job = Job(env)
    job.start()
    started: list[float] = []

    def in_norwegian_post() -> bool:
        if not started and _step_started(instance, "register__amili_no_registrations", job.proc.pid):
            started.append(time.monotonic())
        return bool(started) and time.monotonic() - started[0] > 0.8

    job.kill_when(in_norwegian_post, "the Norwegian batch POST")
    emu.admin.clear_faults()

    for _ in range(3):  # the healing reruns: until nothing needs a person
        job = Job(env)
        job.start()
        code, out = job.finish()
        outputs.append(out)
        assert code in (0, 3), out[-4000:]
        if code == 0:
            break
    assert code == 0, outputs[-1][-4000:]
    assert "Recovered from run" in outputs[0], "the first rerun says what it recovered"

    state = emu.admin.state()
    se = Counter(d["invoice_number"] for d in state["se"]["invoice--registrations"])
    no = Counter(d["uniqueSourceInvoiceId"] for d in state["no"]["invoices"])
    assert [k for k, n in se.items() if n > 1] == [] and [k for k, n in no.items() if n > 1] == [], "0 duplicates"
    with open_warehouse(pipeline_env / "amili.duckdb", read_only=True) as wh:
        accounting = wh.status.accounting()
        assert all(a.registered == a.valid and a.accounted_for for a in accounting.values()), accounting
        assert sum(a.registered for a in accounting.values()) == len(se) + len(no), "0 lost, 0 extra"
    failed = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE]
    assert len(failed) == 4 and all("is gone" in (instance.all_logs(r.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
                                                  .message or "") for r in failed)
    assert not [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED], "no run left hanging"
