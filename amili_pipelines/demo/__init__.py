"""``make demo``: the whole story on the demo data, through the same Dagster jobs users run.

The emulator runs as its own program (``python -m amili_pipelines.emulator``) and is reached over
HTTP only, as the real Amili would be. A fresh demo starts Amili's clock ``days`` in the past, so
that after the daily job has handed the invoices over and those days have passed at Amili, Amili's
"now" is today: payouts, closings and ageing line up with the pipeline's own dates. The follow-up
job writes the files for the creditors' books; the demo ERP (:mod:`amili_pipelines.demo.erp`)
imports them into its exports under ``data/demo-erp``; the next extract and follow-up then find the
creditors' books and Amili in agreement. The demo prints summaries a finance person reads.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.demo.books import close_the_loop, print_books
from amili_pipelines.demo.erp import prepare_demo_erp
from amili_pipelines.domain.masking import MaskedStream
from amili_pipelines.headless import RunOutcome, run_daily_job, run_followup_job
from amili_pipelines.headless.report import (
    EXIT_ATTENTION,
    EXIT_FAILED,
    EXIT_OK,
    exit_status,
)
from amili_pipelines.settings import PROJECT_ROOT, Settings
from amili_pipelines.warehouse import WarehouseMissing, open_warehouse
from amili_pipelines.warehouse.status import EXAMPLE_QUERY

# What the demo and the CLI print is masked by content, like logs and the published file.
console = Console(width=max(Console().width, 110), file=MaskedStream(lambda: sys.stdout))

# How long the demo's daily run waits for Norway's batches (the emulator finishes them in seconds).
DEMO_BATCH_WAIT_S = 60.0


def print_accounting(settings: Settings, *, registered_this_run: dict[str, int] | None = None) -> bool:
    """Print where every invoice stands; True when every invoice is accounted for."""
    with open_warehouse(settings.warehouse_location, read_only=True) as wh:
        acc = wh.status.accounting()
    table = Table(title="Every invoice, accounted for")
    for col in ("market", "extracted", "valid", "quarantined", "registered", "rejected", "waiting", "unsent",
                "new"):
        table.add_column(col, justify="right" if col != "market" else "left")
    ok = True
    for market, a in acc.items():
        ok &= a.accounted_for
        table.add_row(market, *(str(v) for v in (a.extracted, a.valid, a.quarantined, a.registered, a.rejected,
                                                  a.waiting_for_batch, a.not_yet_sent)),
                      str((registered_this_run or {}).get(market, "-")))
    console.print(table)
    console.print(
        "registered + quarantined + rejected (+ waiting/unsent) = extracted: "
        + ("[green]yes, nothing lost[/green]" if ok else "[red]NO — see the tables above[/red]")
    )
    return ok


def print_where(settings: Settings) -> None:
    if settings.profile == "production":
        from amili_pipelines.warehouse.postgres.connection import describe

        console.print(f"\nOperational store (PostgreSQL): [bold]{describe(settings.warehouse_location)}[/bold]")
        console.print(f"Analysts' published copy: [bold]{settings.analytics_path}[/bold]")
        return
    console.print(f"\nOperational DuckDB file: [bold]{settings.duckdb_path}[/bold]")
    console.print(f"Analysts' published copy: [bold]{settings.analytics_path}[/bold]")
    console.print("Case ids of the registered invoices, for example:")
    console.print(f"  {EXAMPLE_QUERY}", soft_wrap=True)
    console.print("run it with:", soft_wrap=True)
    console.print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.duckdb_path}', "
                  f"read_only=True).sql('{EXAMPLE_QUERY}'))\"", soft_wrap=True)


def print_outcome(outcome: RunOutcome) -> None:
    console.print(f"Run {outcome.run_id} ({outcome.job}"
                  + (f", partition {outcome.partition}" if outcome.partition else "") + "): "
                  + ("[green]succeeded[/green]" if outcome.success else "[red]failed[/red]"))
    for check in outcome.failed_checks:
        console.print(f"[red]failed check:[/red] {check}")


def print_attention(outcome: RunOutcome) -> None:
    """What needs a person after this run, or that nothing does."""
    for run_id in outcome.recovered_runs:
        console.print(f"[yellow]Recovered:[/yellow] run {run_id} had died; its unfinished work was done by this run.")
    lines = needs_attention(outcome.metadata)
    if not lines:
        console.print("[green]Nothing needs a person.[/green]")
        return
    console.print("[bold yellow]Needs a person:[/bold yellow]")
    for line in lines:
        console.print(f"  - {line}", highlight=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def emulator_process(state_path: Path, *, timeout_s: float = 30.0, clock_start: datetime | None = None) -> Iterator[str]:
    """Run the emulator program on a free loopback port (state kept in ``state_path``); its base URL.

    ``clock_start``: where a new emulator state starts its simulated clock (a saved state goes on
    from where it stopped)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_EMULATOR")}
    if clock_start is not None:
        env["AMILI_EMULATOR__CLOCK__START"] = clock_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    log = open(state_path.with_suffix(".log"), "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "amili_pipelines.emulator", "--host", "127.0.0.1", "--port", str(port),
         "--state", str(state_path)], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the emulator exited at start (see {state_path.with_suffix('.log')})")
            try:
                if httpx.get(f"{base}/_emulator/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not answer within {timeout_s:.0f} s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()  # the emulator saves its state on a clean shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _registered_by_market(settings: Settings) -> dict[str, int]:
    try:
        with open_warehouse(settings.warehouse_location, read_only=True) as wh:
            return wh.status.registered_by_market()
    except WarehouseMissing:
        return {}


def _catch_up_emulator_clock(base_url: str) -> tuple[float, str]:
    """Let simulated time pass at the emulator until its clock reads now; (days passed, its clock)."""
    clock = httpx.get(f"{base_url}/_emulator/clock", timeout=30.0).json()
    days = max((datetime.now(UTC).timestamp() - float(clock["timestamp"])) / 86400, 0.0)
    if days < 1 / 24:  # already now (a demo run again the same day): nothing happened at Amili since
        return 0.0, str(clock.get("now", ""))
    response = httpx.post(f"{base_url}/_emulator/clock/advance", json={"days": days}, timeout=300.0)
    response.raise_for_status()
    return days, str(response.json().get("now", ""))


def run_demo(*, days: int = 120, fresh: bool = False) -> int:
    """Start the emulator (state kept in data/), run the pipeline, follow up, close the loop with the
    demo ERP, print summaries. Exit code."""
    data = PROJECT_ROOT / "data"
    data.mkdir(exist_ok=True)
    state_path = data / "emulator_state.json"
    base = Settings()
    if fresh:
        for p in (state_path, Path(base.duckdb_path), Path(base.analytics_path)):
            p.unlink(missing_ok=True)
        for folder in (base.books_path, base.reports_path):
            shutil.rmtree(folder, ignore_errors=True)
    os.environ["AMILI_CREDITORS_FILE"] = str(prepare_demo_erp(data, fresh=fresh))
    new_amili = not state_path.exists()
    start = datetime.now(UTC) - timedelta(days=days) if new_amili else None
    with emulator_process(state_path, clock_start=start) as url:
        console.print(f"Amili emulator listening on {url} (state: {state_path})"
                      + (f"; its clock starts {days} days ago" if start else ""))
        os.environ.update({"AMILI_SE_BASE_URL": url, "AMILI_NO_BASE_URL": f"{url}/collection/v1",
                           "AMILI_NO_AUTH_URL": f"{url}/token"})
        settings = Settings()
        console.print(f"Demo ERP exports: {Path(settings.creditors_file).parent} (seeded from assets/demo)")
        before = _registered_by_market(settings)
        today = date.today()
        console.rule(f"Daily run: extract → validate → register (partition {today})")
        outcome = run_daily_job(partition=today, wait_for_batches_s=DEMO_BATCH_WAIT_S, log_level="WARNING")
        after = _registered_by_market(settings)
        new = {m: after.get(m, 0) - before.get(m, 0) for m in after}
        print_outcome(outcome)
        ok = print_accounting(settings, registered_this_run=new)
        print_attention(outcome)
        if not any(new.values()):
            console.print("[bold]Nothing new to register[/bold]: every valid invoice was already registered "
                          "in an earlier run (none was sent again).")
        else:
            console.print(f"Registered in this run: {sum(new.values())} "
                          f"({', '.join(f'{m}: {n}' for m, n in new.items())}).")
        print_where(settings)
        followup = _followup(url)
        loop_ok = close_the_loop(settings, url, followup) if followup.success else False
    if not (outcome.success and ok and followup.success and loop_ok):
        return EXIT_FAILED
    return exit_status(outcome)


def _followup(url: str) -> RunOutcome:
    passed, now = _catch_up_emulator_clock(url)
    console.rule(f"Follow-up: {passed:.0f} days pass at Amili; cases, settlements, reconciliation, books"
                 if passed else "Follow-up: cases, settlements, reconciliation, books")
    if now:
        console.print(f"Emulator clock: {now}")
    outcome = run_followup_job(log_level="WARNING")
    reported = outcome.metadata.get("reconcile/case_actions", {})
    if outcome.success and (reported.get("sent") or reported.get("waiting_for_batch")):
        # What was reported back changes the cases at Amili: the next follow-up reads Amili's answer.
        outcome = run_followup_job(log_level="WARNING")
    print_outcome(outcome)
    cases = outcome.metadata.get("reconcile/amili_cases", {})
    money = outcome.metadata.get("reconcile/settlement_lines", {})
    acts = outcome.metadata.get("reconcile/case_actions", {})
    if cases:
        console.print(f"  cases read: SE {cases.get('se_cases_seen', 0)}, NO {cases.get('no_cases_seen', 0)}")
    if money:
        console.print(f"  money lines: {money.get('lines_total', 0)} stored, SE payouts {money.get('se_payouts_seen', 0)}")
    if acts:
        console.print(f"  reported back to Amili: {acts.get('sent', 0)} sent, {acts.get('waiting_for_batch', 0)} "
                      f"waiting, {acts.get('rejected', 0)} rejected")
    summary = outcome.metadata.get("reconcile/reconciliation", {}).get("summary", "")
    console.print(str(summary).strip("`\n"))
    print_books(outcome)
    return outcome


def print_status(settings: Settings) -> int:
    """``amili-pipelines status``: where every invoice stands and the outbox by state (read-only)."""
    try:
        ok = print_accounting(settings)
        with open_warehouse(settings.warehouse_location, read_only=True) as wh:
            rows = wh.status.outbox_by_state()
    except WarehouseMissing as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        return EXIT_OK
    table = Table(title="Registration outbox")
    for col in ("market", "state", "invoices"):
        table.add_column(col)
    for r in rows:
        table.add_row(*map(str, r))
    console.print(table)
    rejected = sum(n for _, state, n in rows if state == "rejected")
    if rejected:
        console.print(f"{rejected} invoice(s) rejected by Amili: `amili-pipelines retry --all --dry-run` lists them, "
                      "`amili-pipelines show KEY` tells why, `retry KEY --reason ...` sends one again.")
    open_rows = sum(n for _, state, n in rows if state in ("pending", "in_flight", "unknown_outcome",
                                                            "waiting_for_batch"))
    if open_rows:
        console.print(f"[yellow]{open_rows} invoice(s) not yet settled with Amili[/yellow]: "
                      "`amili-pipelines run` sends, looks up and records them.")
    return EXIT_OK if ok and not open_rows else EXIT_ATTENTION
