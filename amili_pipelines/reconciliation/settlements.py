"""Money back from Amili: Norwegian settlements, Swedish payout specifications and payouts.

Every line is stored once, keyed by the API's own id (``settlementId`` / ``_id``), and updated in
place when Amili changes it (a Swedish line gets its payout later). Reading always starts before
the newest line already stored (Norway: ``no_lookback_days``, default 90, before the newest
``settlementDate``; Sweden: the newest ``_updated`` minus one second), so a failed or partial run
is healed by the next one, and re-reading an overlap never double-counts. A Norwegian line read
again unchanged is not written again.

Items are validated here one by one: an item that cannot be read (a field that fails validation,
an amount that is not a number) is skipped with a warning naming its id and counted in the
summary (``items_skipped``, ``skipped``), and every other line is still stored.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from amili_pipelines.domain.cases import PayoutRecord, SettlementLine
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import as_date, naive_utc, utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.money import ZERO, money, money0
from amili_pipelines.reconciliation.raw import to_json
from amili_pipelines.warehouse import Warehouse
from amili_pipelines.warehouse.cases import SettlementStore

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

log = logging.getLogger(__name__)
T = TypeVar("T")

# Norway's settlement list filters on the business date (settlementDate), not on when Amili
# published a line, and Amili may publish a line dated well in the past (a back-dated correction
# or reversal). A tight window (it was 7 days) never reads such a line, by polling or by the
# SETTLEMENT_CREATED run: money lost. So every read re-reads a wide window; that is safe because
# lines are upserted by settlementId and a line read again unchanged is not written at all
# (first_seen_at / last_seen_at kept, nothing counted twice). AMILI_NO_SETTLEMENT_LOOKBACK_DAYS.
NO_SETTLEMENT_LOOKBACK_DAYS = 90
SKIPPED_NAMED = 10  # how many skipped items the summary names (all are counted and logged)


@dataclass
class SettlementSummary:
    no_settlements_seen: int = 0
    no_settlements_unchanged: int = 0
    se_specifications_seen: int = 0
    se_payouts_seen: int = 0
    items_skipped: int = 0
    skipped: str = ""  # the first SKIPPED_NAMED skipped items: "<kind> <id>: <reason>"
    lines_inserted: int = 0
    lines_updated: int = 0
    payouts_inserted: int = 0
    payouts_updated: int = 0
    lines_total: int = 0
    paid_out_total: str = "none"  # per currency, "NOK 300.00; SEK 925.00": two currencies are never added up
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
    to the creditor), ``creditor_commission`` → commission and its VAT kept by Amili.
    ``payout_amount`` is the line's signed effect on what the creditor receives: ``total_amount``
    exactly as Amili reports it, for every category. F.1.12 gives no sign rule; Amili (and the
    emulator) send a commission as a negative line, so the commission kept is the line negated:
    a charge (-100) is commission 100 and payout -100, a reversal (Amili refunds commission, +50)
    is commission -50 and payout +50. Never force a sign: that would turn a refund into a charge.
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
        commission, vat_kept = ZERO - amount, ZERO - vat
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
    no_lookback_days: int = NO_SETTLEMENT_LOOKBACK_DAYS,
) -> SettlementSummary:
    """Fetch new and changed money lines from both markets and store them (idempotent).

    An item that cannot be read is skipped, logged and counted (``items_skipped``); the rest is stored.
    """
    started = time.perf_counter()
    summary = SettlementSummary()
    store = warehouse.settlements
    lines: list[SettlementLine] = []
    payouts: list[PayoutRecord] = []
    if no_client is not None:
        no_lines: list[SettlementLine] = []
        for c in creditors.in_market(Market.NO):
            newest = None if full else store.no_newest_settlement_date(c.organization_id)
            from_date = None if newest is None else no_window_start(newest, no_lookback_days)
            items = no_client.iter_settlements(organization_id=c.organization_id, from_date=from_date,
                                               on_invalid=_skipper(summary, "NO settlement", _NO_IDS))

            def no_line(s: Any, org: str = c.organization_id, key: str | None = c.key) -> SettlementLine:
                return no_settlement_row(s, organization_id=org, creditor_key=key)

            async for line in _each(items, no_line, summary, "NO settlement", _NO_IDS):
                no_lines.append(line)
                summary.no_settlements_seen += 1
        lines += _changed_no_lines(store, no_lines, summary)
    se_creditors = creditors.in_market(Market.SE)
    if se_client is not None and se_creditors:
        by_id = {c.creditor_id: c.key for c in se_creditors if c.creditor_id}
        for amili_id in sorted(by_id):
            # Each creditor from its own watermark: one added later has its whole history read.
            spec_since = None if full else _minus_a_second(store.se_lines_updated_until(amili_id))
            payout_since = None if full else _minus_a_second(store.se_payouts_updated_until(amili_id))
            specs = se_client.iter_changed("payout_specifications", creditor=amili_id, since=spec_since,
                                           on_invalid=_skipper(summary, "SE payout specification", ("_id",)))
            async for line in _each(specs, lambda spec: se_specification_row(spec, creditor_by_amili_id=by_id),
                                    summary, "SE payout specification", ("_id",)):
                lines.append(line)
                summary.se_specifications_seen += 1
            listed = se_client.iter_changed("payouts", creditor=amili_id, since=payout_since,
                                            on_invalid=_skipper(summary, "SE payout", ("_id",)))
            async for p in _each(listed, lambda doc: se_payout_row(doc, creditor_by_amili_id=by_id), summary,
                                 "SE payout", ("_id",)):
                payouts.append(p)
                summary.se_payouts_seen += 1
    summary.lines_inserted, summary.lines_updated = store.upsert_lines(lines)
    summary.payouts_inserted, summary.payouts_updated = store.upsert_payouts(payouts)
    summary.lines_total, paid = store.totals()
    summary.paid_out_total = "; ".join(f"{currency} {amount}" for currency, amount in paid.items()) or "none"
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def no_window_start(newest: date, lookback_days: int, *, today: date | None = None) -> date:
    """Where a Norwegian read starts: ``lookback_days`` before the newest stored ``settlementDate``
    (or before today, if that is earlier: a line dated in the future must not narrow the window)."""
    today = today or utcnow().date()
    return min(newest, today) - timedelta(days=lookback_days)


# ---------------------------------------------------------------------------------------------
# Reading item by item
# ---------------------------------------------------------------------------------------------


_NO_IDS = ("settlementId", "id", "settlement_id")


def _skipper(summary: SettlementSummary, kind: str, id_keys: tuple[str, ...]) -> Callable[[Any, Exception], None]:
    """What a listing does with an item that fails validation: skip it, and say so (``on_invalid``)."""
    def skip(raw: Any, exc: Exception) -> None:
        _skipped(summary, kind, _item_id(raw, id_keys), _reason(exc))
    return skip


def _skipped(summary: SettlementSummary, kind: str, item_id: str, reason: str) -> None:
    log.warning("Skipped %s %s: cannot be read (%s)", kind, item_id, reason)
    summary.items_skipped += 1
    if summary.items_skipped <= SKIPPED_NAMED:
        summary.skipped = "; ".join(filter(None, [summary.skipped, f"{kind} {item_id}: {reason}"]))


async def _each(items: AsyncIterator[Any], read: Callable[[Any], T], summary: SettlementSummary, kind: str,
                id_keys: tuple[str, ...]) -> AsyncIterator[T]:
    """``read(item)`` for every listed (validated) item; an item whose row cannot be made (whatever
    the error) is skipped, logged with its id and a short masked reason, counted, and the listing
    goes on. Items that fail validation are skipped by the listing itself (:func:`_skipper`)."""
    async for item in items:
        try:
            value = read(item)
        except Exception as exc:  # noqa: BLE001 - one bad item must not lose every other line
            raw = item.model_dump(by_alias=True) if hasattr(item, "model_dump") else item
            _skipped(summary, kind, _item_id(raw, id_keys), _reason(exc))
            continue
        yield value


def _item_id(raw: Any, keys: tuple[str, ...]) -> str:
    if isinstance(raw, dict):
        for key in keys:
            if raw.get(key) not in (None, ""):
                return mask_identity_numbers(str(raw[key])[:64]) or "?"
    return "(no id)"


def _reason(exc: Exception) -> str:
    """What failed, never the values: field and message for a validation error, else the error type
    (its message can quote the value; identity numbers are masked, and the text is cut short)."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in errors[:3])
        if len(errors) > 3:
            text += f"; and {len(errors) - 3} more"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = mask_identity_numbers(text) or ""
    return text if len(text) <= 160 else text[:159] + "…"


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

# Filled in by the store, not by Amili: a line read again has them empty and gets them back.
_LINKED_BY_STORE = frozenset({"case_id", "invoice_key"})


def _changed_no_lines(store: SettlementStore, lines: list[SettlementLine],
                      summary: SettlementSummary) -> list[SettlementLine]:
    """The Norwegian lines that are new or differ from what is stored.

    The wide window re-reads many lines every run; writing them again unchanged would move their
    ``last_seen_at`` (the reconciliation would recompute every case in the window) and unlink and
    relink their cases. Skipping them writes exactly what changed."""
    changed = []
    stored_lines = store.lines(Market.NO.value, [line.line_id for line in lines])
    for line in lines:
        stored = stored_lines.get(line.line_id)
        if stored is not None and _same_line(stored, line):
            summary.no_settlements_unchanged += 1
        else:
            changed.append(line)
    return changed


def _same_line(stored: SettlementLine, fresh: SettlementLine) -> bool:
    for f in fields(SettlementLine):
        if f.name in _LINKED_BY_STORE:
            continue
        a, b = getattr(stored, f.name), getattr(fresh, f.name)
        if f.name == "raw_json":  # JSON columns may come back re-spaced or re-ordered (PostgreSQL)
            a, b = _json_or_text(a), _json_or_text(b)
        if a != b:
            return False
    return True


def _json_or_text(value: str | None) -> Any:
    try:
        return None if value is None else json.loads(value)
    except ValueError:
        return value


def _minus_a_second(value: datetime | None) -> datetime | None:
    """Eve dates have one-second resolution: re-read the watermark second itself."""
    return None if value is None else value - timedelta(seconds=1)
