"""The use case the register assets, the CLI and tests call: queue a day's valid invoices and send them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date
from typing import Any

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.batches import settle_waiting_batches
from amili_pipelines.registration.engine import (
    Progress,
    enqueue_valid_invoices,
    register_pending,
)
from amili_pipelines.registration.summary import RegistrationSummary
from amili_pipelines.warehouse import Warehouse

# Valid invoices read, turned into outbox rows and queued at a time. With DuckDB's 512 MB cache this
# is most of a big partition's peak: 10,000 held ~420 MB at 1M invoices, 5,000 ~310 MB.
ENQUEUE_PAGE = 5_000


def register_market(
    warehouse: Warehouse,
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
    keys = {c.key for c in creditors.in_market(market)}
    summary = RegistrationSummary()
    for day in partition_dates:
        # Page by page, so a partition of any size is queued in bounded memory.
        day_summary = RegistrationSummary()
        after: str | None = None
        while invoices := warehouse.invoices.valid_invoices(partition_date=day, creditors=keys, after_key=after,
                                                            limit=ENQUEUE_PAGE):
            day_summary.add(enqueue_valid_invoices(warehouse, invoices, creditors=creditors, run_id=run_id))
            after = invoices[-1].invoice_key
        summary.add(day_summary)
        summary.queued_by_day[day] = day_summary.queued()

    async def _send() -> RegistrationSummary:
        async with client as opened:
            rate = opened.requests_per_second
            # Other runs may be sending to the same market right now (production profile).
            opened.share_rate_limit(lambda n: warehouse.rate_limits.reserve(
                f"amili-{market.value}", tokens=n, per_second=rate, burst=max(1.0, rate)))
            kwargs = {"se_client": opened} if market is Market.SE else {"no_client": opened}
            s = await register_pending(warehouse, creditors=creditors, run_id=run_id, no_batch_size=no_batch_size,
                                       progress=progress, **kwargs)
            if market is Market.NO and wait_for_batches_s > 0:
                settled = await settle_waiting_batches(warehouse, creditors=creditors, no_client=opened,
                                                       timeout_s=wait_for_batches_s, run_id=run_id, progress=progress)
                s.registered += settled.invoices_registered
                s.rejected += settled.invoices_rejected
                s.waiting_for_batch = warehouse.outbox.state_counts(market=Market.NO)["waiting_for_batch"]
                s.waited_for_batches_s = wait_for_batches_s
                s.unplaced_in_batches = settled.unplaced_in_batches
            return s

    sent = asyncio.run(_send())
    sent.enqueued_new, sent.requeued_after_fix, sent.already_in_outbox = (
        summary.enqueued_new, summary.requeued_after_fix, summary.already_in_outbox)
    sent.queued_by_day = summary.queued_by_day
    return sent
