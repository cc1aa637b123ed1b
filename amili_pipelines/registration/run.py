"""The use case the register assets, the CLI and tests call: queue a day's valid invoices and send them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date
from typing import Any

import duckdb

from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.batches import settle_waiting_batches
from amili_pipelines.registration.engine import Progress, enqueue_valid_invoices, register_pending
from amili_pipelines.registration.summary import RegistrationSummary
from amili_pipelines.sources.validate import load_valid_invoices


def register_market(
    conn: duckdb.DuckDBPyConnection,
    *,
    creditors: CreditorsFile,
    market: Market,
    client: Any,
    partition_dates: Iterable[date | None] = (None,),
    run_id: str | None = None,
    wait_for_batches_s: float = 0.0,
    no_batch_size: int = 100,
    progress: Progress | None = None,
) -> RegistrationSummary:
    """Queue the valid invoices of the given partitions for ``market`` and register everything pending.

    ``client`` is an unopened AmiliSeClient / AmiliNoClient (an async context manager). Norway's
    batches finish later: with ``wait_for_batches_s`` > 0 this call waits for them (headless runs);
    otherwise the batch-status sensor records their results.
    """
    keys = {c.key for c in creditors.creditors if c.market is market}
    summary = RegistrationSummary()
    for day in partition_dates:
        invoices = [i for i in load_valid_invoices(conn, partition_date=day) if i.creditor in keys]
        summary.add(enqueue_valid_invoices(conn, invoices, creditors=creditors, run_id=run_id))

    async def _send() -> RegistrationSummary:
        async with client as opened:
            kwargs = {"se_client": opened} if market is Market.SE else {"no_client": opened}
            s = await register_pending(conn, creditors=creditors, run_id=run_id, no_batch_size=no_batch_size,
                                       progress=progress, **kwargs)
            if market is Market.NO and wait_for_batches_s > 0:
                outcomes = await settle_waiting_batches(conn, creditors=creditors, no_client=opened,
                                                        timeout_s=wait_for_batches_s, run_id=run_id)
                s.registered += sum(o.registered for o in outcomes)
                s.rejected += sum(o.rejected for o in outcomes)
                s.waiting_for_batch = conn.execute(
                    "SELECT count(*) FROM registration_outbox WHERE market = 'NO' AND state = 'waiting_for_batch'"
                ).fetchone()[0]
            return s

    sent = asyncio.run(_send())
    sent.enqueued_new, sent.requeued_after_fix, sent.already_in_outbox = (
        summary.enqueued_new, summary.requeued_after_fix, summary.already_in_outbox)
    return sent
