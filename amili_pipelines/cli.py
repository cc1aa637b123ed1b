"""The ``amili-pipelines`` command: the emulator, headless runs, the demo and onboarding checks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

app = typer.Typer(help="Hand unpaid invoices to Amili and reconcile what became of them.", no_args_is_help=True)


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
def run(
    partition: str = typer.Option(None, help="Partition day (YYYY-MM-DD); default today."),
    wait_for_batches: float = typer.Option(120.0, help="Seconds to wait for Norway's batches to finish."),
) -> None:
    """Run the daily job (extract, validate, register, publish) headlessly, as the schedule would."""
    from amili_pipelines.demo import print_accounting, print_outcome, print_where
    from amili_pipelines.headless import run_daily_job
    from amili_pipelines.settings import Settings

    day = date.fromisoformat(partition) if partition else date.today()
    outcome = run_daily_job(partition=day, wait_for_batches_s=wait_for_batches)
    settings = Settings()
    print_outcome(outcome)
    print_accounting(settings)
    print_where(settings)
    raise typer.Exit(0 if outcome.success else 1)


@app.command()
def demo(
    days: int = typer.Option(120, help="Days of simulated time to let pass after registration."),
    fresh: bool = typer.Option(False, help="Start from an empty DuckDB file and emulator state."),
) -> None:
    """Start the emulator, run the whole pipeline on the demo data, print a summary, stop the emulator."""
    from amili_pipelines.demo import run_demo

    raise typer.Exit(run_demo(days=days, fresh=fresh))


@app.command()
def validate(
    target: str = typer.Argument(..., help="A configured source name, or a file to check."),
    creditor: str = typer.Option(None, help="Creditor key (needed for a file when several are configured)."),
    as_of: str = typer.Option(None, help="Judge 'overdue' as of this day (YYYY-MM-DD); default today."),
    rows: int = typer.Option(10, help="How many offending rows to show."),
    creditors_file: Path = typer.Option(None, help="Creditors file; default AMILI_CREDITORS_FILE or ./creditors.yaml."),
) -> None:
    """Dry-run a source or export: report what would be quarantined, touching neither Amili nor DuckDB."""
    from amili_pipelines.settings import Settings, load_creditors
    from amili_pipelines.sources.dry_run import dry_run_command

    code = dry_run_command(
        target, creditors=load_creditors(creditors_file or Settings().creditors_file), creditor=creditor,
        as_of=date.fromisoformat(as_of) if as_of else None, max_rows_shown=rows,
    )
    raise typer.Exit(code)


@app.command()
def status() -> None:
    """Show where every invoice stands: extracted, quarantined, in the outbox by state (read-only)."""
    from amili_pipelines.demo import print_status
    from amili_pipelines.settings import Settings

    raise typer.Exit(print_status(Settings()))


if __name__ == "__main__":  # pragma: no cover
    app()
