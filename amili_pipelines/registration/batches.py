"""Norway: turn a finished batch into per-invoice outcomes (case ids, or Amili's rejections)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration import outbox
from amili_pipelines.registration.outbox import Outcome, OutboxState

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient

TERMINAL_BATCH_STATUSES = frozenset({"SUCCESS", "PARTIAL", "FAILED"})


@dataclass
class BatchOutcome:
    batch_id: str
    status: str
    registered: int = 0
    rejected: int = 0
    unmatched: int = 0  # items Amili reported that we cannot place (should be 0)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_BATCH_STATUSES


async def record_batch_results(
    conn: duckdb.DuckDBPyConnection, *, no_client: AmiliNoClient, organization_id: str, batch_id: str,
    run_id: str | None = None,
) -> BatchOutcome:
    """Fetch one batch; when it has finished, record case ids and rejections for its invoices.

    Safe to call again for the same batch: rows already registered or rejected stay as they are.
    """
    batch = await no_client.get_batch(organization_id=organization_id, batch_id=batch_id)
    result = BatchOutcome(batch_id=batch_id, status=str(batch.status))
    if not result.finished:
        return result
    rows = conn.execute(
        "SELECT invoice_key, invoice_number, state FROM registration_outbox WHERE market = 'NO' AND batch_id = ?"
        " ORDER BY invoice_key",
        [batch_id],
    ).fetchall()
    by_number = {number: key for key, number, _ in rows}
    by_key = {key: key for key, _, _ in rows}
    open_keys = {key for key, _, state in rows if state == OutboxState.WAITING_FOR_BATCH}
    outcomes: list[Outcome] = []
    for item in batch.succeeded or []:
        key = by_number.get(item.invoice_number)
        if key is None:
            result.unmatched += 1
            continue
        if key in open_keys:
            outcomes.append(Outcome(Market.NO, key, OutboxState.REGISTERED, case_id=item.case_id,
                                    amili_invoice_id=item.invoice_id, batch_id=batch_id,
                                    detail=f"batch {batch_id} succeeded"))
            result.registered += 1
    for item in batch.failed or []:
        key = by_key.get(getattr(item, "unique_source_invoice_id", None) or "") or by_number.get(item.invoice_number)
        if key is None and getattr(item, "index", None) is not None and 0 <= item.index < len(rows):
            key = rows[item.index][0]  # submission order is the outbox order (sorted by key)
        if key is None:
            result.unmatched += 1
            continue
        if key in open_keys:
            errors = [e.model_dump(mode="json") if hasattr(e, "model_dump") else e for e in (item.errors or [])]
            message = "; ".join(f"{e.get('field') or ''} {e.get('message') or ''}".strip() for e in errors) or "failed in batch"
            outcomes.append(Outcome(Market.NO, key, OutboxState.REJECTED, rejection=errors, error=message[:500],
                                    batch_id=batch_id, detail=f"batch {batch_id} item failed"))
            result.rejected += 1
    outbox.record_outcomes(conn, outcomes, run_id=run_id)
    return result


def waiting_batches(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(creditor key, batch id) of every batch we still wait for."""
    return conn.execute(
        "SELECT DISTINCT creditor, batch_id FROM registration_outbox"
        " WHERE market = 'NO' AND state = 'waiting_for_batch' AND batch_id IS NOT NULL ORDER BY 1, 2"
    ).fetchall()


async def settle_waiting_batches(
    conn: duckdb.DuckDBPyConnection, *, creditors: CreditorsFile, no_client: AmiliNoClient,
    timeout_s: float = 60.0, poll_s: float = 0.5, run_id: str | None = None,
) -> list[BatchOutcome]:
    """Poll every waiting batch until it finishes or the timeout passes (headless runs and tests;
    in Dagster the batch-status sensor does this without waiting)."""
    deadline = time.monotonic() + timeout_s
    finished: list[BatchOutcome] = []
    while True:
        pending = waiting_batches(conn)
        if not pending:
            return finished
        for creditor_key, batch_id in pending:
            org = creditors.creditor(creditor_key).organization_id
            res = await record_batch_results(conn, no_client=no_client, organization_id=org, batch_id=batch_id,
                                             run_id=run_id)
            if res.finished:
                finished.append(res)
        if not waiting_batches(conn) or time.monotonic() > deadline:
            return finished
        await asyncio.sleep(poll_s)
