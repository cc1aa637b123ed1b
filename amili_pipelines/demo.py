"""``make demo``: the whole story on the demo data, headlessly, with a summary a finance person reads."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from amili_pipelines.config import PROJECT_ROOT, Settings
from amili_pipelines.warehouse import connect

console = Console(width=max(Console().width, 110))

EXAMPLE_SQL = (
    "SELECT invoice_key, case_id, ocr_number, registered_at FROM registrations ORDER BY registered_at LIMIT 10;"
)


def accounting(conn, *, partition: date | None = None) -> dict[str, dict[str, int]]:
    """Per market: where every extracted invoice of the newest extraction stands now."""
    rows = conn.execute(
        """
        SELECT l.market,
               count(*) AS extracted,
               count(*) FILTER (WHERE l.is_valid) AS valid,
               count(*) FILTER (WHERE NOT l.is_valid) AS quarantined,
               count(*) FILTER (WHERE o.state = 'registered') AS registered,
               count(*) FILTER (WHERE o.state = 'rejected') AS rejected,
               count(*) FILTER (WHERE o.state = 'waiting_for_batch') AS waiting_for_batch,
               count(*) FILTER (WHERE o.state IN ('pending', 'in_flight', 'unknown_outcome')) AS not_yet_sent,
               count(*) FILTER (WHERE l.is_valid AND o.state IS NULL) AS not_queued
        FROM latest_invoices l
        LEFT JOIN registration_outbox o ON o.market = l.market AND o.invoice_key = l.invoice_key
        GROUP BY l.market ORDER BY l.market
        """
    ).fetchall()
    cols = ["extracted", "valid", "quarantined", "registered", "rejected", "waiting_for_batch", "not_yet_sent",
            "not_queued"]
    return {r[0]: dict(zip(cols, r[1:], strict=True)) for r in rows}


def print_accounting(conn, *, registered_this_run: dict[str, int] | None = None) -> bool:
    """Print the accounting table; True when every invoice is accounted for."""
    acc = accounting(conn)
    table = Table(title="Every demo invoice, accounted for")
    for col in ("market", "extracted", "valid", "quarantined", "registered", "rejected", "waiting", "unsent",
                "new"):
        table.add_column(col, justify="right" if col != "market" else "left")
    ok = True
    for market, a in acc.items():
        settled = a["registered"] + a["rejected"] + a["quarantined"] + a["waiting_for_batch"] + a["not_yet_sent"] + a["not_queued"]
        ok &= settled == a["extracted"] and a["valid"] + a["quarantined"] == a["extracted"]
        table.add_row(market, *(str(a[k]) for k in ("extracted", "valid", "quarantined", "registered", "rejected",
                                                   "waiting_for_batch", "not_yet_sent")),
                      str((registered_this_run or {}).get(market, "-")))
    console.print(table)
    console.print(
        "registered + quarantined + rejected (+ waiting/unsent) = extracted: "
        + ("[green]yes, nothing lost[/green]" if ok else "[red]NO — see the tables above[/red]")
    )
    return ok


def print_run_summary(outcome) -> None:
    settings = Settings()
    console.print(f"Run {outcome.run_id} for partition {outcome.partition}: "
                  + ("[green]succeeded[/green]" if outcome.success else "[red]failed[/red]"))
    for check in outcome.failed_checks:
        console.print(f"[red]failed check:[/red] {check}")
    with connect(settings.duckdb_path) as conn:
        print_accounting(conn)
    _print_where(settings)


def _print_where(settings: Settings) -> None:
    console.print(f"\nOperational DuckDB file: [bold]{settings.duckdb_path}[/bold]")
    console.print(f"Analysts' published copy: [bold]{settings.analytics_path}[/bold]")
    console.print("Case ids of the registered invoices, for example:")
    console.print(f"  {EXAMPLE_SQL}", soft_wrap=True)
    console.print("run it with:", soft_wrap=True)
    console.print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.duckdb_path}', "
                  f"read_only=True).sql('{EXAMPLE_SQL}'))\"", soft_wrap=True)


def print_status() -> None:
    settings = Settings()
    with connect(settings.duckdb_path) as conn:
        print_accounting(conn)
        rows = conn.execute("SELECT market, state, count(*) FROM registration_outbox GROUP BY ALL ORDER BY ALL").fetchall()
    table = Table(title="Registration outbox")
    for col in ("market", "state", "invoices"):
        table.add_column(col)
    for r in rows:
        table.add_row(*map(str, r))
    console.print(table)


def run_demo(*, days: int = 120, fresh: bool = False) -> int:
    """Start the emulator (state kept in data/), run the pipeline, follow up, print summaries. Exit code."""
    from amili_pipelines.emulator.testing import running_emulator
    from amili_pipelines.headless import run_daily_job

    data = PROJECT_ROOT / "data"
    data.mkdir(exist_ok=True)
    state_path = data / "emulator_state.json"
    base = Settings()
    if fresh:
        for p in (state_path, Path(base.duckdb_path), Path(base.analytics_path)):
            p.unlink(missing_ok=True)

    with running_emulator(subprocess=True, state_path=state_path) as emu:
        console.print(f"Amili emulator listening on {emu.base_url} (state: {state_path})")
        os.environ.update({
            "AMILI_SE_BASE_URL": emu.base_url,
            "AMILI_NO_BASE_URL": emu.no_base_url,
            "AMILI_NO_AUTH_URL": emu.no_auth_url,
        })
        settings = Settings()
        before = _registered_by_market(settings)
        today = date.today()
        console.rule(f"Daily run: extract → validate → register (partition {today})")
        outcome = run_daily_job(partition=today, settings=settings)
        _settle_norwegian_batches(settings)
        after = _registered_by_market(settings)
        new = {m: after.get(m, 0) - before.get(m, 0) for m in after}
        console.print(f"Run {outcome.run_id}: " + ("[green]succeeded[/green]" if outcome.success else "[red]failed[/red]"))
        for check in outcome.failed_checks:
            console.print(f"[red]failed check:[/red] {check}")
        with connect(settings.duckdb_path) as conn:
            ok = print_accounting(conn, registered_this_run=new)
        if not any(new.values()):
            console.print("[bold]Nothing new to register[/bold]: every valid invoice was already registered "
                          "in an earlier run (none was sent again).")
        else:
            console.print(f"Registered in this run: {sum(new.values())} "
                          f"({', '.join(f'{m}: {n}' for m, n in new.items())}).")
        _print_where(settings)
        followup_ok = _followup(settings, days=days)
    return 0 if (outcome.success and ok and followup_ok) else 1


def _registered_by_market(settings: Settings) -> dict[str, int]:
    if not Path(settings.duckdb_path).exists():
        return {}
    with connect(settings.duckdb_path) as conn:
        return dict(conn.execute(
            "SELECT market, count(*) FROM registration_outbox WHERE state = 'registered' GROUP BY market"
        ).fetchall())


def _settle_norwegian_batches(settings: Settings) -> None:
    """What the batch-status sensor triggers in Dagster, done inline for the headless demo."""
    import asyncio

    from amili_pipelines.defs.resources import AmiliNoResource
    from amili_pipelines.registration.batches import settle_waiting_batches

    client = AmiliNoResource(
        base_url=settings.no_base_url, auth_url=settings.no_auth_url, client_id=settings.no_client_id,
        client_secret=settings.no_client_secret.get_secret_value(),
    ).client()

    async def _go() -> None:
        async with client as no:
            with connect(settings.duckdb_path) as conn:
                await settle_waiting_batches(conn, creditors=settings.creditors, no_client=no, timeout_s=30)

    asyncio.run(_go())


def _followup(settings: Settings, *, days: int) -> bool:
    try:
        from amili_pipelines.reconciliation.demo import run_followup_cycle
    except ModuleNotFoundError:
        console.print("(reconciliation follow-up not available)")
        return True
    console.rule(f"Follow-up: {days} days pass at Amili; cases, settlements and reconciliation")
    summary = run_followup_cycle(settings=settings, days=days)
    console.print(summary.render())
    return getattr(summary, "ok", True)
