"""Client for Amili Norway (Collection API v1).

Writes are asynchronous: a POST answers 202 with a batch reference, and the outcome per item is
read by polling the batch. Every write carries an ``IdempotencyKey`` (F.2.2), so the transport
may resend it after any failure: Amili answers a repeated key with the original batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from amili_pipelines.amili.circuit import CircuitBreaker
from amili_pipelines.amili.errors import AmiliError
from amili_pipelines.amili.fields import format_iso_z
from amili_pipelines.amili.limits import NO_LIMITS
from amili_pipelines.amili.listing import InvalidItem, validated
from amili_pipelines.amili.no.auth import NoClientCredentialsAuth
from amili_pipelines.amili.no.errors import decode_problem
from amili_pipelines.amili.no.models import (
    Batch,
    BatchRef,
    Case,
    Correction,
    InvoiceCreate,
    InvoiceRecord,
    NoToken,
    Payment,
    Settlement,
)
from amili_pipelines.amili.transport import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    SharedRateLimit,
    Transport,
    TransportStats,
)

M = TypeVar("M", bound=BaseModel)

PRODUCTION_BASE_URL = "https://api.amili.no/collection/v1"
PRODUCTION_AUTH_URL = "https://auth.amili.no/token"
IDEMPOTENCY_HEADER = "IdempotencyKey"
DEFAULT_PAGE_SIZE = 100


def _date_param(value: date | datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return format_iso_z(value)
    return value.isoformat()


class AmiliNoClient:
    """Amili Norway API. Use as ``async with AmiliNoClient(...) as no:``."""

    def __init__(
        self,
        *,
        base_url: str,
        auth_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None = None,
        requests_per_second: float = NO_LIMITS.requests_per_second,
        max_concurrency: int = NO_LIMITS.max_concurrency,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.auth = NoClientCredentialsAuth(auth_url=auth_url, client_id=client_id, client_secret=client_secret, scope=scope)
        self._http = Transport(
            base_url=base_url,
            requests_per_second=requests_per_second,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, backoff_base=backoff_base, backoff_cap=backoff_cap),
            auth=self.auth,
            error_decoder=decode_problem,
            transport=transport,
            name="amili-no",
            breaker=breaker if breaker is not None else CircuitBreaker.from_env("NO"),
        )

    async def __aenter__(self) -> AmiliNoClient:
        await self._http.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"AmiliNoClient(base_url={self._http.base_url!r}, client_id={self.auth.client_id!r})"

    @property
    def unavailable(self) -> bool:
        """True while the circuit breaker keeps requests from being sent (Amili keeps failing)."""
        return self._http.breaker is not None and self._http.breaker.is_open

    @property
    def stats(self) -> TransportStats:
        """Request counters for run metadata (sent, retries, 429s, by status)."""
        return self._http.stats

    @property
    def requests_per_second(self) -> float:
        return self._http.requests_per_second

    def share_rate_limit(self, reserve: SharedRateLimit) -> None:
        """Respect a rate limit shared with other processes as well as this client's own."""
        self._http.shared_limit = reserve

    async def authenticate(self) -> NoToken:
        """Fetch a fresh bearer token now (normally implicit); the token stays masked."""
        cached = await self.auth.token(self._http, force=True)
        return NoToken(access_token=cached.value, expires_on=int(cached.expires_at))

    # -- asynchronous writes ---------------------------------------------------------------------

    async def submit_invoices(
        self, *, organization_id: str, invoices: Sequence[InvoiceCreate], idempotency_key: str
    ) -> BatchRef:
        """Hand invoices to Amili; returns the batch to poll. Same key again → the same batch."""
        body = {"invoices": [i.to_body() for i in invoices]}
        return await self._submit(f"/orgs/{organization_id}/invoices", body, idempotency_key)

    async def submit_payments(self, *, organization_id: str, payments: Sequence[Payment], idempotency_key: str) -> BatchRef:
        """Report payments the debtor made directly to the creditor."""
        body = {"payments": [p.to_body() for p in payments]}
        return await self._submit(f"/orgs/{organization_id}/payments", body, idempotency_key)

    async def submit_corrections(
        self, *, organization_id: str, corrections: Sequence[Correction], idempotency_key: str
    ) -> BatchRef:
        """Reduce claims (credit notes) on registered invoices."""
        body = {"corrections": [c.to_body() for c in corrections]}
        return await self._submit(f"/orgs/{organization_id}/corrections", body, idempotency_key)

    async def _submit(self, path: str, body: dict[str, Any], idempotency_key: str) -> BatchRef:
        if not idempotency_key:
            raise ValueError("an idempotency key is required for Norwegian writes")
        response = await self._http.request(
            "POST", path, json=body, idempotency_key=idempotency_key, idempotency_header=IDEMPOTENCY_HEADER
        )
        return BatchRef.model_validate(self._data(response))

    # -- batches ---------------------------------------------------------------------------------

    async def get_batch(self, *, organization_id: str, batch_id: str) -> Batch:
        """Status and per-item outcome of one batch."""
        response = await self._http.request("GET", f"/orgs/{organization_id}/batches/{batch_id}")
        return Batch.model_validate(self._data(response))

    async def wait_for_batch(
        self, *, organization_id: str, batch_id: str, poll_interval: float = 1.0, timeout: float = 300.0
    ) -> Batch:
        """Poll until the batch is SUCCESS, PARTIAL or FAILED; returns the last state seen on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            batch = await self.get_batch(organization_id=organization_id, batch_id=batch_id)
            if batch.is_terminal or time.monotonic() + poll_interval > deadline:
                return batch
            await asyncio.sleep(poll_interval)

    def iter_batches(
        self,
        *,
        organization_id: str,
        idempotency_key: str | None = None,
        state: str | None = None,
        type: str | None = None,  # noqa: A002 - the API's own filter name
        sort_direction: Literal["ASC", "DESC"] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Batch]:
        """Batches of the organization, e.g. the one created under an idempotency key, or newest first."""
        params = {"IdempotencyKey": idempotency_key, "State": state, "Type": type, "SortDirection": sort_direction}
        return self._iter(f"/orgs/{organization_id}/batches", Batch, params, page_size=page_size)

    # -- invoices and cases ----------------------------------------------------------------------

    def iter_invoices(
        self,
        *,
        organization_id: str,
        unique_source_invoice_id: str | None = None,
        invoice_number: str | None = None,
        status: str | None = None,
        customer_number: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[InvoiceRecord]:
        """Registered invoices, e.g. the one with our ``uniqueSourceInvoiceId``."""
        params = {
            "UniqueSourceInvoiceId": unique_source_invoice_id,
            "InvoiceNumber": invoice_number,
            "Status": status,
            "CustomerNumber": customer_number,
        }
        return self._iter(f"/orgs/{organization_id}/invoices", InvoiceRecord, params, page_size=page_size)

    async def get_invoice(self, *, organization_id: str, invoice_id: str) -> InvoiceRecord:
        """One registered invoice."""
        response = await self._http.request("GET", f"/orgs/{organization_id}/invoices/{invoice_id}")
        return InvoiceRecord.model_validate(self._data(response))

    def iter_cases(
        self,
        *,
        organization_id: str,
        from_created_at: date | datetime | None = None,
        to_created_at: date | datetime | None = None,
        status: str | None = None,
        unique_source_invoice_id: str | None = None,
        case_number: str | int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Case]:
        """Collection cases, optionally only those created in a window."""
        params = {
            "FromCreatedAt": _date_param(from_created_at),
            "ToCreatedAt": _date_param(to_created_at),
            "Status": status,
            "UniqueSourceInvoiceId": unique_source_invoice_id,
            "CaseNumber": case_number,
        }
        return self._iter(f"/orgs/{organization_id}/cases", Case, params, page_size=page_size)

    async def get_case(self, *, organization_id: str, case_id: str) -> Case:
        """One collection case (a webhook names it: cheaper than reading the whole list)."""
        response = await self._http.request("GET", f"/orgs/{organization_id}/cases/{case_id}")
        return Case.model_validate(self._data(response))

    async def pause_case(self, *, organization_id: str, case_id: str) -> None:
        """Pause collection on a case (F.2.6). 409 → ``ApiConflict`` when it does not fit the status."""
        await self._case_action(organization_id, case_id, "pause")

    async def resume_case(self, *, organization_id: str, case_id: str) -> None:
        """Resume a paused case."""
        await self._case_action(organization_id, case_id, "resume")

    async def withdraw_case(self, *, organization_id: str, case_id: str) -> None:
        """Withdraw a case from collection."""
        await self._case_action(organization_id, case_id, "withdraw")

    async def _case_action(self, organization_id: str, case_id: str, action: str) -> None:
        await self._http.request("POST", f"/orgs/{organization_id}/cases/{case_id}/{action}")

    # -- settlements -----------------------------------------------------------------------------

    def iter_settlements(
        self,
        *,
        organization_id: str,
        from_date: date | None = None,
        to_date: date | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        on_invalid: InvalidItem | None = None,
    ) -> AsyncIterator[Settlement]:
        """Settlements (money paid out per invoice) dated within ``[from_date, to_date]``. With
        ``on_invalid``, an item that fails validation is handed to it and skipped (the others are
        still listed); without, it raises."""
        params = {"fromDate": _date_param(from_date), "toDate": _date_param(to_date)}
        # Settlements spell the paging parameters in lower camel case (B.2).
        return self._iter(
            f"/orgs/{organization_id}/settlements", Settlement, params, page_size=page_size,
            token_param="pageToken", size_param="pageSize", on_invalid=on_invalid,
        )

    async def get_settlement(self, *, organization_id: str, settlement_id: str) -> Settlement:
        """One settlement."""
        response = await self._http.request("GET", f"/orgs/{organization_id}/settlements/{settlement_id}")
        return Settlement.model_validate(self._data(response))

    # -- envelope and paging -------------------------------------------------------------------

    @staticmethod
    def _data(response: httpx.Response) -> Any:
        body = response.json()
        if isinstance(body, dict) and "data" in body:
            return body["data"]
        return body

    async def _iter(
        self,
        path: str,
        model: type[M],
        params: Mapping[str, Any],
        *,
        page_size: int,
        token_param: str = "PageToken",
        size_param: str = "PageSize",
        on_invalid: InvalidItem | None = None,
    ) -> AsyncIterator[M]:
        """Follow ``summary.nextPageToken`` until it is absent or empty, across empty pages too; a
        repeated token is an error (pagination does not advance)."""
        query = {k: v for k, v in params.items() if v is not None}
        query[size_param] = page_size
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page_query = dict(query)
            if token:
                page_query[token_param] = token
            response = await self._http.request("GET", path, params=page_query)
            body = response.json()
            items = body.get("data") if isinstance(body, dict) else body
            for item in items or []:
                parsed = validated(model, item, on_invalid)
                if parsed is not None:
                    yield parsed
            summary = body.get("summary") if isinstance(body, dict) else None
            token = summary.get("nextPageToken") if isinstance(summary, dict) else None
            # Only an absent or empty token ends the listing (B.2): a page may be empty and still
            # carry one (a cursor server that filters after paging).
            if not token:
                return
            if token in seen_tokens:
                raise AmiliError(f"GET {path}: page token repeats; pagination does not advance", method="GET", path=path)
            seen_tokens.add(token)
