"""Cases: fetch every changed Amili case (both markets) and store it.

Sweden is read incrementally (``where={"_updated": {"$gte": <watermark>}}``, the watermark being
the newest ``_updated`` already stored, so a second-resolution timestamp never hides a change).
Norway's case list has no "updated since" filter, so every case of each organization is read;
that is one paged list per organization. When Amili pushed which cases changed (``CASE`` and
``CASE_UPDATED`` webhooks), only those are read, one by one (``sync_named_no_cases``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from amili_pipelines.amili.errors import NotFound
from amili_pipelines.amili.fields import format_rfc1123
from amili_pipelines.domain.cases import CaseRecord
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import naive_utc
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.money import money
from amili_pipelines.reconciliation.raw import to_json
from amili_pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

NO_CLOSED_STATUSES = frozenset({"CLOSED", "WITHDRAWN"})


@dataclass
class CaseSyncSummary:
    se_cases_seen: int = 0
    no_cases_seen: int = 0
    inserted: int = 0
    updated: int = 0
    unmatched: int = 0  # cases with no registration outbox row (registered outside this pipeline)
    not_found: int = 0  # named cases (from webhooks, or no longer listed) that Amili does not know
    no_cases_read_by_id: int = 0  # open cases of ours the Norwegian list no longer holds, read one by one
    closed: int = 0
    seconds: float = 0.0
    se_since: str | None = None
    per_market: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "per_market"}


# ---------------------------------------------------------------------------------------------
# Mapping API objects to rows
# ---------------------------------------------------------------------------------------------


def se_case_row(case: Any, *, creditor_by_amili_id: dict[str, str]) -> CaseRecord:
    """One Swedish ``Case`` model as a case record (invoice_key filled in later by matching)."""
    closed = case.closed if not isinstance(case.closed, bool) else None
    is_closed = bool(case.is_closed)
    rem = [money(case.local_remaining_capital_amount if case.local_remaining_capital_amount is not None
                 else case.total_remaining_capital_amount),
           money(case.local_remaining_interest_amount), money(case.local_remaining_costs_amount),
           money(case.local_remaining_transaction_amount)]
    debt = case.debt
    claimed = None
    if debt is not None:
        claimed = money(debt.initial_capital if debt.initial_capital is not None else debt.capital_to_claim)
    if claimed is None:
        claimed = money(case.local_added_capital_amount)
    closed_reason = (closed.reason if closed is not None else None) or ("closed" if is_closed else None)
    closed_at = naive_utc(closed.date) if closed is not None else None
    return CaseRecord(
        market="SE",
        case_id=case.id,
        case_number=case.reference_number,
        creditor=creditor_by_amili_id.get(case.creditor or ""),
        amili_creditor=case.creditor,
        invoice_key=None,
        invoice_number=case.invoice_number,
        amili_invoice_id=None,
        currency=case.currency or "SEK",
        state=case.state,
        status=case.status,
        is_closed=is_closed,
        closed_reason=closed_reason,
        closed_at=closed_at,
        claimed_capital=claimed,
        remaining_capital=rem[0],
        remaining_interest=rem[1],
        remaining_fees=rem[2],
        remaining_total=sum((r for r in rem if r is not None), Decimal("0.00")),
        added_interest=money(case.local_added_interest_amount),
        added_fees=money(case.local_added_costs_amount),
        paid_amount=None,
        credited_amount=None,
        customer_name=case.customer_name,
        customer_id_number=case.customer_id_number,
        registered_at=naive_utc(case.created),
        api_updated_at=naive_utc(case.updated),
        raw_json=to_json(case),
    )


def _sum(values: Iterable[Any]) -> Decimal | None:
    vals = [money(v) for v in values if v is not None]
    return sum(vals, Decimal("0.00")) if vals else None


def no_case_row(case: Any, *, organization_id: str, creditor_key: str | None) -> CaseRecord:
    """One Norwegian ``Case`` model as a case record. Amounts are summed over the case's invoices."""
    invoices = [i for i in case.invoices if not isinstance(i, str)]
    status = (case.status or "").upper() or None
    is_closed = status in NO_CLOSED_STATUSES or case.closed_at is not None
    remaining_principal = _sum(i.remaining_principal for i in invoices)
    remaining_total = _sum(i.remaining_amount for i in invoices)
    if remaining_principal is None:
        remaining_principal = remaining_total
    paid = _sum(i.paid_amount for i in invoices)
    credited = _sum(i.credited_amount for i in invoices)
    reason = None
    if is_closed:
        if status == "WITHDRAWN":
            reason = "withdrawn"
        elif credited and not paid:
            reason = "credited"
        elif paid:
            reason = "paid"
        else:
            reason = "closed"
    remaining_other = None
    if remaining_total is not None and remaining_principal is not None:
        remaining_other = remaining_total - remaining_principal
    first = invoices[0] if invoices else None
    customer_name = customer_id_number = None
    if case.debtors:
        d = case.debtors[0]
        customer_name = d.full_name or " ".join(p for p in (d.first_name, d.last_name) if p) or None
        # A case without it takes the number of the invoice as extracted (the case store fills it in).
        customer_id_number = d.identification_number or d.organization_number or None
    return CaseRecord(
        market="NO",
        case_id=case.case_id,
        case_number=None if case.case_number is None else str(case.case_number),
        creditor=creditor_key,
        amili_creditor=case.organization_id or organization_id,
        invoice_key=None,
        invoice_number=first.invoice_number if first else None,
        amili_invoice_id=first.invoice_id if first else (case.invoices[0] if case.invoices else None),
        currency=(first.currency if first else None) or "NOK",
        state=case.type,
        status=case.status,
        is_closed=is_closed,
        closed_reason=reason,
        closed_at=naive_utc(case.closed_at),
        claimed_capital=_sum(i.original_amount for i in invoices),
        remaining_capital=remaining_principal,
        remaining_interest=None,
        remaining_fees=remaining_other,
        remaining_total=remaining_total,
        added_interest=None,
        added_fees=None,
        paid_amount=paid,
        credited_amount=credited,
        customer_name=customer_name,
        customer_id_number=customer_id_number,
        registered_at=naive_utc(case.registered_at),
        api_updated_at=naive_utc(case.closed_at or case.registered_at),
        raw_json=to_json(case),
    )


async def sync_cases(
    warehouse: Warehouse,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
    since: datetime | None = None,
    full: bool = False,
) -> CaseSyncSummary:
    """Read every changed case from Amili and store it.

    ``since`` (naive UTC) overrides the stored watermark for Sweden; ``full=True`` reads all.
    """
    started = time.perf_counter()
    summary = CaseSyncSummary()
    records: list[CaseRecord] = []
    se_creditors = creditors.in_market(Market.SE)
    if se_client is not None and se_creditors:
        by_id = {c.creditor_id: c.key for c in se_creditors if c.creditor_id}
        starts = []
        for amili_id in sorted(by_id):
            # Each creditor from its own watermark: one added later has its whole history read.
            start = None if full else (since or warehouse.cases.se_cases_updated_until(amili_id))
            if start is not None:
                # Eve dates have one-second resolution: re-read the watermark second itself.
                start = start - timedelta(seconds=1)
            starts.append(start)
            async for case in se_client.iter_changed("cases", creditor=amili_id, since=start):
                records.append(se_case_row(case, creditor_by_amili_id=by_id))
                summary.se_cases_seen += 1
        known = [s for s in starts if s is not None]
        summary.se_since = format_rfc1123(min(known)) if known and len(known) == len(starts) else None
    if no_client is not None:
        for c in creditors.in_market(Market.NO):
            listed: set[str] = set()
            async for case in no_client.iter_cases(organization_id=c.organization_id):
                records.append(no_case_row(case, organization_id=c.organization_id, creditor_key=c.key))
                listed.add(case.case_id)
                summary.no_cases_seen += 1
            # A server may leave closed cases out of its list (B.5 does not say): an open case of ours
            # that is no longer listed is read by its id, so its closing is not missed.
            gone = sorted(warehouse.cases.open_case_ids(Market.NO.value, c.key) - listed)
            for case in await _read_by_id(no_client, c.organization_id, gone, summary):
                records.append(no_case_row(case, organization_id=c.organization_id, creditor_key=c.key))
    summary.inserted, summary.updated, summary.unmatched = warehouse.cases.upsert_cases(records)
    summary.closed = warehouse.cases.closed_count()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


async def _read_by_id(no_client: AmiliNoClient, organization_id: str, case_ids: Sequence[str],
                      summary: CaseSyncSummary) -> list[Any]:
    async def one(case_id: str) -> Any:
        try:
            return await no_client.get_case(organization_id=organization_id, case_id=case_id)
        except NotFound:
            return None

    found = await asyncio.gather(*(one(i) for i in case_ids))
    summary.no_cases_read_by_id += sum(f is not None for f in found)
    summary.not_found += sum(f is None for f in found)
    return [f for f in found if f is not None]


@dataclass(frozen=True)
class CaseRef:
    """A Norwegian case a webhook named: by its id (case events) or its number (settlement events)."""

    organization_id: str
    case_id: str | None = None
    case_number: str | None = None


async def _named(no_client: AmiliNoClient, ref: CaseRef) -> list[Any]:
    if ref.case_id:
        try:
            return [await no_client.get_case(organization_id=ref.organization_id, case_id=ref.case_id)]
        except NotFound:
            return []
    return [c async for c in no_client.iter_cases(organization_id=ref.organization_id, case_number=ref.case_number)]


async def sync_named_no_cases(
    warehouse: Warehouse, *, creditors: CreditorsFile, no_client: AmiliNoClient, cases: Sequence[CaseRef],
) -> CaseSyncSummary:
    """Read just these Norwegian cases (as webhooks named them, one request each) and store them."""
    started = time.perf_counter()
    summary = CaseSyncSummary()
    key_of = {c.organization_id: c.key for c in creditors.in_market(Market.NO) if c.organization_id}
    records: dict[str, CaseRecord] = {}
    for ref in sorted(set(cases), key=lambda r: (r.organization_id, r.case_id or "", r.case_number or "")):
        if ref.organization_id not in key_of or not (ref.case_id or ref.case_number):
            continue
        found = await _named(no_client, ref)
        summary.not_found += not found
        for case in found:
            records[case.case_id] = no_case_row(case, organization_id=ref.organization_id,
                                                creditor_key=key_of[ref.organization_id])
    summary.no_cases_seen = len(records)
    summary.inserted, summary.updated, summary.unmatched = warehouse.cases.upsert_cases(list(records.values()))
    summary.closed = warehouse.cases.closed_count()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
