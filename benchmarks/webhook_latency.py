"""How soon Norwegian case ids are recorded after Amili finishes a batch: push (webhooks) vs polling only.

Everything real: the emulator (subprocess, batches finish ``--batch-delay`` s after the POST), the
webhook receiver (``amili-pipelines webhooks``), and the Dagster daemon (``dagster-daemon run`` over
workspace.yaml, a fresh DAGSTER_HOME, the project's dagster.yaml) launching runs as in production.

* push: ``norway_webhook_sensor`` on (its default), the batch-status sensor off;
* poll: the webhook sensor off, ``norway_batch_status_sensor`` on (every 60 s), no receiver.

For each sample the script registers ``--invoices`` Norwegian invoices (one batch), notes when the
batch reached its final status at the emulator, and when the ``norway_batch_results_job`` run that
recorded its case ids ended (from the Dagster instance); the case ids are then checked in DuckDB.

    .venv/bin/python benchmarks/webhook_latency.py [--samples 3] [--mode both|push|poll]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402
import httpx  # noqa: E402

from amili_pipelines.domain.invoice import Market  # noqa: E402
from amili_pipelines.emulator.config import EmulatorConfig  # noqa: E402
from amili_pipelines.emulator.testing import free_port, running_emulator  # noqa: E402
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending  # noqa: E402
from amili_pipelines.settings import PROJECT_ROOT  # noqa: E402
from amili_pipelines.warehouse import open_warehouse  # noqa: E402
from tests.support import followup as fs  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "bench-webhook-secret"
BATCH_JOB = "norway_batch_results_job"


def _run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=180)


def _wait_idle(instance: dg.DagsterInstance, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    busy = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED]
    while instance.get_runs(filters=dg.RunsFilter(statuses=busy), limit=1):
        if time.monotonic() > deadline:
            raise TimeoutError("runs did not finish")
        time.sleep(0.5)


def _recorded_at(instance: dg.DagsterInstance, run_id: str) -> float:
    """When the run's batch-results step had stored the case ids (its materialization)."""
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        mat = record.event_log_entry.dagster_event.event_specific_data.materialization
        if mat.asset_key == dg.AssetKey(["reconcile", "norway_batch_results"]):
            return record.event_log_entry.timestamp
    raise AssertionError(f"run {run_id} recorded no batch results")


def _sample(emu, env_obj, instance: dg.DagsterInstance, n: int, prefix: str) -> tuple[float, float, float]:
    """Seconds from the batch finishing to: its results run created, the case ids stored, the run's end."""
    _wait_idle(instance)
    before = {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(job_name=BATCH_JOB))}
    invoices = fs.make_invoices(Market.NO, n, prefix=prefix, seed=hash(prefix) % 1000)
    with open_warehouse(env_obj.db_path) as wh:
        enqueue_valid_invoices(wh, invoices, creditors=env_obj.creditors)

        async def send(_se, no):
            await register_pending(wh, creditors=env_obj.creditors, no_client=no)
        asyncio.run(fs.with_clients(emu, send))
        batch_id = wh.outbox.record(Market.NO, invoices[0].invoice_key).batch_id
    token = {"Authorization": f"Bearer {emu.no_token()}"}
    while True:  # when did the batch finish (as seen from here, polling the emulator every 50 ms)
        status = httpx.get(f"{emu.no_base_url}/orgs/{emu.no_org}/batches/{batch_id}", headers=token,
                           timeout=5).json()["data"]["status"]
        if status in ("SUCCESS", "PARTIAL", "FAILED"):
            finished = datetime.now(UTC).timestamp()
            break
        time.sleep(0.05)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = [r for r in instance.get_run_records(filters=dg.RunsFilter(job_name=BATCH_JOB,
                                                                            statuses=[dg.DagsterRunStatus.SUCCESS]))
                if r.dagster_run.run_id not in before and r.end_time and r.end_time >= finished]
        if done:
            first = min(done, key=lambda r: r.end_time)
            _wait_idle(instance)
            with open_warehouse(env_obj.db_path, read_only=True) as wh:
                rec = wh.outbox.record(Market.NO, invoices[-1].invoice_key)
            assert rec.case_id, f"run {first.dagster_run.run_id} ended but {rec.invoice_key} has no case id"
            return (first.create_timestamp.timestamp() - finished,
                    _recorded_at(instance, first.dagster_run.run_id) - finished, first.end_time - finished)
        time.sleep(0.2)
    raise TimeoutError("no batch-results run recorded the batch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--invoices", type=int, default=10)
    parser.add_argument("--batch-delay", type=float, default=2.0)
    parser.add_argument("--mode", choices=["both", "push", "poll"], default="both")
    args = parser.parse_args()
    config = EmulatorConfig.model_validate({"norway": {"batch_delay_seconds": args.batch_delay}})
    results: dict[str, list[tuple[float, float, float]]] = {}
    with running_emulator(config, subprocess=True) as emu, tempfile.TemporaryDirectory(prefix="amili-lat-") as tmp:
        tmp_path = Path(tmp)
        env_obj = fs.make_env(emu, tmp_path)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(PROJECT_ROOT / "dagster_instance.yaml", home / "dagster.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
        env.update({
            "DAGSTER_HOME": str(home), "AMILI_SE_BASE_URL": emu.base_url, "AMILI_NO_BASE_URL": emu.no_base_url,
            "AMILI_NO_AUTH_URL": emu.no_auth_url, "AMILI_SE_API_CODE": emu.se_api_code,
            "AMILI_NO_CLIENT_SECRET": emu.no_client_secret, "AMILI_DUCKDB_PATH": str(env_obj.db_path),
            "AMILI_ANALYTICS_PATH": str(env_obj.analytics_path), "AMILI_CREDITORS_FILE": str(env_obj.creditors_path),
            "AMILI_WEBHOOK_INBOX": str(env_obj.inbox_path), "AMILI_NO_WEBHOOK_SECRET": SECRET,
        })
        os.environ["DAGSTER_HOME"] = str(home)
        _run([str(BIN / "dagster"), "instance", "concurrency", "set", "duckdb_writer", "1"], env)
        port = free_port()
        receiver = subprocess.Popen([str(BIN / "amili-pipelines"), "webhooks", "--port", str(port)], env=env,
                                    cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env=env,
                                  cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        instance = dg.DagsterInstance.get()
        try:
            time.sleep(3)
            sensor = [str(BIN / "dagster"), "sensor"]
            where = ["-w", "workspace.yaml"]
            for mode in (["push", "poll"] if args.mode == "both" else [args.mode]):
                if mode == "push":
                    emu.admin.set_webhooks(url=f"http://127.0.0.1:{port}/webhooks/amili-no", secret=SECRET,
                                           backoff_seconds=0.2)
                    _run(sensor + ["start", *where, "norway_webhook_sensor"], env)
                    subprocess.run(sensor + ["stop", *where, "norway_batch_status_sensor"], env=env,
                                   cwd=PROJECT_ROOT, capture_output=True, timeout=180)
                else:
                    emu.admin.set_webhooks(url=None)
                    _run(sensor + ["stop", *where, "norway_webhook_sensor"], env)
                    _run(sensor + ["start", *where, "norway_batch_status_sensor"], env)
                    if results:  # its first tick catches up on the push samples' batches: let that pass
                        time.sleep(70)
                        _wait_idle(instance)
                for i in range(args.samples):
                    created, recorded, ended = _sample(emu, env_obj, instance, args.invoices, f"LAT-{mode}-{i}")
                    results.setdefault(mode, []).append((created, recorded, ended))
                    print(f"{mode} sample {i + 1}: after the batch finished, run created {created:.1f} s, case ids "
                          f"recorded {recorded:.1f} s, run ended {ended:.1f} s", flush=True)
        finally:
            for proc in (daemon, receiver):
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            instance.dispose()
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} s ({min(values):.1f}–{max(values):.1f})"

    print("\n| path | samples | batch finished → run created | → case ids recorded | → run ended |")
    print("|---|---|---|---|---|")
    for mode, values in results.items():
        print(f"| {mode} | {len(values)} | " + " | ".join(cell([v[i] for v in values]) for i in range(3)) + " |")


if __name__ == "__main__":
    main()
