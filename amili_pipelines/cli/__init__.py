"""The ``amili-pipelines`` command: the emulator, headless runs, the demo, onboarding checks, the
webhook receiver, and operators' actions on single invoices (``operator.py``, ``show.py``).

Exit status of every command: 0 = all done; 1 = the run failed; 2 = unusable configuration or
arguments (one readable message, no traceback); 3 = finished, but something needs a person.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Hand unpaid invoices to Amili and reconcile what became of them.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_ATTENTION = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a process ended by SIGINT
DEBUG_ENV = "AMILI_DEBUG"  # set (to anything but 0): an unexpected error shows its traceback
_CREDENTIALS_IN_URL = re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+@")


class BadArgument(Exception):
    """An option whose value cannot be used (a day that is not a day): exit 2."""


def parse_day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadArgument(f"{option} {value!r} is not a day (YYYY-MM-DD)") from None


def _one_line(exc: BaseException) -> str:
    """An unexpected error as one line: its type and message, no stack, no password of a URL."""
    text = " ".join(str(exc).split())[:500]
    text = _CREDENTIALS_IN_URL.sub(r"\1:***@", text)
    text = text.rstrip(".!")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _settings_problem(exc: Any) -> str:
    """A pydantic-settings error as the environment variables a person would fix."""
    lines = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err.get("loc", ()))
        # A secret's value is never echoed, not even the part that was wrong.
        secret = any(word in field.lower() for word in ("key", "secret", "password", "token", "credential"))
        found = "" if secret else f" (found {str(err.get('input'))[:40]!r})"
        lines.append(f"  - AMILI_{field.upper()}: {err.get('msg')}{found}")
    return "The environment cannot be used:\n" + "\n".join(lines)


INTERRUPTED = ("Interrupted (Ctrl-C): stopped before the end. Nothing is lost and nothing is sent twice: "
               "run the command again to continue.")


def _loud(command: Callable[..., int]) -> Callable[..., None]:
    """Run a command; turn the errors a person can fix into one message and an exit status."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from pydantic import ValidationError
        from rich.console import Console

        from amili_pipelines.domain.creditors import CreditorsFileError
        from amili_pipelines.domain.masking import MaskedStream, install_log_masking
        from amili_pipelines.domain.operator import OperatorInputError
        from amili_pipelines.warehouse import WarehouseLocked
        from amili_pipelines.webhooks.app import ReceiverMisconfigured

        install_log_masking()
        err = Console(file=MaskedStream(lambda: sys.stderr))
        try:
            code = command(*args, **kwargs)
        except CreditorsFileError as exc:
            err.print(str(exc), style="red", markup=False, highlight=False)
            code = EXIT_CONFIG
        except ValidationError as exc:
            err.print(_settings_problem(exc), style="red", markup=False, highlight=False)
            code = EXIT_CONFIG
        except (OperatorInputError, ReceiverMisconfigured) as exc:
            err.print(f"Not done: {exc}", style="red", markup=False, highlight=False)
            code = EXIT_CONFIG
        except WarehouseLocked as exc:  # another process holds the file, or another run the writer slot
            err.print(f"Not run: {exc}", style="red", markup=False, highlight=False)
            code = EXIT_FAILED
        except BadArgument as exc:
            err.print(f"Not run: {exc}", style="red", markup=False, highlight=False)
            code = EXIT_CONFIG
        except KeyboardInterrupt:
            err.print(INTERRUPTED, style="yellow", markup=False, highlight=False)
            code = EXIT_INTERRUPTED
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV, "0") not in ("", "0"):
                raise
            # A person reads one line that says what and what next; the traceback is for a developer.
            err.print(f"Failed: {_one_line(exc)}. What was done is kept: fix the cause and run the command again "
                      f"({DEBUG_ENV}=1 shows the traceback).", style="red", markup=False, highlight=False)
            code = EXIT_FAILED
        raise typer.Exit(code)

    return wrapper


def _creditors_error_in(exc: BaseException) -> BaseException | None:
    """Dagster wraps errors raised while loading definitions; find a creditors-file error inside."""
    from amili_pipelines.domain.creditors import CreditorsFileError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, CreditorsFileError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@app.command()
def emulator(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep it on loopback)."),
    port: int = typer.Option(8765, help="Port; 0 picks a free one."),
    state: Path | None = typer.Option(None, help="Persist the emulator's state to this JSON file."),
    config: Path | None = typer.Option(None, help="Emulator configuration (YAML/JSON): lifecycle, faults."),
) -> None:
    """Start the Amili emulator (Sweden + Norway + admin endpoints) as a real HTTP server."""
    from amili_pipelines.emulator.server import serve

    serve(host, port, state_path=state, config_path=config)


@app.command()
@_loud
def webhooks(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (a reverse proxy with TLS goes in front)."),
    port: int = typer.Option(8766, help="Port."),
) -> int:
    """Receive Amili Norway's webhooks at POST /webhooks/amili-no into the inbox the sensor reads.

    Needs AMILI_NO_WEBHOOK_SECRET (the secret shared with Amili); the inbox is AMILI_WEBHOOK_INBOX.
    Exit 2 when the secret is missing.
    """
    from amili_pipelines.webhooks.server import serve

    serve(host, port)
    return EXIT_OK


@app.command()
@_loud
def run(
    partition: str = typer.Option(None, help="Partition day (YYYY-MM-DD); default today."),
    wait_for_batches: float = typer.Option(120.0, help="Seconds to wait for Norway's batches to finish."),
) -> int:
    """Run the daily job (extract, validate, register, publish) headlessly, as the schedule and sensors would.

    Exit 0: everything handed over. 3: finished, but something needs a person (the message says
    what). 1: the run failed. 2: configuration or arguments unusable.
    """
    from amili_pipelines.demo import (
        console,
        print_accounting,
        print_attention,
        print_outcome,
        print_where,
    )
    from amili_pipelines.headless import run_daily_job
    from amili_pipelines.headless.report import exit_status
    from amili_pipelines.settings import Settings

    settings = Settings()
    settings.creditors  # noqa: B018 - a broken creditors file is reported before anything runs
    day = parse_day(partition, "--partition") or date.today()
    try:
        outcome = run_daily_job(partition=day, wait_for_batches_s=wait_for_batches, say=console.print)
    except Exception as exc:
        if found := _creditors_error_in(exc):
            raise found from None
        raise
    print_outcome(outcome)
    if (ended := ended_badly(outcome)) is not None:
        return ended
    print_accounting(settings)
    print_attention(outcome)
    print_where(settings)
    return exit_status(outcome)


def ended_badly(outcome: Any) -> int | None:
    """The exit status of a run that was interrupted or failed, after saying so; None when it finished."""
    from amili_pipelines.demo import console

    if outcome.interrupted:
        console.print(f"[yellow]{INTERRUPTED}[/yellow]", highlight=False)
        return EXIT_INTERRUPTED
    if not outcome.success:
        print_failure(outcome)
        return EXIT_FAILED
    return None


def print_failure(outcome: Any) -> None:
    """Why a run failed, one line per failed step, and what happens next (instead of "nothing needs a person")."""
    from rich.markup import escape

    from amili_pipelines.demo import console

    for step, why in outcome.failed_steps.items():
        console.print(f"[red]failed:[/red] {escape(step)}: {escape(why)}", highlight=False)
    console.print("[bold red]The run failed[/bold red]: fix the cause named above and run again; what was done is "
                  "kept, nothing is sent twice.", highlight=False)


@app.command()
@_loud
def demo(
    days: int = typer.Option(120, help="Days of simulated time to let pass after registration."),
    fresh: bool = typer.Option(False, help="Start from an empty DuckDB file and emulator state."),
) -> int:
    """Start the emulator, run the whole pipeline on the demo data, print a summary, stop the emulator."""
    from amili_pipelines.demo import run_demo

    return run_demo(days=days, fresh=fresh)


@app.command()
@_loud
def books(
    day: str = typer.Option(None, help="Business day (YYYY-MM-DD) whose files to write, or to rebuild byte for byte; "
                                       "default today."),
    period: list[str] = typer.Option(None, help="Workbook period, YYYY-MM or YYYY (repeat for several); default the "
                                                "day's month and year."),
) -> int:
    """Write the files for the creditors' books (ERP feedback, SIE / journal), the workbooks and the report.

    The daily and follow-up jobs do this at their end; run it to rebuild a day's files or to make a
    period's workbook. Exit 0: written. 3: written, but something needs a person (a payout held back).
    1: the run failed. 2: a bad day or period.
    """
    from rich.markup import escape

    from amili_pipelines.alerts.attention import needs_attention
    from amili_pipelines.books.workbook import BadPeriod, period_bounds
    from amili_pipelines.demo import console, print_outcome
    from amili_pipelines.demo.books import print_books
    from amili_pipelines.headless import run_books_job
    from amili_pipelines.settings import Settings

    Settings().creditors  # noqa: B018 - a broken creditors file is reported before anything runs
    when = parse_day(day, "--day")
    try:
        for p in period or []:
            period_bounds(p)
    except BadPeriod as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        return EXIT_CONFIG
    outcome = run_books_job(day=when, periods=list(period or []), say=console.print)
    print_outcome(outcome)
    if (ended := ended_badly(outcome)) is not None:
        return ended
    print_books(outcome)
    lines = needs_attention(outcome.metadata)
    for line in lines:
        console.print(f"[yellow]needs a person:[/yellow] {escape(line)}", highlight=False)
    return EXIT_ATTENTION if lines else EXIT_OK


@app.command()
@_loud
def reconcile(
    full: bool = typer.Option(False, "--full", help="Recompute every case, not only those whose facts changed since "
                                                     "the last run (the result is the same; use it after fixing data "
                                                     "by hand)."),
) -> int:
    """Bring the reconciliation and its discrepancies up to date with the stored facts (the follow-up job does this).

    Exit 0: up to date, nothing wrong with money. 3: discrepancies that mean money is wrong (the
    summary names them). 1: the run failed.
    """
    from amili_pipelines.demo import console
    from amili_pipelines.reconciliation.reconcile import reconcile as reconcile_facts
    from amili_pipelines.settings import Settings
    from amili_pipelines.warehouse import open_warehouse

    settings = Settings()
    with open_warehouse(settings.warehouse_location, on_wait=console.print) as wh:
        summary = reconcile_facts(wh, grace_days=settings.creditors.grace_days(), full=full)
    console.print(summary.render(), highlight=False, markup=False)
    return EXIT_ATTENTION if summary.errors else EXIT_OK


@app.command()
@_loud
def validate(
    target: str = typer.Argument(..., help="A configured source name, or a file to check."),
    creditor: str = typer.Option(None, help="Creditor key (needed for a file when several are configured)."),
    as_of: str = typer.Option(None, help="Judge 'overdue' as of this day (YYYY-MM-DD); default today."),
    rows: int = typer.Option(10, help="How many offending rows to show."),
    creditors_file: Path = typer.Option(
        None, help="Creditors file; default AMILI_CREDITORS_FILE or creditors.yaml in the project folder."),
) -> int:
    """Dry-run a source or export: report what would be quarantined, touching neither Amili nor DuckDB.

    Exit 0: nothing to fix. 3: rows would be quarantined or files could not be read (the report
    names file, row, field and rule). 2: the target or the creditors file is unusable.
    """
    from amili_pipelines.settings import Settings, load_creditors
    from amili_pipelines.sources.dry_run import dry_run_command

    return dry_run_command(
        target, creditors=load_creditors(creditors_file or Settings().creditors_file), creditor=creditor,
        as_of=parse_day(as_of, "--as-of"), max_rows_shown=rows,
    )


@app.command()
@_loud
def status() -> int:
    """Show where every invoice stands (read-only; never blocks or migrates the operational file).

    Exit 0: every invoice registered, quarantined or rejected. 3: invoices are pending, unclear or
    waiting for a batch, or the "nothing lost" accounting does not add up. 1: the file is locked by a
    writer for longer than the wait.
    """
    from amili_pipelines.demo import print_status
    from amili_pipelines.settings import Settings

    settings = Settings()
    settings.creditors  # noqa: B018 - a broken creditors file is reported, not half-ignored
    return print_status(settings)


@app.command("move-store")
@_loud
def move_store(
    to: str = typer.Option(..., "--to", help="The empty PostgreSQL database, postgresql://user:password@host/db "
                                              "(or set AMILI_DATABASE_URL and pass --to env)."),
) -> int:
    """Move the embedded installation's DuckDB file (AMILI_DUCKDB_PATH) into PostgreSQL, the production store.

    Every table is copied in one transaction and counted before it commits; the target must be
    empty. Afterwards set AMILI_DATABASE_URL: the next run continues where the last one stopped.
    Exit 0: moved. 1: refused (target not empty, counts differ, file locked); nothing changed.
    """
    from amili_pipelines.demo import console
    from amili_pipelines.settings import Settings
    from amili_pipelines.warehouse.transfer import TransferRefused, transfer_store

    settings = Settings()
    url = settings.warehouse_location if to == "env" else to
    try:
        counts = transfer_store(settings.duckdb_path, url, progress=lambda line: console.print(f"  {line}"))
    except TransferRefused as exc:
        from rich.markup import escape

        console.print(f"[red]Not moved:[/red] {escape(str(exc))}", highlight=False)
        return EXIT_FAILED
    console.print(f"Moved {sum(counts.values())} rows in {len(counts)} tables. Now set AMILI_DATABASE_URL to that "
                  "database for every process (code server, daemon, webserver, runs).")
    return EXIT_OK


# Operators' commands (retry, withdraw, pause, resume, show) register themselves on ``app``.
from amili_pipelines.cli import operator as _operator  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    app()
