"""Operators' commands on single invoices: ``retry``, ``withdraw``, ``pause``, ``resume`` (and ``show``).

Each acts through the use cases the Dagster jobs of ``defs/operate/operator_jobs.py`` call, as the
OS user running the command, and leaves an audit entry per invoice (``show`` lists them). Exit 0:
done at Amili (or a dry run); 3: finished, but something needs a person (rejected again, unclear,
waiting for a batch, Amili unreachable); 2: the command cannot be carried out as given.
"""

from __future__ import annotations

import getpass
import os
import sys

import typer
from rich.console import Console
from rich.table import Table

from amili_pipelines.cli import EXIT_ATTENTION, EXIT_OK, _loud, app, parse_day
from amili_pipelines.domain.masking import MaskedStream

console = Console(width=max(Console().width, 120), file=MaskedStream(lambda: sys.stdout))


def os_user() -> str:
    """Who runs this command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def _clients(settings):  # noqa: ANN001, ANN202 - Settings -> {Market: unopened client}
    from amili_pipelines.domain.invoice import Market

    return {Market.SE: settings.se_connection().client(), Market.NO: settings.no_connection().client()}


@app.command()
@_loud
def retry(
    invoice_keys: list[str] = typer.Argument(None, help="Invoice keys (creditor/number), as `show` and `status` name them."),
    creditor: str = typer.Option(None, help="Only this creditor's invoices."),
    message: str = typer.Option(None, help="Only invoices whose Amili answer contains this (a code, field or text)."),
    from_day: str = typer.Option(None, "--from", help="Only answers recorded on or after this day (YYYY-MM-DD)."),
    to_day: str = typer.Option(None, "--to", help="Only answers recorded on or before this day (YYYY-MM-DD)."),
    all_: bool = typer.Option(False, "--all", help="Every rejected or unclear invoice (nothing narrower given; "
                              "never one waiting for a Norwegian batch: name those by key)."),
    reason: str = typer.Option(None, help="Why (required unless --dry-run): kept in the audit."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be sent, looked up or checked; change nothing."),
    wait_for_batches: float = typer.Option(60.0, help="Seconds to wait for Norway's batches to answer."),
) -> int:
    """Send rejected registrations again; settle unclear ones by a lookup at Amili first (never blindly).

    Select by invoice key, creditor, a part of Amili's answer or the day it was recorded, or --all.
    A Norwegian invoice a finished batch left unplaced (the run said "check the batch at Amili") is
    retried only when named by its key, after you checked the batch: the batch is fetched again
    first, and the invoice is sent again only if the batch has finished without it.
    """
    from amili_pipelines.domain.operator import Actor, RetrySelection
    from amili_pipelines.registration.retry import plan_retry, retry_registrations
    from amili_pipelines.settings import Settings
    from amili_pipelines.warehouse import open_warehouse

    settings = Settings()
    selection = RetrySelection(invoice_keys=tuple(invoice_keys or ()), creditor=creditor, message=message,
                               answered_from=parse_day(from_day, "--from"), answered_until=parse_day(to_day, "--to"),
                               everything=all_)
    if dry_run:
        with open_warehouse(settings.duckdb_path, read_only=True) as wh:
            result = plan_retry(wh, selection, creditors=settings.creditors)
    else:
        with open_warehouse(settings.duckdb_path, on_wait=console.print) as wh:
            result = retry_registrations(
                wh, selection=selection, actor=Actor(os_user(), "cli"), reason=reason, creditors=settings.creditors,
                clients=_clients(settings), wait_for_batches_s=wait_for_batches, progress=console.print)
    for key, why in result.skipped:
        console.print(f"[yellow]{key}[/yellow]: {why}", highlight=False)
    if not result.items:
        console.print(f"Nothing to retry ({result.selection}).")
        return EXIT_OK
    table = Table(title=("Would retry" if result.dry_run else "Retried") + f": {result.selection}")
    for col in ("invoice", "market", "was", "sends", "plan" if result.dry_run else "now", "Amili's answer"):
        table.add_column(col, overflow="fold")
    for i in result.items:
        answer = i.answer_before if result.dry_run else i.answer_after
        table.add_row(i.invoice_key, i.market, i.state_before, str(i.attempts),
                      i.plan if result.dry_run else (i.state_after or ""), answer or "")
    console.print(table)
    if result.dry_run:
        console.print(f"Dry run: nothing sent. {len(result.items)} invoice(s) would be retried.")
        return EXIT_OK
    open_items = result.open_items
    if open_items:
        console.print(f"[yellow]{len(open_items)} invoice(s) not registered yet[/yellow]: rejected again (see Amili's "
                      "answer), unclear (the next run looks them up) or waiting for a Norwegian batch (the batch "
                      "sensor records it; one whose old batch has not finished was not sent: retry it later).")
        return EXIT_ATTENTION
    return EXIT_OK


def _case_command(command_name: str, invoice_keys: list[str], reason: str | None) -> int:
    from amili_pipelines.domain.operator import Actor, OperatorAction
    from amili_pipelines.reconciliation.case_commands import command_cases
    from amili_pipelines.settings import Settings
    from amili_pipelines.warehouse import open_warehouse

    settings = Settings()
    with open_warehouse(settings.duckdb_path, on_wait=console.print) as wh:
        result = command_cases(wh, command=OperatorAction(command_name), invoice_keys=invoice_keys,
                               actor=Actor(os_user(), "cli"), reason=reason or "", creditors=settings.creditors,
                               clients=_clients(settings))
    table = Table(title=f"{command_name}: {len(result.items)} invoice(s)")
    for col in ("invoice", "market", "case", "outcome", "Amili's answer"):
        table.add_column(col, overflow="fold")
    for i in result.items:
        table.add_row(i.invoice_key, i.market, i.case_id, i.outcome, i.answer or "")
    console.print(table)
    if result.open_items:
        console.print(f"[yellow]{len(result.open_items)} not done at Amili[/yellow]: refused (see the answer), unclear "
                      "(looked up before anything is sent again) or not sent (Amili unreachable): run the command "
                      "again or the follow-up job.")
        return EXIT_ATTENTION
    return EXIT_OK


@app.command()
@_loud
def withdraw(
    invoice_keys: list[str] = typer.Argument(..., help="Invoice keys whose cases to withdraw."),
    reason: str = typer.Option(None, help="Why (required): kept in the audit."),
) -> int:
    """Withdraw registered invoices' cases from collection (Sweden: creditor cancellation; Norway: WithdrawCase)."""
    return _case_command("withdraw", invoice_keys, reason)


@app.command()
@_loud
def pause(
    invoice_keys: list[str] = typer.Argument(..., help="Invoice keys whose Norwegian cases to pause."),
    reason: str = typer.Option(None, help="Why (required): kept in the audit."),
) -> int:
    """Pause collection of Norwegian cases (Amili Sweden's API has no pause)."""
    return _case_command("pause", invoice_keys, reason)


@app.command()
@_loud
def resume(
    invoice_keys: list[str] = typer.Argument(..., help="Invoice keys whose paused Norwegian cases to resume."),
    reason: str = typer.Option(None, help="Why (required): kept in the audit."),
) -> int:
    """Resume collection of paused Norwegian cases."""
    return _case_command("resume", invoice_keys, reason)


# `show` lives with its rendering.
from amili_pipelines.cli import show as _show  # noqa: E402, F401
