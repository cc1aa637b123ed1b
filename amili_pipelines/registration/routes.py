"""How one market's invoices travel: build the request, send it, and find it again at Amili.

Sweden (here) registers one invoice per synchronous request; Norway (``registration.norway``)
submits batches that finish later. The engine drives both through the same outbox states.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from amili_pipelines.amili.errors import (
    AmiliError,
    ApiConflict,
    ApiRejection,
    ApiUnavailable,
    AuthenticationFailed,
    CircuitOpen,
    OutcomeUnknown,
)
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import Market, SourceInvoice
from amili_pipelines.domain.outbox import OutboxRow, OutboxState, Outcome

if TYPE_CHECKING:
    from amili_pipelines.amili.se.client import AmiliSeClient


class Route(Protocol):
    market: Market

    @property
    def unavailable(self) -> bool:
        """Amili keeps failing (the client's circuit is open): stop sending for this run."""

    async def send(self, rows: Sequence[OutboxRow]) -> list[Outcome]: ...

    async def lookup(self, rows: Sequence[OutboxRow]) -> list[Outcome]: ...


def registration_payload(invoice: SourceInvoice, creditor: CreditorConfig) -> dict:
    """The JSON body (Sweden) or batch item (Norway) that registers this invoice."""
    if creditor.market is Market.SE:
        from amili_pipelines.amili.mapping import to_se_registration

        model = to_se_registration(invoice, account_id=creditor.account_id, creditor_id=creditor.creditor_id)
        return model.model_dump(mode="json", exclude_none=True)
    return _no_item(invoice)


def registration_request(invoice: SourceInvoice, creditor: CreditorConfig) -> tuple[dict | None, bytes | None]:
    """What the outbox stores to register this invoice: ``(payload, body)``.

    Sweden: the request body, validated as an ``InvoiceRegistration`` and serialised here, once,
    exactly as it goes on the wire (every send puts these bytes on the wire, no parse or model per
    request). Norway: the batch item, which is sent inside a batch built at send time."""
    if creditor.market is Market.SE:
        from amili_pipelines.amili.mapping import to_se_registration

        model = to_se_registration(invoice, account_id=creditor.account_id, creditor_id=creditor.creditor_id)
        return None, model.to_wire()
    return _no_item(invoice), None


def _no_item(invoice: SourceInvoice) -> dict:
    from amili_pipelines.amili.mapping import to_no_invoice

    # uniqueSourceInvoiceId is our business key: the lookup after an unclear outcome searches by it.
    model = to_no_invoice(invoice, unique_source_invoice_id=invoice.invoice_key)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def describe(exc: BaseException) -> str:
    """A message for the outbox and logs; typed client errors never carry secrets."""
    return f"{type(exc).__name__}: {exc}"[:500]


def rejection_text(exc: ApiRejection) -> str:
    return str(exc)[:500]


def rejection_json(exc: ApiRejection) -> list[dict]:
    """Amili's own issues, as stored in the outbox and shown to the user."""
    return [{"field": i.field, "message": i.message, "code": i.code} for i in exc.issues] or [{"message": exc.message}]


_ALREADY_THERE = ("not unique", "already exist", "already registered")


def _is_not_unique(exc: ApiRejection) -> bool:
    """Amili may already hold this invoice: Eve's 422 "value 'X' is not unique" (its usual wording,
    not a documented one, so other wordings of it count too) or a 409. A lookup decides."""
    if isinstance(exc, ApiConflict):
        return True
    texts = [exc.message, *(i.message for i in exc.issues)]
    return any(word in text.lower() for text in texts for word in _ALREADY_THERE)


class SwedenRoute:
    market = Market.SE

    def __init__(self, client: AmiliSeClient, creditors: CreditorsFile) -> None:
        self.client = client
        self.creditors = creditors

    @property
    def unavailable(self) -> bool:
        return self.client.unavailable

    async def send(self, rows: Sequence[OutboxRow]) -> list[Outcome]:
        return list(await asyncio.gather(*(self.send_one(r) for r in rows)))

    async def send_one(self, row: OutboxRow) -> Outcome:
        """Register one invoice; its outcome (errors become outcomes, except refused credentials)."""
        try:
            if row.body is not None:
                result = await self.client.register_invoice_body(body=row.body)
            else:  # queued before bodies were stored (migration 011): built the long way
                from amili_pipelines.amili.se.models import InvoiceRegistration

                result = await self.client.register_invoice(registration=InvoiceRegistration.model_validate(row.payload))
        except ApiRejection as exc:
            if _is_not_unique(exc):
                return await self._already_there(row, exc)
            return Outcome(row.market, row.invoice_key, OutboxState.REJECTED, rejection=rejection_json(exc),
                           error=rejection_text(exc), detail="rejected by Amili")
        except OutcomeUnknown as exc:
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=describe(exc))
        except ApiUnavailable as exc:
            if not exc.reached or isinstance(exc, CircuitOpen):
                # Nothing of it reached Amili (a POST without key is retried only when it was not
                # processed): safe to send again later.
                return Outcome(row.market, row.invoice_key, OutboxState.PENDING, error=describe(exc),
                               detail="not sent: Amili unreachable")
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=describe(exc))
        except AuthenticationFailed:
            raise  # wrong credentials fail the run loudly; the rows stay in_flight and are looked up next run
        except AmiliError as exc:
            # Never reached Amili (retries exhausted on 429/503/connect): safe to send again later,
            # but we still look it up first, like every unclear case.
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=describe(exc))
        return Outcome(
            row.market, row.invoice_key, OutboxState.REGISTERED,
            case_id=result.case, amili_invoice_id=result.invoice, ocr_number=result.ocr_number_ocr,
            registration_id=result.id, detail="registered",
        )

    async def _already_there(self, row: OutboxRow, exc: ApiRejection) -> Outcome:
        """Amili says it already holds this invoice number: find its case now, instead of failing it.

        Found: registered. Not found for this creditor (another creditor's number, a lookup that lags,
        a validation message in these words): sending it again would be refused the same way, run after
        run, so it is rejected with Amili's words for a person; ``retry`` sends it once that is settled."""
        looked = await self._lookup_one(row)
        if looked.state in (OutboxState.REGISTERED, OutboxState.UNKNOWN_OUTCOME):
            return looked
        if looked.state is OutboxState.PENDING:
            return Outcome(row.market, row.invoice_key, OutboxState.REJECTED, rejection=rejection_json(exc),
                           error=f"Amili says the invoice number exists, but no registration of it was found for "
                                 f"this creditor: {rejection_text(exc)}"[:500],
                           detail="not unique at Amili and not found by lookup: check at Amili")
        return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME, error=describe(exc),
                       detail="not unique at Amili; will look it up")

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
            return Outcome(row.market, row.invoice_key, row.state, error=describe(exc), detail="lookup failed")
        if not found:
            return Outcome(row.market, row.invoice_key, OutboxState.PENDING, detail="not at Amili; will send")
        with_case = [f for f in found if f.case]
        if not with_case:
            # Amili holds the registration but names no case for it (yet): sending it again would
            # open a second case. It stays unclear and is looked up again.
            return Outcome(row.market, row.invoice_key, OutboxState.UNKNOWN_OUTCOME,
                           detail=f"registered at Amili ({found[0].id}) without a case yet; looked up again next run")
        found = with_case
        first = found[0]
        return Outcome(
            row.market, row.invoice_key, OutboxState.REGISTERED,
            case_id=first.case, amili_invoice_id=first.invoice, ocr_number=first.ocr_number_ocr,
            registration_id=first.id, detail=f"found at Amili by lookup ({len(found)} registration(s))",
            seen_cases=tuple((f.case, f.id) for f in found),
        )
