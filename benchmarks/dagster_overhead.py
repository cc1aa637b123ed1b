"""Dagster's share of a 300-invoice daily run (issue 15, point 5), measured within one run.

Against one emulator (a separate process, no latency, the client's rate limit lifted), each
repetition does the same work twice, each time in a fresh process with a fresh data folder:

* **use cases**: what every asset of the daily job calls, called directly (extract, validate,
  register Sweden and Norway, the two-cases checks, publish, the books files and the report);
* **job**: the daily job (``extract_validate_register``) materialized headlessly through a real
  DagsterInstance (``DAGSTER_HOME``, SQLite, the writer pool), exactly as ``amili-pipelines run``
  and ``make demo`` run it (:func:`amili_pipelines.headless.run_daily_job`).

Both children import the project's use-case modules before their clock starts; the job child's
clock includes importing Dagster and the definitions (``import`` column, part of Dagster's cost
but shown apart). Dagster's share = (job - use cases) / job, import excluded; the table also shows
it with the import. The order of the two phases alternates between repetitions.

    .venv/bin/python benchmarks/dagster_overhead.py [--invoices 300] [--repeat 3]

Ends with ``RESULT dagster_overhead share=<median> job_s=<median> use_cases_s=<median>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = "2026-11-21"
LIFTED_RPS = "1000000"
PHASES = ["use-cases", "job", "use-cases-warm", "job-warm"]  # the client's rate limit lifted: measure the work, not the pacing


def _env(data: Path, creditors: Path, url: str, dagster_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    env.update({
        "DAGSTER_HOME": str(dagster_home), "AMILI_CREDITORS_FILE": str(creditors),
        "AMILI_DUCKDB_PATH": str(data / "amili.duckdb"), "AMILI_ANALYTICS_PATH": str(data / "analytics.duckdb"),
        "AMILI_WEBHOOK_INBOX": str(data / "inbox"),
        "AMILI_SE_BASE_URL": url, "AMILI_NO_BASE_URL": f"{url}/collection/v1", "AMILI_NO_AUTH_URL": f"{url}/token",
        "AMILI_SE_API_CODE": "demo-api-code", "AMILI_NO_CLIENT_SECRET": "demo-secret",
        "AMILI_SE_REQUESTS_PER_SECOND": LIFTED_RPS, "AMILI_NO_REQUESTS_PER_SECOND": LIFTED_RPS,
    })
    return env


# --- the children --------------------------------------------------------------------------------

def _books_use_cases(settings, load_creditors) -> None:
    """The books job's use cases: the warm phases run them once, untimed, before the daily work."""
    from amili_pipelines.books import write_erp_feedback, write_ledger, write_report, write_workbooks
    from amili_pipelines.warehouse import open_warehouse

    creditors = load_creditors(settings.creditors_file)
    with open_warehouse(settings.warehouse_location) as wh:
        write_erp_feedback(wh, creditors=creditors, books_dir=settings.books_path)
        write_ledger(wh, creditors=creditors, books_dir=settings.books_path)
        write_workbooks(wh, creditors=creditors, books_dir=settings.books_path)
        write_report(wh, creditors=creditors, reports_dir=settings.reports_path, books_dir=settings.books_path)


def _use_cases(warm: bool) -> dict:
    """Every use case the daily job's assets call (the same work; books after registration), without Dagster."""
    from datetime import date

    from amili_pipelines.books import write_erp_feedback, write_ledger, write_report, write_workbooks
    from amili_pipelines.domain.invoice import Market
    from amili_pipelines.publish import publish_analytics
    from amili_pipelines.registration.run import register_market
    from amili_pipelines.settings import Settings, load_creditors
    from amili_pipelines.sources.extract import extract_source
    from amili_pipelines.sources.validate import validate_partition
    from amili_pipelines.warehouse import open_warehouse

    if warm:
        _books_use_cases(Settings(), load_creditors)
    t0 = time.perf_counter()
    settings = Settings()
    day = date.fromisoformat(AS_OF)
    phases: dict[str, float] = {}

    def timed(name: str, work):  # each asset body opens the store itself; so do these
        t = time.perf_counter()
        with open_warehouse(settings.warehouse_location) as wh:
            out = work(wh)
        phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
        return out

    creditors = load_creditors(settings.creditors_file)
    for c in creditors.creditors:
        for s in c.sources:
            timed("extract", lambda wh, s=s: extract_source(wh, creditors=load_creditors(settings.creditors_file),
                                                            source_name=s.name, partition_date=day))
    timed("validate", lambda wh: validate_partition(wh, creditors=load_creditors(settings.creditors_file),
                                                    partition_date=day))
    se = timed("register", lambda wh: register_market(
        wh, creditors=load_creditors(settings.creditors_file), market=Market.SE,
        client=settings.se_connection().client(), partition_dates=[day], run_id="bench"))
    timed("register", lambda wh: register_market(
        wh, creditors=load_creditors(settings.creditors_file), market=Market.NO,
        client=settings.no_connection().client(), partition_dates=[day], run_id="bench",
        no_batch_size=settings.no_batch_size))
    for market in (Market.SE, Market.NO):
        timed("checks", lambda wh, m=market: (wh.outbox.invoices_with_several_cases(market=m),
                                              wh.outbox.state_counts(market=m)))
    timed("publish + books", lambda wh: publish_analytics(wh, analytics_path=settings.analytics_path))
    for write in (write_erp_feedback, write_ledger):
        timed("publish + books", lambda wh, w=write: w(wh, creditors=load_creditors(settings.creditors_file),
                                                      books_dir=settings.books_path))
    timed("publish + books", lambda wh: write_workbooks(wh, creditors=load_creditors(settings.creditors_file),
                                                        books_dir=settings.books_path))
    timed("publish + books", lambda wh: write_report(wh, creditors=load_creditors(settings.creditors_file),
                                                     reports_dir=settings.reports_path,
                                                     books_dir=settings.books_path))
    return {"seconds": time.perf_counter() - t0, "import": 0.0, "phases": phases, "registered": se.registered,
            "success": True}


def _job(warm: bool) -> dict:
    """The daily job, headless, as ``amili-pipelines run`` runs it (Dagster imported on the clock).

    ``warm``: as a process that already ran a job does it (the demo's later runs): one instance
    and the definitions reused, set up by the books job first (untimed)."""
    t0 = time.perf_counter()
    from datetime import date

    from amili_pipelines.headless import open_instance, run_books_job, run_daily_job

    imported = time.perf_counter() - t0
    with open_instance() as instance:
        if warm:
            run_books_job(instance=instance, log_level="WARNING")
            t0, imported = time.perf_counter(), 0.0
        outcome = run_daily_job(partition=date.fromisoformat(AS_OF), log_level="WARNING",
                                instance=instance)
        seconds = time.perf_counter() - t0
    se = outcome.metadata.get("register/amili_se_registrations", {})
    return {"seconds": seconds - imported, "import": imported, "phases": {}, "registered": se.get("registered"),
            "success": outcome.success, "failed_checks": outcome.failed_checks}


def _child(phase: str) -> None:
    # What both phases need is imported before either clock starts.
    import amili_pipelines.books  # noqa: F401
    import amili_pipelines.publish  # noqa: F401
    import amili_pipelines.registration.run  # noqa: F401
    import amili_pipelines.sources.extract  # noqa: F401
    import amili_pipelines.sources.validate  # noqa: F401
    import amili_pipelines.warehouse  # noqa: F401

    warm = phase.endswith("-warm")
    out = _use_cases(warm) if phase.startswith("use-cases") else _job(warm)
    print(json.dumps(out))


# --- the parent ----------------------------------------------------------------------------------

def _run_phase(phase: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", phase], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"{phase} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _dagster_home(folder: Path) -> Path:
    """An instance as `make demo` sets it up once (dagster.yaml, the writer pool's limit)."""
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_instance.yaml", home / "dagster.yaml")
    subprocess.run([str(Path(sys.executable).parent / "dagster"), "instance", "concurrency", "set", "duckdb_writer",
                    "1"], env={**os.environ, "DAGSTER_HOME": str(home)}, check=True, capture_output=True)
    return home


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return

    from amili_pipelines.emulator.testing import running_emulator
    from tests.support import synthetic
    from validation_throughput import write_creditors_file  # a sibling script: the same bench creditor

    rows: list[tuple[int, str, dict]] = []
    loads = [_load()]
    with tempfile.TemporaryDirectory() as tmp, running_emulator(subprocess=True) as emu:
        folder = Path(tmp)
        csv_path = folder / f"bench_{args.invoices}.csv"
        synthetic.write_se_csv(csv_path, invoices=args.invoices, seed=1)
        creditors = write_creditors_file(folder, csv_path)
        home = _dagster_home(folder)
        for rep in range(args.repeat):
            order = PHASES if rep % 2 == 0 else PHASES[::-1]
            for phase in order:
                data = folder / f"data-{rep}-{phase}"
                data.mkdir()
                emu.admin.reset()  # the same amount of work at Amili: nothing registered yet
                rows.append((rep, phase, _run_phase(phase, _env(data, creditors, emu.base_url, home))))
            loads.append(_load())

    print(f"{'rep':>3} {'phase':<15}{'seconds':>9}{'import':>8}{'registered':>11}  detail")
    for rep, phase, r in rows:
        detail = ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items()) or (
            "ok" if r["success"] else f"FAILED {r.get('failed_checks')}")
        print(f"{rep:>3} {phase:<15}{r['seconds']:>9.2f}{r['import']:>8.2f}{r['registered']!s:>11}  {detail}")

    def seconds(rep: int, phase: str, *, with_import: bool = False) -> float:
        r = next(r for k, p, r in rows if k == rep and p == phase)
        return r["seconds"] + (r["import"] if with_import else 0.0)

    reps = range(args.repeat)
    shares = {
        "cold": [(seconds(k, "job") - seconds(k, "use-cases")) / seconds(k, "job") for k in reps],
        "cold, Dagster's import included": [
            (seconds(k, "job", with_import=True) - seconds(k, "use-cases")) / seconds(k, "job", with_import=True)
            for k in reps],
        "warm (instance + definitions reused)": [
            (seconds(k, "job-warm") - seconds(k, "use-cases-warm")) / seconds(k, "job-warm") for k in reps],
    }
    print("Dagster's share = (job - use cases) / job, per repetition (median, spread):")
    for name, values in shares.items():
        print(f"  {name:<38}{', '.join(f'{v:.0%}' for v in values)}  (median {statistics.median(values):.0%}, "
              f"{min(values):.0%}-{max(values):.0%})")
    overhead = [seconds(k, "job") - seconds(k, "use-cases") for k in reps]
    overhead_warm = [seconds(k, "job-warm") - seconds(k, "use-cases-warm") for k in reps]
    print(f"  Dagster's seconds per run: cold {statistics.median(overhead):.2f} s, warm "
          f"{statistics.median(overhead_warm):.2f} s (medians)")
    print(f"{args.invoices} invoices per run, emulator without latency, client rate limit lifted; "
          f"load average before/after each repetition: {' | '.join(loads)}; goal of issue 15: <= 30 %")
    med = statistics.median
    print(f"RESULT dagster_overhead share={med(shares['cold']):.3f} job_s={med(seconds(k, 'job') for k in reps):.2f} "
          f"use_cases_s={med(seconds(k, 'use-cases') for k in reps):.2f} "
          f"share_warm={med(shares['warm (instance + definitions reused)']):.3f} "
          f"job_warm_s={med(seconds(k, 'job-warm') for k in reps):.2f} "
          f"use_cases_warm_s={med(seconds(k, 'use-cases-warm') for k in reps):.2f}")


if __name__ == "__main__":
    main()
