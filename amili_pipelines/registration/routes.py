"""How one market's invoices travel: build the request, send it, and find it again at Amili.

Sweden registers one invoice per synchronous request; Norway submits batches that finish later.
The engine drives both through the same outbox states.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from amili_pipelines.amili.errors import (
    AmiliError,
    ApiRejection,
    AuthenticationFailed,
    OutcomeUnknown,
)
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import Market, SourceInvoice
from amili_pipelines.domain.outbox import OutboxRow, OutboxState, Outcome

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient


class Route(Protocol):
    market: Market

    async def send(self, rows: Sequence[OutboxRow]) -> list[Outcome]: ...

    async def lookup(self, rows: Sequence[OutboxRow]) -> list[Outcome]: ...


def registration_payload(invoice: SourceInvoice, creditor: CreditorConfig) -> dict:
    """The JSON body (Sweden) or batch item (Norway) that registers this invoice."""
    if creditor.market is Market.SE:
        from amili_pipelines.amili.mapping import to_se_registration

        model = to_se_registration(invoice, account_id=creditor.account_id, creditor_id=creditor.creditor_id)
        return model.model_dump(mode="json", exclude_none=True)
    from amili_pipelines.amili.mapping import to_no_invoice

    # uniqueSourceInvoiceId is our business key: the lookup after an unclear outcome searches by it.
    model = to_no_invoice(invoice, unique_source_invoice_id=invoice.invoice_key)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _describe(exc: BaseException) -> str:
    """A message for the outbox and logs; typed client errors never carry secrets."""
    return f"{type(exc).__name__}: {exc}"[:500]


def _rejection_text(exc: ApiRejection) -> str:
    return str(exc)[:500]


def _rejection_json(exc: ApiRejection) -> list[dict]:
    """Amili's own issues, as stored in the outbox and shown to the user."""
    return [{"field": i.field, "message": i.message, "code": i.code} for i in exc.issues] or [{"message": exc.message}]


def _is_not_unique(exc: ApiRejection) -> bool:
    """Sweden answers 422 "value 'X' is not unique" when it already has this invoice number."""
    return any("not unique" in i.message for i in exc.issues)


class SwedenRoute:
    market = Market.SE

    def __init__(self, client: AmiliSeClient, creditors: CreditorsFile) -> None:
        self.client = client
        self.creditors = creditors

    async def send(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._send_one(r) for r in rows)))

    async def _send_one(self, row: OutboxRow) -> Outcome:
        from amili_pipelines.amili.se.models import InvoiceRegistration

        try:
            result = await self.client.register_invoice(registration=InvoiceRegistration.model_validate(row.payload))
        except ApiRejection as exc:
            if _is_not_unique(exc):
                # Amili already holds this invoice number: find which case it is instead of failing it.
                return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=_describe(exc),
                               detail="not unique at Amili; will look it up")
            return Outcome(row.market, row.invoice_key, OutboxState.REJECTED, rejection=_rejection_json(exc),
                           error=_rejection_text(exc), detail="rejected by Amili")
        except OutcomeUnknown as exc:
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=_describe(exc))
        except AuthenticationFailed:
            raise  # wrong credentials fail the run loudly; the rows stay in_flight and are looked up next run
        except AmiliError as exc:
            # Never reached Amili (retries exhausted on 429/503/connect): safe to send again later,
            # but we still look it up first, like every unclear case.
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=_describe(exc))
        return Outcome(
            row.market, row.invoice_key, OutboxState.REGISTERED,
            case_id=result.case, amili_invoice_id=result.invoice, ocr_number=result.ocr_number_ocr,
            registration_id=result.id, detail="registered",
        )

    async def lookup(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._lookup_one(r) for r in rows)))

    async def _lookup_one(self, row: OutboxRow) -> Outcome:
        creditor = self.creditors.creditor(row.creditor)
        try:
            found = await self.client.find_invoice_registrations(
                creditor=creditor.creditor_id, invoice_number=row.invoice_number
            )
        except AuthenticationFailed:
            raise
        except AmiliError as exc:
            return Outcome(row.market, row.invoice_key, row.state, error=_describe(exc), detail="lookup failed")
        found = [f for f in found if f.case]
        if not found:
            return Outcome(row.market, row.invoice_key, OutboxState.PENDING, detail="not at Amili; will send")
        first = found[0]
        return Outcome(
            row.market, row.invoice_key, OutboxState.REGISTERED,
            case_id=first.case, amili_invoice_id=first.invoice, ocr_number=first.ocr_number_ocr,
            registration_id=first.id, detail=f"found at Amili by lookup ({len(found)} registration(s))",
            seen_cases=tuple((f.case, f.id) for f in found),
        )


def batch_key(rows: Sequence[OutboxRow]) -> str:
    """Deterministic IdempotencyKey for a batch: the same invoices always make the same key."""
    digest = hashlib.sha256("|".join(sorted(r.idempotency_key for r in rows)).encode()).hexdigest()
    return f"reg-{digest[:40]}"


class NorwayRoute:
    market = Market.NO

    def __init__(self, client: AmiliNoClient, creditors: CreditorsFile) -> None:
        self.client = client
        self.creditors = creditors

    async def send(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        """Submit one batch (all rows share a creditor). Items become waiting_for_batch."""
        from amili_pipelines.amili.no.models import InvoiceCreate

        org = self.creditors.creditor(rows[0].creditor).organization_id
        key = rows[0].batch_key or batch_key(rows)
        try:
            ref = await self.client.submit_invoices(
                organization_id=org,
                invoices=[InvoiceCreate.model_validate(r.payload) for r in rows],
                idempotency_key=key,
            )
        except AuthenticationFailed:
            raise
        except ApiRejection as exc:
            # The whole request was refused (malformed batch): every item carries the reason.
            return [Outcome(r.market, r.invoice_key, OutboxState.REJECTED, rejection=_rejection_json(exc),
                            error=_rejection_text(exc)) for r in rows]
        except AmiliError as exc:
            return [Outcome(r.market, r.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=_describe(exc)) for r in rows]
        return [Outcome(r.market, r.invoice_key, OutboxState.WAITING_FOR_BATCH, batch_id=ref.batch_id,
                        detail=f"in batch {ref.batch_id}") for r in rows]

    async def lookup(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        """Find unclear items at Amili: first their batch (by its IdempotencyKey), then the invoice itself."""
        outcomes: list[Outcome] = []
        by_batch: dict[tuple[str, str | None], list[OutboxRow]] = {}
        for r in rows:
            by_batch.setdefault((r.creditor, r.batch_key), []).append(r)
        for (creditor_key, key), group in by_batch.items():
            org = self.creditors.creditor(creditor_key).organization_id
            batch_id = None
            if key:
                try:
                    async for batch in self.client.iter_batches(organization_id=org, idempotency_key=key):
                        batch_id = batch.batch_id
                        break
                except AmiliError as exc:
                    outcomes += [Outcome(r.market, r.invoice_key, r.state, error=_describe(exc), detail="lookup failed")
                                 for r in group]
                    continue
            if batch_id:
                outcomes += [Outcome(r.market, r.invoice_key, OutboxState.WAITING_FOR_BATCH, batch_id=batch_id,
                                     detail=f"found batch {batch_id} by its IdempotencyKey") for r in group]
                continue
            outcomes += await asyncio.gather(*(self._lookup_invoice(org, r) for r in group))
        return outcomes

    async def _lookup_invoice(self, org: str, row: OutboxRow) -> Outcome:
        try:
            found = [inv async for inv in self.client.iter_invoices(
                organization_id=org, unique_source_invoice_id=row.invoice_key)]
        except AmiliError as exc:
            return Outcome(row.market, row.invoice_key, row.state, error=_describe(exc), detail="lookup failed")
        if not found:
            return Outcome(row.market, row.invoice_key, OutboxState.PENDING, detail="not at Amili; will send")
        first = found[0]
        return Outcome(row.market, row.invoice_key, OutboxState.REGISTERED, case_id=first.case_id,
                       amili_invoice_id=first.id, detail=f"found at Amili by lookup ({len(found)})",
                       seen_cases=tuple((f.case_id, None) for f in found if f.case_id))
