"""``make prod-check``: the production profile, brought up locally and checked under a crash.

PostgreSQL (installed from the system's packages if missing) holds the Dagster instance and the
operational store. The code server, the daemon and the webserver run as separate processes with
deploy/dagster.yaml and deploy/workspace.yaml, against the Amili emulator. The daily job is
launched through the webserver's GraphQL API for 3 partitions x 2 creditors at once, one run is
SIGKILLed while it registers, the daemon is restarted, the follow-up and a last daily run settle
what is left, and one line says how it went:

    prod-check: runs=N failed=N duplicates=N lost=N

Exit 0 only when nothing was registered twice, nothing was lost, and every run but the killed
one succeeded. ``--keep`` leaves everything running for a look at the UI.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the local PostgreSQL server

from amili_pipelines.emulator.testing import running_emulator  # noqa: E402
from tests.support.postgres import LocalPostgres, free_port  # noqa: E402

BIN = Path(sys.executable).parent
LEASE_S = 20  # a killed run's outbox rows are taken over after this
JOB = "extract_validate_register"
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


def say(message: str) -> None:
    print(f"[prod-check] {message}", flush=True)


class Stack:
    """The three Dagster processes of the production profile, each its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *cmd: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL: {body['errors']}")
    return body["data"]


def wait_for_webserver(url: str, stack: Stack, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"
    while time.monotonic() < deadline:
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited early; see {stack.logs / (name + '.log')}")
        try:
            entries = graphql(url, query)["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation":
                return
        except (httpx.HTTPError, RuntimeError, KeyError, TypeError):
            pass
        time.sleep(1)
    raise TimeoutError("the webserver did not load the code location in time")


def launch(url: str, *, day: date | None, assets: list[list[str]] | None, run_config: dict, job: str = JOB) -> str:
    selector: dict = {"repositoryLocationName": "amili_pipelines", "repositoryName": "__repository__", "jobName": job}
    if assets:
        selector["assetSelection"] = [{"path": a} for a in assets]
    tags = [{"key": "dagster/partition", "value": day.isoformat()}] if day else []
    result = graphql(url, LAUNCH, {"params": {"selector": selector, "runConfigData": run_config,
                                              "executionMetadata": {"tags": tags}}})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launch failed: {result}")
    return result["run"]["runId"]


def creditor_runs(settings_env: dict[str, str]) -> list[tuple[str, list[list[str]]]]:
    """(market, the assets one creditor's daily run materializes) for every configured creditor."""
    os.environ.update(settings_env)
    from amili_pipelines.settings import load_creditors

    out = []
    for c in load_creditors(Path(settings_env["AMILI_CREDITORS_FILE"])).creditors:
        register = "amili_se_registrations" if c.market.value == "SE" else "amili_no_registrations"
        out.append((c.market.value, [["extract", s.name] for s in c.sources]
                    + [["validate", "validated_invoices"], ["register", register], ["publish", "analytics_snapshot"]]))
    return out


def wait_for_runs(instance, run_ids: list[str], timeout: float = 900) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {r.run_id: r for r in instance.get_runs() if r.run_id in run_ids}
        if len(runs) == len(run_ids) and all(r.is_finished for r in runs.values()):
            return {i: r.status.value for i, r in runs.items()}
        if time.monotonic() > deadline:
            raise TimeoutError({i: r.status.value for i, r in runs.items()})
        time.sleep(2)


def timing(instance, run_id: str) -> str:
    """How long a finished run waited to start and then ran."""
    record = instance.get_run_record_by_id(run_id)
    if record is None or record.start_time is None or record.end_time is None:
        return "never started"
    return (f"waited {record.start_time - record.create_timestamp.timestamp():.0f} s,"
            f" ran {record.end_time - record.start_time:.0f} s")


def kill_mid_registration(instance, store_url: str, run_ids: list[str], timeout: float = 300) -> str | None:
    """SIGKILL the first run seen holding outbox rows in flight; its id."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(store_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            holders = [r for (r,) in conn.execute(
                "SELECT DISTINCT claimed_by FROM registration_outbox WHERE state = 'in_flight'"
                " AND claimed_by IS NOT NULL").fetchall() if r in run_ids]
            for run_id in holders:
                run = instance.get_run_by_id(run_id)
                pid = int(run.tags.get("amili/pid", 0)) if run else 0  # set by the register step
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    say(f"killed run {run_id} (pid {pid}) while it had invoices in flight")
                    return run_id
            if all(r.is_finished for r in instance.get_runs() if r.run_id in run_ids):
                return None
            time.sleep(0.2)
    return None


def wait_out_lease(store_url: str, run_id: str) -> None:
    """Until the killed run's claims pass their lease (counted from when it claimed them, so most of
    it has usually passed while the other runs finished)."""
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as conn:
        (left,) = conn.execute(
            "SELECT extract(epoch FROM max(lease_until) - (now() AT TIME ZONE 'UTC')) FROM registration_outbox"
            " WHERE claimed_by = %s", [run_id]).fetchone()
    if left is not None and left > 0:
        say(f"waiting {left:.0f} s for the killed run's claims to pass their lease")
        time.sleep(float(left) + 1)


def outcome(emu, store_url: str) -> tuple[int, int]:
    """(duplicates at Amili, valid invoices not settled) after everything has run."""
    from amili_pipelines.warehouse import open_warehouse

    state = emu.admin.state()
    se = Counter(d["invoice_number"] for d in state["se"]["invoice--registrations"])
    no = Counter(d.get("uniqueSourceInvoiceId") for d in state["no"]["invoices"])
    duplicates = sum(n - 1 for n in se.values() if n > 1) + sum(n - 1 for n in no.values() if n > 1)
    with open_warehouse(store_url, read_only=True) as wh:
        accounting = wh.status.accounting()
        several = wh.outbox.invoices_with_several_cases()
    lost = sum(a.valid - a.registered - a.rejected for a in accounting.values())
    return duplicates + len(several), lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running at the end (Ctrl-C stops it)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="amili-prod-check-"))
    home, logs = work / "dagster_home", work / "logs"
    home.mkdir()
    logs.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text(), encoding="utf-8")
    with ExitStack() as cleanup:
        say("starting PostgreSQL")
        pg = cleanup.enter_context(LocalPostgres(work / "pg"))
        dagster_db, store_url = pg.create_database("dagster"), pg.create_database("amili")
        from amili_pipelines.warehouse import open_warehouse

        with open_warehouse(store_url):
            pass  # migrated once here; every run would do it (under a lock) otherwise
        emu = cleanup.enter_context(running_emulator(subprocess=True))
        code_port, web_port = free_port(), free_port()
        env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1",
               "AMILI_DAGSTER_DATABASE_URL": dagster_db.replace("postgresql://", "postgresql+psycopg2://"),
               "AMILI_DATABASE_URL": store_url,
               "AMILI_OUTBOX_LEASE_S": str(LEASE_S), "AMILI_ANALYTICS_PATH": str(work / "amili_analytics.duckdb"),
               "AMILI_DUCKDB_PATH": str(work / "unused.duckdb"), "AMILI_CREDITORS_FILE": str(ROOT / "creditors.yaml"),
               "AMILI_SE_BASE_URL": emu.base_url, "AMILI_NO_BASE_URL": emu.no_base_url,
               "AMILI_NO_AUTH_URL": emu.no_auth_url, "AMILI_SE_API_CODE": "demo-api-code",
               "AMILI_NO_CLIENT_SECRET": "demo-secret", "AMILI_CODE_SERVER_HOST": "127.0.0.1",
               "AMILI_CODE_SERVER_PORT": str(code_port),
               # slow enough that a run is still registering when it is killed; shared by all runs
               "AMILI_SE_REQUESTS_PER_SECOND": "25"}
        done = subprocess.run([BIN / "dagster", "instance", "concurrency", "set", "warehouse_writer", "8"], env=env,
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise RuntimeError(f"dagster instance concurrency set: {done.stderr[-2000:]}")
        stack = Stack(env, logs)
        cleanup.callback(stack.stop_all)
        workspace = str(ROOT / "deploy" / "workspace.yaml")
        stack.start("code-server", str(BIN / "dagster"), "code-server", "start", "-m", "amili_pipelines.definitions",
                    "-h", "127.0.0.1", "-p", str(code_port))
        stack.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", workspace)
        web = f"http://127.0.0.1:{web_port}"
        stack.start("webserver", str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port))
        say(f"code server :{code_port}, daemon, webserver {web} (logs in {logs})")
        wait_for_webserver(web, stack)

        os.environ.update(env)
        import dagster as dg

        instance = cleanup.enter_context(dg.DagsterInstance.get())
        today = date.today()
        days = [today - timedelta(days=2), today - timedelta(days=1), today]
        # in_process: the run worker executes the steps itself (a process per step costs seconds of
        # start-up each on this machine; the kill then takes the whole run down, as a crash would)
        no_wait = {"execution": {"config": {"in_process": {}}},
                   "ops": {"register__amili_no_registrations": {"config": {"wait_for_batches_s": 60}}}}
        se_config = {"execution": {"config": {"in_process": {}}}}
        runs = []
        for day in days:
            for market, assets in creditor_runs(env):
                runs.append(launch(web, day=day, assets=assets, run_config=no_wait if market == "NO" else se_config))
        say(f"launched {len(runs)} daily runs (3 partitions x 2 creditors) at once")
        killed = kill_mid_registration(instance, store_url, runs)
        statuses = wait_for_runs(instance, runs)
        say(f"daily runs: {Counter(statuses.values())}; " + "; ".join(timing(instance, r) for r in runs))

        say("restarting the daemon")
        stack.stop("daemon")
        stack.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", workspace)
        if killed:
            wait_out_lease(store_url, killed)
        say("a last daily run for today settles what the killed run left")
        settle = [launch(web, day=today, assets=None, run_config=no_wait)]
        statuses.update(wait_for_runs(instance, settle))
        say(f"last daily run: {statuses[settle[0]]} ({timing(instance, settle[0])}); the follow-up job")
        follow = [launch(web, day=None, assets=None, run_config=se_config, job="followup_job")]
        statuses.update(wait_for_runs(instance, follow))
        say(f"follow-up job: {statuses[follow[0]]} ({timing(instance, follow[0])})")

        failed = [i for i, s in statuses.items() if s != "SUCCESS"]
        duplicates, lost = outcome(emu, store_url)
        ok = duplicates == 0 and lost == 0 and set(failed) <= {killed} and killed is not None
        print(f"prod-check: runs={len(statuses)} failed={len(failed)} duplicates={duplicates} lost={lost}", flush=True)
        if not ok:
            say(f"NOT OK: killed={killed} failed={failed}; logs in {logs}")
        if args.keep:
            say(f"still running: {web} (Ctrl-C to stop)")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
