"""Norway: invoices travel in batches with a deterministic ``IdempotencyKey``.

Sending. A batch is POSTed with a key derived from its invoices. If Amili refuses the request as a
whole (422, e.g. one item with an unknown enum, reference F.2.9), only the offending items are
rejected, with Amili's own messages: the error paths (``invoices[3].debtors[0].type``) name them;
when they do not, the batch is split in halves until each refusal is pinned on single items. The
rest is sent again at once, each part under a key derived from its own invoices, so a crash in the
middle and the replay after it still create every batch once.

Resolving an unclear batch (a crash during the POST, a timeout), in the order the contract makes
safe: look the batch up by its key; if that is not answered or finds nothing, POST the same
invoices again with the same key (reference F.2.2: a repeated key returns the original batch and
creates nothing new); only if that cannot be done, look each invoice up. An invoice the lookup
does not find stays unclear: a server may hide invoices while their batch is queued, so absence
is proved only by a finished batch that does not contain it (``registration.batches``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from amili_pipelines.amili.errors import (
    AmiliError,
    ApiConflict,
    ApiRejection,
    ApiUnavailable,
    AuthenticationFailed,
    CircuitOpen,
)
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxRow, OutboxState, Outcome
from amili_pipelines.registration.routes import describe, rejection_json, rejection_text

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.no.models import Batch, InvoiceRecord

_ITEM_PATH = re.compile(r"^invoices\[(\d+)\]", re.IGNORECASE)  # ASP.NET writes "Invoices[0].DueDate"
NOT_SENT = "not sent: Amili unreachable"
_SETTLED = (OutboxState.WAITING_FOR_BATCH, OutboxState.REJECTED)


def batch_key(rows: Sequence[OutboxRow]) -> str:
    """Deterministic IdempotencyKey for a batch: the same invoices (of the same generation) always make
    the same key. A rejected invoice queued again is a new generation: under its first key Amili would
    only answer with the old, failed batch."""
    parts = sorted(r.idempotency_key if not r.generation else f"{r.idempotency_key}#{r.generation}" for r in rows)
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"reg-{digest[:40]}"


def _unclear(row: OutboxRow, error: str | None, detail: str, batch_key: str | None = None) -> Outcome:
    """Still unclear: keep looking it up (never pending: it may already be at Amili)."""
    state = row.state if row.state in (OutboxState.IN_FLIGHT, OutboxState.UNKNOWN_OUTCOME) else OutboxState.UNKNOWN_OUTCOME
    return Outcome(row.market, row.invoice_key, state, error=error, detail=detail, batch_key=batch_key)


def offending_items(exc: ApiRejection, count: int) -> dict[int, list[dict]]:
    """Item index -> Amili's issues for it, from a whole-request refusal's error paths."""
    found: dict[int, list[dict]] = {}
    for issue in exc.issues:
        m = _ITEM_PATH.match(issue.field or "")
        if m and int(m.group(1)) < count:
            found.setdefault(int(m.group(1)), []).append(
                {"field": issue.field, "message": issue.message, "code": issue.code})
    return found


class NorwayRoute:
    market = Market.NO

    def __init__(self, client: AmiliNoClient, creditors: CreditorsFile) -> None:
        self.client = client
        self.creditors = creditors

    @property
    def unavailable(self) -> bool:
        return self.client.unavailable

    def _org(self, rows: Sequence[OutboxRow]) -> str:
        org = self.creditors.creditor(rows[0].creditor).organization_id
        assert org, "a Norwegian creditor has an organization id"
        return org

    async def send(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        """Submit one batch (all rows share a creditor). Items become waiting_for_batch."""
        return await self._submit(rows, rows[0].batch_key or batch_key(rows))

    async def _submit(self, rows: Sequence[OutboxRow], key: str) -> list[Outcome]:
        from amili_pipelines.amili.no.models import InvoiceCreate

        try:
            ref = await self.client.submit_invoices(
                organization_id=self._org(rows), invoices=[InvoiceCreate.model_validate(r.payload) for r in rows],
                idempotency_key=key)
        except AuthenticationFailed:
            raise
        except ApiConflict as exc:
            # Not a refusal of the invoices: e.g. this key's request is still being processed. The
            # batch may exist; only the lookup under this same key may settle it, never a resend.
            return [Outcome(r.market, r.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=describe(exc), batch_key=key,
                            detail="conflict at Amili (409); looked up by its IdempotencyKey") for r in rows]
        except ApiRejection as exc:
            return await self._refused(rows, exc)
        except ApiUnavailable as exc:
            # Nothing reached Amili: pending again. Something may have: unclear, resolved by key later.
            state = OutboxState.UNKNOWN_OUTCOME if exc.reached else OutboxState.PENDING
            detail = NOT_SENT if isinstance(exc, CircuitOpen) or not exc.reached else None
            return [Outcome(r.market, r.invoice_key, state, error=describe(exc), batch_key=key, detail=detail)
                    for r in rows]
        except AmiliError as exc:
            return [Outcome(r.market, r.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=describe(exc), batch_key=key)
                    for r in rows]
        return [Outcome(r.market, r.invoice_key, OutboxState.WAITING_FOR_BATCH, batch_id=ref.batch_id, batch_key=key,
                        detail=f"in batch {ref.batch_id}") for r in rows]

    async def _refused(self, rows: Sequence[OutboxRow], exc: ApiRejection) -> list[Outcome]:
        """The whole request was refused: reject only the items it names, send the rest again."""
        if len(rows) == 1:
            return [Outcome(rows[0].market, rows[0].invoice_key, OutboxState.REJECTED, rejection=rejection_json(exc),
                            error=rejection_text(exc), detail="refused by Amili")]
        named = offending_items(exc, len(rows))
        if not named:  # Amili did not say which item: halve until it can be pinned down
            half = len(rows) // 2
            first, second = rows[:half], rows[half:]
            return [*await self._submit(first, batch_key(first)), *await self._submit(second, batch_key(second))]
        outcomes = [
            Outcome(rows[i].market, rows[i].invoice_key, OutboxState.REJECTED, rejection=issues,
                    error="; ".join(f"{x['field']}: {x['message']}" for x in issues)[:500],
                    detail="refused by Amili (its batch was sent again without it)")
            for i, issues in sorted(named.items())
        ]
        rest = [r for i, r in enumerate(rows) if i not in named]
        if rest:
            outcomes += await self._submit(rest, batch_key(rest))
        return outcomes

    async def lookup(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        """Resolve unclear rows, batch by batch: find the batch by its key, else replay it, else look
        each invoice up."""
        by_batch: dict[tuple[str, str | None], list[OutboxRow]] = {}
        for r in rows:
            by_batch.setdefault((r.creditor, r.batch_key), []).append(r)
        outcomes: list[Outcome] = []
        for (_, key), group in by_batch.items():
            outcomes += await self._resolve_batch(group, key)
        return outcomes

    async def _resolve_batch(self, rows: list[OutboxRow], key: str | None) -> list[Outcome]:
        if key is not None:
            try:
                batch = await self._batch_by_key(rows, key)
                if batch is not None:
                    return [Outcome(r.market, r.invoice_key, OutboxState.WAITING_FOR_BATCH, batch_id=batch.batch_id,
                                    detail=f"found batch {batch.batch_id} by its IdempotencyKey") for r in rows]
            except AuthenticationFailed:
                raise
            except CircuitOpen as exc:
                return [_unclear(r, describe(exc), "lookup not sent: Amili unreachable") for r in rows]
            except AmiliError:
                pass  # the lookup is not answered (an older API version): the replay below is just as safe
            replayed = await self._replay(rows, key)
            if replayed is not None:
                return replayed
        return list(await asyncio.gather(*(self._lookup_invoice(r) for r in rows)))

    async def _batch_by_key(self, rows: list[OutboxRow], key: str) -> Batch | None:
        """The batch created under ``key``, or None (then the replay under the same key settles it).

        A server that ignores the filter lists other batches: waiting for one of them would tie our
        invoices to a stranger's batch. So a batch counts where it echoes our key, or (a server that does
        not echo keys) where it is the only one listed."""
        listed: list[Batch] = []
        async for batch in self.client.iter_batches(organization_id=self._org(rows), idempotency_key=key):
            if batch.idempotency_key == key:
                return batch
            listed.append(batch)
            if len(listed) > 1:
                break
        if len(listed) == 1 and listed[0].idempotency_key is None:
            return listed[0]
        return None

    async def _replay(self, rows: list[OutboxRow], key: str) -> list[Outcome] | None:
        """POST the same invoices with the same key: the original batch comes back, or (it never
        arrived) it is created now, once. None when Amili answered with errors only, so the invoice
        lookup may still settle them."""
        by_key = {r.invoice_key: r for r in rows}
        outcomes = await self._submit(rows, key)
        if not any(o.state in _SETTLED or o.detail == NOT_SENT for o in outcomes):
            return None
        # Whatever did not settle stays unclear: it may have arrived the first time, so it is never
        # put back to pending here (a pending row could be sent under another key).
        return [
            replace(o, detail=f"replayed with its IdempotencyKey: batch {o.batch_id}")
            if o.state is OutboxState.WAITING_FOR_BATCH else o if o.state in _SETTLED
            else _unclear(by_key[o.invoice_key], o.error, o.detail or "replay not settled", o.batch_key)
            for o in outcomes
        ]

    async def _lookup_invoice(self, row: OutboxRow) -> Outcome:
        try:
            found = await invoices_by_own_key(self.client, organization_id=self._org([row]), invoice_key=row.invoice_key,
                                              invoice_number=row.invoice_number)
        except AuthenticationFailed:
            raise
        except AmiliError as exc:
            return _unclear(row, describe(exc), "lookup failed")
        if not found:
            # Not proof of absence: a queued batch may hide its invoices. Keep asking.
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME,
                           detail="not found at Amili yet; looked up again next run")
        first = found[0]
        return Outcome(row.market, row.invoice_key, OutboxState.REGISTERED, case_id=first.case_id,
                       amili_invoice_id=first.id, detail=f"found at Amili by lookup ({len(found)})",
                       seen_cases=tuple((f.case_id, None) for f in found if f.case_id))


async def invoices_by_own_key(
    client: AmiliNoClient, *, organization_id: str, invoice_key: str, invoice_number: str,
) -> list[InvoiceRecord]:
    """The invoices Amili holds under our ``uniqueSourceInvoiceId``.

    A server that ignores the filter answers with other invoices: taking one of them would mark our
    invoice registered under a stranger's case, and it would never be sent. So an answer counts only
    where it echoes our key, or (a server that does not echo it) is a single invoice with our number."""
    found = [inv async for inv in client.iter_invoices(organization_id=organization_id,
                                                       unique_source_invoice_id=invoice_key)]
    echoed = [inv for inv in found if inv.unique_source_invoice_id == invoice_key]
    if echoed or any(inv.unique_source_invoice_id for inv in found):
        return echoed
    if len(found) == 1 and _same_number(found[0].invoice_number, invoice_number):
        return found
    return []


def _same_number(theirs: str | None, ours: str) -> bool:
    """Invoice numbers as Amili may write them back: ``1001`` for our ``01001``."""
    if theirs is None:
        return False
    return theirs == ours or (theirs.isdigit() and ours.isdigit() and int(theirs) == int(ours))
