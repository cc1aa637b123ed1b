"""The demo closes the loop: the files for the books, the demo ERP importing them, the next run agreeing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from amili_pipelines.demo.erp import import_feedback
from amili_pipelines.headless import RunOutcome, run_daily_job, run_followup_job
from amili_pipelines.settings import Settings, load_creditors

if TYPE_CHECKING:
    from rich.console import Console

UNPAID_AT_SOURCE = "discrepancy_closed_but_source_unpaid"


def _console() -> Console:
    from amili_pipelines.demo import console

    return console


def print_books(outcome: RunOutcome) -> None:
    """Where the files for the creditors' books and the report are, and what is new in them."""
    console = _console()
    erp = outcome.metadata.get("books/erp_feedback_files", {})
    ledger = outcome.metadata.get("books/ledger_files", {})
    workbooks = outcome.metadata.get("books/controller_workbooks", {})
    report = outcome.metadata.get("books/report", {})
    if not erp:
        return
    new_rows = {k.removeprefix("new_"): v for k, v in erp.items() if k.startswith("new_")}
    console.print(f"  ERP feedback files: {erp.get('files_written', 0)} new, {erp.get('files_unchanged', 0)} unchanged"
                  + (f" ({', '.join(f'{k} {v}' for k, v in sorted(new_rows.items()))} rows)" if new_rows else "")
                  + f" in {erp.get('books_dir', '')}/<creditor>/erp")
    booked = {k.removeprefix("booked_"): v for k, v in ledger.items() if k.startswith("booked_")}
    console.print(f"  ledger files (SIE 4 / journal): {ledger.get('files_written', 0)} new"
                  + (f", payouts booked: {', '.join(f'{k} {v}' for k, v in sorted(booked.items()))}" if booked else ""))
    if workbooks.get("files"):
        console.print("  controllers' workbooks: " + ", ".join(Path(f).name for f in str(workbooks["files"]).split("\n")))
    if report.get("latest"):
        console.print(f"  report: [bold]{report['latest']}[/bold] (open it in a browser)")


def close_the_loop(settings: Settings, url: str, followup: RunOutcome, *,
                   instance: dg.DagsterInstance | None = None) -> bool:
    """The demo ERP imports the feedback files; the next extract and follow-up find the books in agreement."""
    console = _console()
    before = followup.metadata.get("reconcile/reconciliation", {}).get(UNPAID_AT_SOURCE, 0)
    console.rule("The demo ERP imports the feedback files")
    creditors = load_creditors(settings.creditors_file)
    imported = import_feedback(creditors, books_dir=Path(settings.books_path),
                               erp_dir=Path(settings.creditors_file).parent)
    if not imported.files:
        console.print("Nothing new to import: the ERP already has every feedback file.")
        return True
    money = ", ".join(f"{amount:,.2f} {cur}".replace(",", " ") for cur, amount in sorted(imported.capital.items()))
    console.print(f"Imported {len(imported.files)} file(s): {imported.payments} payment(s) via Amili ({money} capital); "
                  f"{imported.invoices_paid_in_full} invoice(s) now paid in full, {imported.invoices_reduced} partly, "
                  f"{imported.written_off} written off.")
    console.rule("Next extract and follow-up: the creditors' books and Amili agree")
    daily = run_daily_job(partition=date.today(), wait_for_batches_s=60.0, log_level="WARNING", instance=instance)
    sent = daily.metadata.get("register/amili_se_registrations", {}).get("sent", 0) + \
        daily.metadata.get("register/amili_no_registrations", {}).get("sent", 0)
    state = "[green]succeeded[/green]" if daily.success else "[red]failed[/red]"
    console.print(f"Extract after the import: run {daily.run_id} {state}; sent to Amili: {sent}"
                  + (" (nothing new to register)" if not sent else ""))
    again = run_followup_job(log_level="WARNING", instance=instance)
    recon = again.metadata.get("reconcile/reconciliation", {})
    after = recon.get(UNPAID_AT_SOURCE, 0)
    console.print(str(recon.get("summary", "")).strip("`\n"))
    for check in again.failed_checks:
        console.print(f"[red]failed check:[/red] {check}")
    console.print(f"Cases Amili closed as paid but unpaid in the creditors' books (closed_but_source_unpaid): "
                  f"{before} before the ERP imported its files, [bold]{after}[/bold] after.")
    print_books(again)
    return daily.success and again.success
