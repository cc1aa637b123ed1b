"""The registration engine: move every outbox row to a final state, exactly once, at speed.

Order of work in every run, per market:
1. resolve rows left unclear by an earlier run (in_flight after a crash, unknown_outcome) by
   looking them up at Amili: nothing is sent again before we know it is not there;
2. send pending rows in chunks (Sweden: concurrent single requests under the client's rate
   limit; Norway: batches with a deterministic IdempotencyKey), writing the intent first;
3. resolve this run's unclear outcomes the same way, and send what Amili did not get, for a
   bounded number of rounds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market, SourceInvoice, idempotency_key
from amili_pipelines.domain.outbox import UNRESOLVED, OutboxEntry, OutboxState, Outcome
from amili_pipelines.registration.norway import NorwayRoute, batch_key
from amili_pipelines.registration.routes import Route, SwedenRoute, registration_payload
from amili_pipelines.registration.summary import RegistrationSummary
from amili_pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def enqueue_valid_invoices(
    warehouse: Warehouse, invoices: Sequence[SourceInvoice], *, creditors: CreditorsFile,
    run_id: str | None = None,
) -> RegistrationSummary:
    """Put valid invoices in the outbox (idempotent: already-known invoices are left alone)."""
    entries = []
    for inv in invoices:
        creditor = creditors.creditor(inv.creditor)
        assert inv.invoice_number, "only valid invoices (which have a number) are registered"
        entries.append(OutboxEntry(
            market=creditor.market,
            invoice_key=inv.invoice_key,
            creditor=creditor.key,
            invoice_number=inv.invoice_number,
            idempotency_key=idempotency_key(creditor.key, inv.invoice_number, creditor.market),
            content_hash=inv.content_hash,
            payload=registration_payload(inv, creditor),
            claimed_amount=inv.open_balance if inv.open_balance is not None else inv.total_amount,
            currency=inv.currency,
        ))
    counts = warehouse.outbox.enqueue(entries, run_id=run_id)
    return RegistrationSummary(enqueued_new=counts["new"], requeued_after_fix=counts["requeued"],
                               already_in_outbox=counts["already"])


@dataclass
class _Tally:
    summary: RegistrationSummary = field(default_factory=RegistrationSummary)

    def count(self, outcomes: Sequence[Outcome], *, resolving: bool) -> None:
        s = self.summary
        for o in outcomes:
            if resolving:
                if o.state is OutboxState.REGISTERED or o.state is OutboxState.WAITING_FOR_BATCH:
                    s.unknown_resolved_registered += 1
                elif o.state is OutboxState.PENDING:
                    s.unknown_resolved_pending += 1
            if o.state is OutboxState.REGISTERED:
                s.registered += 1
            elif o.state is OutboxState.WAITING_FOR_BATCH:
                s.waiting_for_batch += 1
            elif o.state is OutboxState.REJECTED:
                s.rejected += 1
                s.rejections.append((o.invoice_key, o.error or "rejected"))


async def _resolve(warehouse: Warehouse, route: Route, tally: _Tally, *, run_id, chunk_size: int, progress: Progress | None,
                   only: Collection[str] | None = None) -> None:
    while True:
        # In flight under another live run's claim is not unclear: that run is sending it now.
        rows = warehouse.outbox.claim(UNRESOLVED, market=route.market, run_id=run_id, limit=chunk_size,
                                      invoice_keys=only)
        if not rows:
            return
        if progress:
            progress(f"{route.market}: looking up {len(rows)} invoice(s) with an unclear outcome at Amili")
        outcomes = await route.lookup(rows)
        warehouse.outbox.record_outcomes(outcomes, run_id=run_id)
        tally.count(outcomes, resolving=True)
        if all(o.state in UNRESOLVED for o in outcomes) or route.unavailable:
            return  # Amili cannot answer now; leave them unclear rather than loop


def _stop_if_unavailable(route: Route, tally: _Tally, progress: Progress | None) -> bool:
    """Amili keeps failing: stop sending this run; what is left stays pending for the next one."""
    if not route.unavailable:
        return False
    tally.summary.amili_unreachable = True
    if progress:
        progress(f"{route.market}: Amili does not answer (circuit open): stopped sending; the rest stays pending")
    return True


# How often one run sends the same invoice when Amili did not get it (lookups said so); the rest
# waits, pending, for the next run instead of looping while Amili fails.
MAX_SENDS_PER_RUN = 3


async def _send_sweden(warehouse: Warehouse, route: SwedenRoute, tally: _Tally, *, run_id, chunk_size, progress,
                       only: Collection[str] | None = None) -> None:
    started = utcnow()
    while True:
        rows = warehouse.outbox.claim([OutboxState.PENDING], market=Market.SE, run_id=run_id, limit=chunk_size,
                                      sent_since=started, max_sends=MAX_SENDS_PER_RUN, invoice_keys=only)
        if not rows:
            return
        warehouse.outbox.mark_in_flight(rows, run_id=run_id)
        outcomes = await route.send(rows)
        warehouse.outbox.record_outcomes(outcomes, run_id=run_id)
        tally.summary.sent += len(rows)
        tally.count(outcomes, resolving=False)
        if progress:
            done = sum(o.state is OutboxState.REGISTERED for o in outcomes)
            progress(f"SE: sent {len(rows)}, registered {done}, total sent this run {tally.summary.sent}")
        if _stop_if_unavailable(route, tally, progress):
            return
        await _resolve(warehouse, route, tally, run_id=run_id, chunk_size=chunk_size, progress=progress, only=only)


async def _send_norway(warehouse: Warehouse, route: NorwayRoute, tally: _Tally, *, run_id, batch_size, progress,
                       only: Collection[str] | None = None) -> None:
    started = utcnow()
    while True:
        rows = warehouse.outbox.claim([OutboxState.PENDING], market=Market.NO, run_id=run_id, limit=batch_size * 10,
                                      sent_since=started, max_sends=MAX_SENDS_PER_RUN, invoice_keys=only)
        if not rows:
            return
        by_creditor: dict[str, list] = {}
        for r in rows:
            by_creditor.setdefault(r.creditor, []).append(r)
        for group in by_creditor.values():
            for i in range(0, len(group), batch_size):
                batch = group[i:i + batch_size]
                key = batch_key(batch)
                warehouse.outbox.mark_in_flight(batch, run_id=run_id, batch_key=key)
                batch = [replace(r, batch_key=key) for r in batch]
                outcomes = await route.send(batch)
                warehouse.outbox.record_outcomes(outcomes, run_id=run_id)
                tally.summary.sent += len(batch)
                tally.summary.batches_submitted += 1
                tally.count(outcomes, resolving=False)
                if progress:
                    progress(f"NO: submitted batch of {len(batch)} ({key[:16]}…)")
                if _stop_if_unavailable(route, tally, progress):
                    return
        await _resolve(warehouse, route, tally, run_id=run_id, chunk_size=batch_size * 10, progress=progress, only=only)


async def register_pending(
    warehouse: Warehouse,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
    run_id: str | None = None,
    chunk_size: int = 250,
    no_batch_size: int = 100,
    progress: Progress | None = None,
    only: Collection[str] | None = None,
) -> RegistrationSummary:
    """Drive every outbox row of the given markets as far as it can go in this run (with ``only``:
    just those invoice keys, as an operator's retry asks).

    Rows are claimed for this run before they are touched, so runs in parallel (the production
    store) share the work and never send one invoice twice."""
    started = time.perf_counter()
    tally = _Tally()
    run_id = run_id or f"local-{uuid.uuid4()}"
    try:
        await _drive(warehouse, tally, creditors=creditors, se_client=se_client, no_client=no_client, run_id=run_id,
                     chunk_size=chunk_size, no_batch_size=no_batch_size, progress=progress, only=only)
    finally:
        # Rows claimed but not sent (Amili stopped answering) are free for the next run at once.
        warehouse.outbox.release_claims(run_id=run_id)
    s = tally.summary
    s.seconds = time.perf_counter() - started
    markets = [m for m, c in ((Market.SE, se_client), (Market.NO, no_client)) if c is not None]
    for market in markets:
        counts = warehouse.outbox.state_counts(market=market, unclaimed=True)
        s.still_unknown += counts["unknown_outcome"] + counts["in_flight"]
        s.still_pending += counts["pending"]
    for client in (se_client, no_client):
        stats = getattr(client, "stats", None)
        if stats is not None:
            s.http_requests += getattr(stats, "requests_sent", 0)
            s.retries += getattr(stats, "retries", 0)
            s.rate_limited += getattr(stats, "rate_limited", 0)
    return s


async def _drive(warehouse: Warehouse, tally: _Tally, *, creditors: CreditorsFile, se_client, no_client, run_id: str,
                 chunk_size: int, no_batch_size: int, progress: Progress | None,
                 only: Collection[str] | None) -> None:
    if se_client is not None:
        se = SwedenRoute(se_client, creditors)
        await _resolve(warehouse, se, tally, run_id=run_id, chunk_size=chunk_size, progress=progress, only=only)
        if not _stop_if_unavailable(se, tally, progress):
            await _send_sweden(warehouse, se, tally, run_id=run_id, chunk_size=chunk_size, progress=progress, only=only)
    if no_client is not None:
        no = NorwayRoute(no_client, creditors)
        await _resolve(warehouse, no, tally, run_id=run_id, chunk_size=no_batch_size * 10, progress=progress, only=only)
        if not _stop_if_unavailable(no, tally, progress):
            await _send_norway(warehouse, no, tally, run_id=run_id, batch_size=no_batch_size, progress=progress,
                               only=only)
