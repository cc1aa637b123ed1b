"""Money back from Amili: Norwegian settlements, Swedish payout specifications and payouts.

Every line is stored once, keyed by the API's own id (``settlementId`` / ``_id``), and updated in
place when Amili changes it (a Swedish line gets its payout later). Reading always starts a
little before the newest line already stored (Norway: 7 days before the newest
``settlementDate``; Sweden: the newest ``_updated`` minus one second), so a failed or partial
run is healed by the next one, and re-reading an overlap never double-counts.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from amili_pipelines.domain.cases import PayoutRecord, SettlementLine
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import as_date, naive_utc
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.money import ZERO, money, money0
from amili_pipelines.reconciliation.raw import to_json
from amili_pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

NO_OVERLAP = timedelta(days=7)
@dataclass
class SettlementSummary:
    no_settlements_seen: int = 0
    se_specifications_seen: int = 0
    se_payouts_seen: int = 0
    lines_inserted: int = 0
    lines_updated: int = 0
    payouts_inserted: int = 0
    payouts_updated: int = 0
    lines_total: int = 0
    paid_out_total: str = "0.00"
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------


def no_settlement_row(s: Any, *, organization_id: str, creditor_key: str | None) -> SettlementLine:
    """A Norwegian settlement (F.2.5) as one line; amounts as Amili reports them."""
    principal, interest = money0(s.principal_amount), money0(s.interest_amount)
    commission, vat = money0(s.commission_amount), money0(s.vat_amount)
    payout = money(s.payout_amount)
    if payout is None:
        payout = principal + interest - commission - vat
    return SettlementLine(
        market="NO", line_id=s.settlement_id, source="no_settlement", case_id=None,
        case_number=None if s.case_number is None else str(s.case_number),
        invoice_number=s.invoice_number, amili_invoice_id=s.invoice_id, amili_creditor=organization_id,
        creditor=creditor_key, invoice_key=None, currency=s.currency or "NOK",
        settlement_date=as_date(s.settlement_date), article=s.collection_type, finance_category=None,
        principal_amount=principal, interest_amount=interest, fee_amount=money0(s.fee_amount),
        commission_amount=commission, vat_amount=vat, payout_amount=payout, payout_id=None,
        payout_date=as_date(s.settlement_date), payout_reference=None,
        api_updated_at=None, raw_json=to_json(s),
    )


def se_specification_row(spec: Any, *, creditor_by_amili_id: dict[str, str]) -> SettlementLine:
    """A Swedish payout specification line, split by ``finance_category`` into the common columns.

    ``capital`` → principal, ``interest`` → interest, ``creditor_outlay`` → fees (costs paid back
    to the creditor), ``creditor_commission`` → commission and its VAT (kept by Amili: stored as
    positive numbers, deducted from the payout). ``payout_amount`` is the line's signed effect on
    what the creditor receives (``total_amount`` as Amili reports it).
    """
    amount, vat = money0(spec.amount), money0(spec.vat_amount)
    total = money(spec.total_amount)
    if total is None:
        total = amount + vat
    category = (spec.finance_category or spec.article or "").lower()
    principal = interest = fee = commission = vat_kept = ZERO
    if category == "capital":
        principal = amount
    elif category == "interest":
        interest = amount
    elif category in ("creditor_commission", "commission"):
        commission, vat_kept = abs(amount), abs(vat)
        total = -abs(total)
    else:  # creditor_outlay and any article we do not know yet: fees
        fee = amount
    return SettlementLine(
        market="SE", line_id=spec.id, source="se_payout_specification", case_id=spec.case,
        case_number=spec.reference_number, invoice_number=spec.invoice_number, amili_invoice_id=None,
        amili_creditor=spec.creditor, creditor=creditor_by_amili_id.get(spec.creditor or ""), invoice_key=None,
        currency=spec.currency or "SEK", settlement_date=as_date(spec.booking_date) or as_date(spec.created),
        article=spec.article, finance_category=spec.finance_category, principal_amount=principal,
        interest_amount=interest, fee_amount=fee, commission_amount=commission, vat_amount=vat_kept,
        payout_amount=total, payout_id=spec.payout, payout_date=as_date(spec.payout_date),
        payout_reference=spec.payout_reference, api_updated_at=naive_utc(spec.updated), raw_json=to_json(spec),
    )


def se_payout_row(p: Any, *, creditor_by_amili_id: dict[str, str]) -> PayoutRecord:
    return PayoutRecord(
        market="SE", payout_id=p.id, amili_creditor=p.creditor,
        creditor=creditor_by_amili_id.get(p.creditor or ""), currency=p.currency or "SEK",
        amount=money(p.amount), vat_amount=money(p.vat_amount), total_amount=money(p.total_amount),
        status=p.status, payout_date=as_date(p.payout_date), payout_reference=p.payout_reference,
        finance_interval=p.finance_interval,
        summary_json=to_json({k: str(v) for k, v in (p.summary or {}).items()}),
        api_updated_at=naive_utc(p.updated),
    )


async def store_settlements(
    warehouse: Warehouse,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
    full: bool = False,
) -> SettlementSummary:
    """Fetch new and changed money lines from both markets and store them (idempotent)."""
    started = time.perf_counter()
    summary = SettlementSummary()
    store = warehouse.settlements
    lines: list[SettlementLine] = []
    payouts: list[PayoutRecord] = []
    if no_client is not None:
        for c in creditors.in_market(Market.NO):
            newest = None if full else store.no_newest_settlement_date(c.organization_id)
            from_date = None if newest is None else newest - NO_OVERLAP
            async for s in no_client.iter_settlements(organization_id=c.organization_id, from_date=from_date):
                lines.append(no_settlement_row(s, organization_id=c.organization_id, creditor_key=c.key))
                summary.no_settlements_seen += 1
    se_creditors = creditors.in_market(Market.SE)
    if se_client is not None and se_creditors:
        by_id = {c.creditor_id: c.key for c in se_creditors if c.creditor_id}
        spec_since = None if full else _minus_a_second(store.se_lines_updated_until())
        payout_since = None if full else _minus_a_second(store.se_payouts_updated_until())
        for amili_id in sorted(by_id):
            async for spec in se_client.iter_changed("payout_specifications", creditor=amili_id, since=spec_since):
                lines.append(se_specification_row(spec, creditor_by_amili_id=by_id))
                summary.se_specifications_seen += 1
            async for p in se_client.iter_changed("payouts", creditor=amili_id, since=payout_since):
                payouts.append(se_payout_row(p, creditor_by_amili_id=by_id))
                summary.se_payouts_seen += 1
    summary.lines_inserted, summary.lines_updated = store.upsert_lines(lines)
    summary.payouts_inserted, summary.payouts_updated = store.upsert_payouts(payouts)
    summary.lines_total, paid = store.totals()
    summary.paid_out_total = str(paid)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _minus_a_second(value: datetime | None) -> datetime | None:
    """Eve dates have one-second resolution: re-read the watermark second itself."""
    return None if value is None else value - timedelta(seconds=1)
