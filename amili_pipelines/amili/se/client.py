"""Client for Visma Amili Sweden (the Eve-based "ADA API").

Registration is synchronous: ``register_invoice`` answers with the case id and OCR at once. It is
a POST without idempotency key, so an ambiguous failure raises ``OutcomeUnknown`` and the caller
resolves it with ``find_invoice_registrations`` before sending again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from amili_pipelines.amili.circuit import CircuitBreaker
from amili_pipelines.amili.errors import AmiliError
from amili_pipelines.amili.fields import format_rfc1123, parse_datetime
from amili_pipelines.amili.limits import SE_LIMITS
from amili_pipelines.amili.listing import InvalidItem, validated
from amili_pipelines.amili.se.auth import SeApiCodeAuth
from amili_pipelines.amili.se.errors import decode_eve_error
from amili_pipelines.amili.se.finance_models import Creditor, Payout, PayoutSpecification
from amili_pipelines.amili.se.models import (
    Case,
    CreditorActionRecord,
    CreditorCancellation,
    CreditorCancellationResult,
    CreditorCrediting,
    CreditorCreditingResult,
    CreditorPayment,
    CreditorPaymentResult,
    InvoiceRegistration,
    InvoiceRegistrationRecord,
    InvoiceRegistrationResult,
    RespiteRequest,
    RespiteResult,
    SeToken,
)
from amili_pipelines.amili.transport import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    SharedRateLimit,
    Transport,
    TransportStats,
)

M = TypeVar("M", bound=BaseModel)

PRODUCTION_BASE_URL = "https://api.amili.se"  # F.1.5 assumption; configure explicitly
SANDBOX_BASE_URL = "https://api-sandbox.amili.se"
MAX_PAGE_SIZE = 100  # Eve clamps larger values silently (A.3)
_JSON_CONTENT = {"Content-Type": "application/json"}


ChangedKind = Literal["cases", "payout_specifications", "payouts"]
_CHANGED: dict[str, tuple[str, type[BaseModel]]] = {
    "cases": ("/cases", Case),
    "payout_specifications": ("/finance--payout-specifications", PayoutSpecification),
    "payouts": ("/finance--payouts", Payout),
}

_ACTION_PATHS = {
    "payment": "/creditor--payments",
    "crediting": "/creditor--creditings",
    "cancellation": "/creditor--cancellations",
}


class AmiliSeClient:
    """Amili Sweden API. Use as ``async with AmiliSeClient(...) as se:``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_code: SecretStr,
        private_key: SecretStr | None = None,
        private_key_path: Path | None = None,
        jwt_algorithm: str = "ES256",
        token_ttl_seconds: float = 3600.0,
        requests_per_second: float = SE_LIMITS.requests_per_second,
        max_concurrency: int = SE_LIMITS.max_concurrency,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if private_key is None and private_key_path is not None:
            private_key = SecretStr(Path(private_key_path).read_text(encoding="utf-8"))
        self.auth = SeApiCodeAuth(
            api_code=api_code, private_key=private_key, algorithm=jwt_algorithm, token_ttl_seconds=token_ttl_seconds
        )
        self._http = Transport(
            base_url=base_url,
            requests_per_second=requests_per_second,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, backoff_base=backoff_base, backoff_cap=backoff_cap),
            auth=self.auth,
            error_decoder=decode_eve_error,
            transport=transport,
            name="amili-se",
            breaker=breaker if breaker is not None else CircuitBreaker.from_env("SE"),
        )

    async def __aenter__(self) -> AmiliSeClient:
        await self._http.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"AmiliSeClient(base_url={self._http.base_url!r})"

    @property
    def max_concurrency(self) -> int:
        """How many requests may be in flight at once."""
        return self._http.max_concurrency

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

    # -- authentication ------------------------------------------------------------------------

    async def authenticate(self) -> SeToken:
        """Fetch a fresh token now (normally implicit); returns it with its expiry, token masked."""
        cached = await self.auth.token(self._http, force=True)
        return SeToken(token=cached.value, expires=datetime.fromtimestamp(cached.expires_at, UTC))

    # -- invoice registration ------------------------------------------------------------------

    async def register_invoice(self, *, registration: InvoiceRegistration) -> InvoiceRegistrationResult:
        """Hand one invoice to Amili for distribution; returns the new case id and OCR.

        Raises ``ApiRejection`` (422, with Amili's ``_issues``) or ``OutcomeUnknown`` (look it up
        with :meth:`find_invoice_registrations` before retrying).
        """
        return await self.register_invoice_body(body=registration.to_wire())

    async def register_invoice_body(self, *, body: bytes) -> InvoiceRegistrationResult:
        """:meth:`register_invoice` with the body already serialised (``InvoiceRegistration.to_wire()``,
        stored when the invoice was queued): sent as it is, byte for byte."""
        response = await self._http.request("POST", "/invoice--registrations", content=body,
                                            headers=_JSON_CONTENT)
        return InvoiceRegistrationResult.model_validate_json(response.content)

    async def get_invoice_registration(self, *, registration_id: str) -> InvoiceRegistrationRecord:
        """One stored invoice registration."""
        return await self._get_one(f"/invoice--registrations/{registration_id}", InvoiceRegistrationRecord)

    async def find_invoice_registrations(self, *, creditor: str, invoice_number: str) -> list[InvoiceRegistrationRecord]:
        """Registrations of one invoice (creditor + invoice number), each with its case id when Amili has one.

        Used to settle an ``OutcomeUnknown``: an empty list means the registration was not applied.
        The listed registration's ``_case``/``_invoice``/OCR fields are used when Amili stores
        them; a registration without ``_case`` gets it from ``GET /cases`` filtered on
        ``creditor`` + ``debt.invoice_number`` (matched on ``invoice_registration`` when there
        are several cases, otherwise only when there is exactly one).
        """
        where = {"creditor": creditor, "invoice_number": invoice_number}
        records = [r async for r in self.iter_invoice_registrations(where=where)]
        if not records or all(r.case for r in records):
            return records
        cases = await self.find_cases(creditor=creditor, invoice_number=invoice_number)
        by_registration = {c.invoice_registration: c for c in cases if c.invoice_registration}
        filled: list[InvoiceRegistrationRecord] = []
        for record in records:
            if record.case:
                filled.append(record)
                continue
            case = by_registration.get(record.id) or (cases[0] if len(cases) == 1 and len(records) == 1 else None)
            if case is None:
                filled.append(record)
                continue
            filled.append(
                record.model_copy(
                    update={
                        "case": case.id,
                        "ocr_number_ocr": record.ocr_number_ocr or case.ocr_number_ocr,
                    }
                )
            )
        return filled

    def iter_invoice_registrations(
        self, *, where: Mapping[str, Any] | None = None, sort: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[InvoiceRegistrationRecord]:
        """All invoice registrations matching ``where`` (Eve filter), across every page."""
        return self._iter("/invoice--registrations", InvoiceRegistrationRecord, where=where, sort=sort, page_size=page_size)

    # -- cases ----------------------------------------------------------------------------------

    async def get_case(self, *, case_id: str) -> Case:
        """Live status and amounts of one case."""
        return await self._get_one(f"/cases/{case_id}", Case)

    async def find_cases(self, *, creditor: str, invoice_number: str) -> list[Case]:
        """Cases of one invoice, by creditor + the creditor's invoice number."""
        where = {"creditor": creditor, "debt.invoice_number": invoice_number}
        return [c async for c in self.iter_cases(where=where)]

    def iter_cases(
        self,
        *,
        where: Mapping[str, Any] | None = None,
        sort: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        projection: Mapping[str, int] | None = None,
    ) -> AsyncIterator[Case]:
        """All cases matching ``where``, e.g. ``{"closed": None}`` for open cases (F.1.10)."""
        return self._iter("/cases", Case, where=where, sort=sort, page_size=page_size, projection=projection)

    # -- creditor case actions ----------------------------------------------------------------

    async def register_payment(self, *, payment: CreditorPayment) -> CreditorPaymentResult:
        """Tell Amili the debtor paid the creditor directly. Not idempotent: ambiguous → ``OutcomeUnknown``."""
        response = await self._http.request("POST", "/creditor--payments", json=payment.model_dump(exclude_none=True))
        return CreditorPaymentResult.model_validate(response.json())

    async def register_crediting(self, *, crediting: CreditorCrediting) -> CreditorCreditingResult:
        """Credit a case in full or part (credit note). Not idempotent."""
        response = await self._http.request("POST", "/creditor--creditings", json=crediting.model_dump(exclude_none=True))
        return CreditorCreditingResult.model_validate(response.json())

    async def register_cancellation(self, *, cancellation: CreditorCancellation) -> CreditorCancellationResult:
        """Stop a case."""
        response = await self._http.request(
            "POST", "/creditor--cancellations", json=cancellation.model_dump(exclude_none=True)
        )
        return CreditorCancellationResult.model_validate(response.json())

    async def set_respite(self, *, case_id: str, until: datetime | date) -> RespiteResult:
        """Pause collection on a case until a date ("anstånd"); path per assumption F.1.7."""
        body = RespiteRequest(respite_until=until).model_dump(exclude_none=True)
        response = await self._http.request("POST", f"/cases/{case_id}/respite", json=body)
        return RespiteResult.model_validate(response.json())

    def iter_creditor_actions(
        self,
        *,
        action: Literal["payment", "crediting", "cancellation"],
        where: Mapping[str, Any] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[CreditorActionRecord]:
        """Creditor payments, creditings or cancellations already at Amili (the lookup after an unclear outcome)."""
        return self._iter(_ACTION_PATHS[action], CreditorActionRecord, where=where, sort=None, page_size=page_size)

    # -- finance and creditors -----------------------------------------------------------------

    def iter_payout_specifications(
        self, *, where: Mapping[str, Any] | None = None, sort: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[PayoutSpecification]:
        """Transaction-level payout lines, e.g. ``where={"payout": payout_id}``."""
        return self._iter("/finance--payout-specifications", PayoutSpecification, where=where, sort=sort, page_size=page_size)

    def iter_payouts(
        self, *, where: Mapping[str, Any] | None = None, sort: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[Payout]:
        """Aggregated payouts (bank transfers) to the creditor."""
        return self._iter("/finance--payouts", Payout, where=where, sort=sort, page_size=page_size)

    async def get_creditor(self, *, creditor_id: str) -> Creditor:
        """The creditor's master data at Amili."""
        return await self._get_one(f"/creditors/{creditor_id}", Creditor)

    # -- incremental reads ------------------------------------------------------------------------

    def iter_changed(
        self, kind: ChangedKind, *, creditor: str, since: datetime | None = None, after_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE, on_invalid: InvalidItem | None = None,
    ) -> AsyncIterator[Any]:
        """One creditor's cases, payout specifications or payouts changed since ``since``, in
        (``_updated``, ``_id``) order.

        Without ``after_id`` everything updated at or after ``since`` (Eve dates have one-second
        resolution: callers re-read the watermark second); with ``after_id``, only what comes after
        (``since``, ``after_id``), so a reader that stopped early resumes exactly where it was even
        when many objects share one ``_updated`` second.

        Paged by position (keyset): each page is the first page of what comes after the last item
        read, so an object updated while we read (it moves to the end) never shifts the next page
        past an unread one. Such an object is then listed again, in its newer state, near the end.
        """
        path, model = _CHANGED[kind]
        base: dict[str, Any] = {"creditor": creditor}
        where = dict(base)
        if since is not None:
            if after_id:
                where.update(_after_position(since, after_id))
            else:
                where["_updated"] = {"$gte": format_rfc1123(since)}
        # Sorted by a field that changes while we read: paged by position, not by page number. Later
        # pages ask for ``base`` + after the last item read (which itself lies after ``since``).
        return self._iter(path, model, where=where, sort="_updated,_id", page_size=page_size, keyset_where=base,
                          on_invalid=on_invalid)

    # -- Eve plumbing -----------------------------------------------------------------------------

    async def _get_one(self, path: str, model: type[M]) -> M:
        response = await self._http.request("GET", path)
        return model.model_validate(response.json())

    async def _iter(
        self,
        path: str,
        model: type[M],
        *,
        where: Mapping[str, Any] | None,
        sort: str | None,
        page_size: int,
        projection: Mapping[str, int] | None = None,
        keyset_where: Mapping[str, Any] | None = None,
        on_invalid: InvalidItem | None = None,
    ) -> AsyncIterator[M]:
        """Walk Eve pages until a short or empty page, or ``_meta.total`` is reached.

        Uses the server's ``_meta.max_results`` as the page size (Eve clamps silently), and stops
        with an error if a page repeats the previous one, so a server ignoring ``page`` (or
        ``where``) cannot make this loop forever.

        With ``keyset_where`` (listings sorted by ``_updated,_id``) every page after the first is
        page 1 of ``keyset_where`` and "after the last item read" in that order, instead of the
        next page number: page numbers shift when an item read earlier is updated and moves to
        the end, and the next page would start one item too late. An item whose position cannot
        be read (no ``_updated``) falls back to the next page number.
        """
        requested = max(1, min(page_size, MAX_PAGE_SIZE))
        fixed: dict[str, Any] = {"max_results": requested}
        if sort:
            fixed["sort"] = sort
        if projection:
            fixed["projection"] = json.dumps(projection, separators=(",", ":"))
        current: Mapping[str, Any] | None = where
        page = 1
        previous_ids: list[str] | None = None
        seen = 0  # items read under ``current``
        while True:
            params = {**fixed, "page": page}
            if current:
                params["where"] = json.dumps(current, separators=(",", ":"), default=str)
            response = await self._http.request("GET", path, params=params)
            body = response.json()
            items = body.get("_items", []) if isinstance(body, dict) else []
            meta = body.get("_meta", {}) if isinstance(body, dict) else {}
            if not items:
                return
            ids = [str(item.get("_id")) for item in items if isinstance(item, dict)]
            if previous_ids is not None and ids == previous_ids:
                raise AmiliError(f"GET {path}: a page repeats the previous one; pagination does not advance",
                                 method="GET", path=path)
            previous_ids = ids
            for item in items:
                parsed = validated(model, item, on_invalid)
                if parsed is not None:
                    yield parsed
            seen += len(items)
            effective = int(meta.get("max_results") or requested)
            total = meta.get("total")
            if isinstance(total, int) and seen >= total:
                return
            if len(items) < effective:
                return
            after = _item_position(items[-1]) if keyset_where is not None else None
            if after is None:
                page += 1
            else:
                current, page, seen = _and_where(keyset_where or {}, after), 1, 0


def _after_position(updated: datetime, after_id: Any) -> dict[str, Any]:
    """Eve filter: what comes strictly after (``updated``, ``after_id``) in ``_updated,_id`` order."""
    ts = format_rfc1123(updated)
    return {"$or": [{"_updated": {"$gt": ts}}, {"_updated": {"$gte": ts, "$lte": ts}, "_id": {"$gt": after_id}}]}


def _item_position(item: Any) -> dict[str, Any] | None:
    """:func:`_after_position` of a listed item (its ``_id`` as sent), or None when it has none."""
    if not isinstance(item, dict):
        return None
    updated = parse_datetime(item.get("_updated"))
    item_id = item.get("_id")
    if not isinstance(updated, datetime) or item_id is None or isinstance(item_id, bool | dict | list):
        return None
    return _after_position(updated, item_id)


def _and_where(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Both Eve filters: one flat object when their keys differ, else ``$and``."""
    if not base:
        return dict(extra)
    if base.keys().isdisjoint(extra.keys()):
        return {**base, **extra}
    return {"$and": [dict(base), dict(extra)]}
