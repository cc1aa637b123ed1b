"""Norway: record the outcome of finished batches (the run the batch-status sensor starts).

Invoice batches are the registration engine's (``registration.batches.record_batch_results``):
case ids for accepted invoices, Amili's reasons for refused ones. Payment and correction batches
are ours (``case_actions_outbox``). Besides the batches the sensor names, every batch the
warehouse still waits for is checked too, so a failed run is healed by the next one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from amili_pipelines.config import CreditorsFile
from amili_pipelines.reconciliation.actions import confirm_norway_action_batches

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient


@dataclass
class BatchResultsSummary:
    batches_checked: int = 0
    batches_finished: int = 0
    invoices_registered: int = 0
    invoices_rejected: int = 0
    unmatched_items: int = 0
    still_running: int = 0
    action_batches_sent: int = 0
    action_batches_rejected: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "statuses"}
        out["batches"] = ", ".join(f"{k[:8]}…={v}" for k, v in sorted(self.statuses.items()))[:2000]
        return out


async def record_finished_batches(
    conn: duckdb.DuckDBPyConnection,
    *,
    no_client: AmiliNoClient,
    creditors: CreditorsFile,
    batches: Sequence[tuple[str, str]] = (),
    run_id: str | None = None,
) -> BatchResultsSummary:
    """Record results of the given (organization id, batch id)s and of every batch still awaited."""
    from amili_pipelines.registration.batches import record_batch_results, waiting_batches

    started = time.perf_counter()
    s = BatchResultsSummary()
    todo: dict[str, str] = {}
    org_of = {c.key: c.organization_id for c in creditors.creditors if c.organization_id}
    for creditor_key, batch_id in waiting_batches(conn):
        if creditor_key in org_of:
            todo[batch_id] = org_of[creditor_key]
    invoice_batches = set(todo)
    known = {
        r[0] for r in conn.execute(
            "SELECT DISTINCT batch_id FROM registration_outbox WHERE market = 'NO' AND batch_id IS NOT NULL"
        ).fetchall()
    }
    for org, batch_id in batches:
        if batch_id in known:
            todo.setdefault(batch_id, org)
            invoice_batches.add(batch_id)
    for batch_id, org in sorted(todo.items()):
        outcome = await record_batch_results(conn, no_client=no_client, organization_id=org, batch_id=batch_id,
                                             run_id=run_id)
        s.batches_checked += 1
        s.statuses[batch_id] = outcome.status
        if outcome.finished:
            s.batches_finished += 1
        else:
            s.still_running += 1
        s.invoices_registered += outcome.registered
        s.invoices_rejected += outcome.rejected
        s.unmatched_items += outcome.unmatched
    acts = await confirm_norway_action_batches(conn, no_client, creditors)
    s.action_batches_sent, s.action_batches_rejected = acts.sent, acts.rejected
    s.seconds = round(time.perf_counter() - started, 3)
    return s
