"""``amili-pipelines show INVOICE_KEY``: everything known about one invoice, on one screen.

Read-only (never migrates, never blocks a run for longer than a read). Identity numbers are masked
by content in everything printed, request bodies and Amili's answers included; long texts are cut.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.table import Table

from amili_pipelines.cli import EXIT_CONFIG, EXIT_OK, _loud, app
from amili_pipelines.cli.operator import console
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.warehouse.history import InvoiceHistory

_CUT = 160


def _text(value: Any, cut: int = _CUT) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "hour") else value.isoformat()
    text = mask_identity_numbers(" ".join(str(value).split())) or ""
    return text if len(text) <= cut else text[: cut - 1] + "…"


def _section(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str | Callable]], *,
             last: int | None = None, cut: int = _CUT) -> None:
    if not rows:
        console.print(f"[bold]{title}[/bold]: —", highlight=False)
        return
    shown = list(rows)[-last:] if last else list(rows)
    more = f" (last {len(shown)} of {len(rows)})" if len(shown) < len(rows) else ""
    table = Table(title=f"{title}{more}", title_justify="left", title_style="bold", show_edge=False, pad_edge=False,
                  box=None, header_style="dim")
    for name, _ in columns:
        table.add_column(name, overflow="fold")
    for row in shown:
        table.add_row(*(_text(get(row) if callable(get) else row.get(get), cut) for _, get in columns))
    console.print(table)


def _compact_json(text: str | None) -> str | None:
    if not text:
        return text
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False, default=str)
    except ValueError:
        return text


_ANSWER_KEYS = ("status", "cancellation_status", "payment_status", "status_reason_locale", "detail", "errors")


def _action_answer(row: dict[str, Any]) -> str | None:
    """Amili's answer to an action: its status and reasons, not its ids and timestamps."""
    parts = [row["result_status"] or ""]
    if row["last_error"] and row["state"] != "sent":
        parts.append(row["last_error"])
    try:
        doc = json.loads(row["answer"]) if row["answer"] else None
    except ValueError:
        doc = row["answer"]
    if isinstance(doc, dict):
        kept = {k: doc[k] for k in _ANSWER_KEYS if doc.get(k) not in (None, "", [], {})}
        parts.append(json.dumps(kept, ensure_ascii=False, default=str) if kept else "")
    elif doc:
        parts.append(str(doc))
    return " | ".join(p for p in parts if p) or None


def render(h: InvoiceHistory) -> None:
    reg = h.registrations[0] if h.registrations else {}
    newest = h.source_rows[-1] if h.source_rows else {}
    state = reg.get("state") or ("quarantined" if newest and not newest.get("is_valid") else "not queued")
    console.rule(f"{h.invoice_key}  ·  {reg.get('market') or ''}  ·  {state}"
                 + (f"  ·  case {reg['case_id']}" if reg.get("case_id") else ""))
    _section("Source rows", h.source_rows, [
        ("partition", "partition_date"), ("source", "source"), ("file:row", lambda r: f"{r['location']}:{r['row_number']}"),
        ("due", "due_date"), ("open balance", lambda r: f"{r['open_balance']} {r['currency'] or ''}"),
        ("customer", "customer_name"), ("id number", "customer_id_number"),
        ("verdict", lambda r: "valid" if r["is_valid"] else "quarantined")], last=5)
    _section("Validation", h.issues, [("partition", "partition_date"), ("rule", "rule"), ("severity", "severity"),
                                      ("message", "message")], last=8)
    _section("Registration", h.registrations, [
        ("market", "market"), ("state", "state"), ("sends", "attempts"), ("generation", "generation"),
        ("case", "case_id"), ("OCR", "ocr_number"), ("batch", "batch_id"), ("updated", "updated_at"),
        ("Amili's rejection", lambda r: r["last_error"] or _compact_json(r["rejection"]))])
    _section("Request sent (body)", h.requests, [("market", "market"), ("body", lambda r: _compact_json(r["body"]))],
             cut=400)
    _section("Registration history", h.registration_events, [
        ("when", "occurred_at"), ("from", "from_state"), ("to", "to_state"), ("detail", "detail")], last=8)
    if len(h.cases_seen) > 1:
        _section("[red]Cases Amili reported (more than one!)[/red]", h.cases_seen,
                 [("market", "market"), ("case", "case_id"), ("seen", "seen_at")])
    _section("Case", h.cases, [
        ("case", "case_id"), ("stage", "state"), ("status", "status"),
        ("closed", lambda r: f"{r['closed_reason']} {r['closed_at'] or ''}" if r["is_closed"] else "open"),
        ("claimed", "claimed_capital"), ("remaining", "remaining_total"), ("last read", "last_seen_at")])
    _section("Settlements", h.settlements, [
        ("date", "settlement_date"), ("article", "article"), ("principal", "principal_amount"),
        ("interest", "interest_amount"), ("commission", "commission_amount"), ("paid out", "payout_amount"),
        ("payout date", "payout_date")], last=6)
    _section("Actions reported to Amili", h.actions, [
        ("created", "created_at"), ("action", "action"), ("purpose", "purpose"), ("amount", "amount"),
        ("state", "state"), ("Amili's answer", _action_answer)],
        last=6)
    _section("Audit (operator actions)", h.audit, [
        ("when", "requested_at"), ("who", lambda r: f"{r['actor']} ({r['via']})"), ("action", "action"),
        ("why", "reason"), ("outcome", "outcome"), ("Amili's answer", "answer")], last=6)


@app.command()
@_loud
def show(invoice_key: str = typer.Argument(..., help="The invoice key, creditor/number (e.g. demo-se/100001).")) -> int:
    """Everything known about one invoice, on one screen (masked, read-only).

    Source rows, validation, the registration and its history, the request sent and Amili's answers,
    the case, settlements, actions reported to Amili and the operator audit. Exit 0: shown. 2: no such
    invoice (similar keys are suggested).
    """
    from amili_pipelines.settings import Settings
    from amili_pipelines.warehouse import WarehouseMissing, open_warehouse

    settings = Settings()
    try:
        with open_warehouse(settings.duckdb_path, read_only=True) as wh:
            history = wh.history.invoice(invoice_key)
            similar = [] if history.known else wh.history.similar_keys(invoice_key.rsplit("/", 1)[-1])
    except WarehouseMissing as exc:
        console.print(f"[red]No invoice {invoice_key!r}:[/red] {exc}", highlight=False)
        return EXIT_CONFIG
    if not history.known:
        hint = f" Did you mean: {', '.join(similar)}?" if similar else " Keys look like creditor/number (see `status`)."
        console.print(f"[red]No invoice {invoice_key!r} is known.[/red]{hint}", highlight=False)
        return EXIT_CONFIG
    render(history)
    return EXIT_OK
