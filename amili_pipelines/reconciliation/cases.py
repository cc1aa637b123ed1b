"""Cases: fetch every changed Amili case (both markets) and upsert it into the ``cases`` table.

Sweden is read incrementally (``where={"_updated": {"$gte": <watermark>}}``, the watermark being
the newest ``_updated`` already stored, so a second-resolution timestamp never hides a change).
Norway's case list has no "updated since" filter, so every case of each organization is read;
that is one paged list per organization.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from amili_pipelines.amili.fields import format_rfc1123
from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation._util import money, naive_utc, to_json, utcnow

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

CASE_COLUMNS = [
    "market", "case_id", "case_number", "creditor", "amili_creditor", "invoice_key", "invoice_number",
    "amili_invoice_id", "currency", "state", "status", "is_closed", "closed_reason", "closed_at",
    "claimed_capital", "remaining_capital", "remaining_interest", "remaining_fees", "remaining_total",
    "added_interest", "added_fees", "paid_amount", "credited_amount", "customer_name", "customer_id_number",
    "registered_at", "api_updated_at", "raw_json",
]
_MONEY = {
    "claimed_capital", "remaining_capital", "remaining_interest", "remaining_fees", "remaining_total",
    "added_interest", "added_fees", "paid_amount", "credited_amount",
}
_TS = {"closed_at", "registered_at", "api_updated_at"}
NO_CLOSED_STATUSES = frozenset({"CLOSED", "WITHDRAWN"})


@dataclass
class CaseSyncSummary:
    se_cases_seen: int = 0
    no_cases_seen: int = 0
    inserted: int = 0
    updated: int = 0
    unmatched: int = 0  # cases with no registration outbox row (registered outside this pipeline)
    closed: int = 0
    seconds: float = 0.0
    se_since: str | None = None
    per_market: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "per_market"}


# ---------------------------------------------------------------------------------------------
# Mapping API objects to rows
# ---------------------------------------------------------------------------------------------


def se_case_row(case: Any, *, creditor_by_amili_id: dict[str, str]) -> dict[str, Any]:
    """One Swedish ``Case`` model as a ``cases`` row (invoice_key filled in later by matching)."""
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
    return {
        "market": "SE",
        "case_id": case.id,
        "case_number": case.reference_number,
        "creditor": creditor_by_amili_id.get(case.creditor or ""),
        "amili_creditor": case.creditor,
        "invoice_key": None,
        "invoice_number": case.invoice_number,
        "amili_invoice_id": None,
        "currency": case.currency or "SEK",
        "state": case.state,
        "status": case.status,
        "is_closed": is_closed,
        "closed_reason": closed_reason,
        "closed_at": closed_at,
        "claimed_capital": claimed,
        "remaining_capital": rem[0],
        "remaining_interest": rem[1],
        "remaining_fees": rem[2],
        "remaining_total": sum((r for r in rem if r is not None), Decimal("0.00")),
        "added_interest": money(case.local_added_interest_amount),
        "added_fees": money(case.local_added_costs_amount),
        "paid_amount": None,
        "credited_amount": None,
        "customer_name": case.customer_name,
        "customer_id_number": case.customer_id_number,
        "registered_at": naive_utc(case.created),
        "api_updated_at": naive_utc(case.updated),
        "raw_json": to_json(case),
    }


def _sum(values: Iterable[Any]) -> Decimal | None:
    vals = [money(v) for v in values if v is not None]
    return sum(vals, Decimal("0.00")) if vals else None


def no_case_row(case: Any, *, organization_id: str, creditor_key: str | None) -> dict[str, Any]:
    """One Norwegian ``Case`` model as a ``cases`` row. Amounts are summed over the case's invoices."""
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
    customer_name = None
    if case.debtors:
        d = case.debtors[0]
        customer_name = d.full_name or " ".join(p for p in (d.first_name, d.last_name) if p) or None
    return {
        "market": "NO",
        "case_id": case.case_id,
        "case_number": None if case.case_number is None else str(case.case_number),
        "creditor": creditor_key,
        "amili_creditor": case.organization_id or organization_id,
        "invoice_key": None,
        "invoice_number": first.invoice_number if first else None,
        "amili_invoice_id": first.invoice_id if first else (case.invoices[0] if case.invoices else None),
        "currency": (first.currency if first else None) or "NOK",
        "state": case.type,
        "status": case.status,
        "is_closed": is_closed,
        "closed_reason": reason,
        "closed_at": naive_utc(case.closed_at),
        "claimed_capital": _sum(i.original_amount for i in invoices),
        "remaining_capital": remaining_principal,
        "remaining_interest": None,
        "remaining_fees": remaining_other,
        "remaining_total": remaining_total,
        "added_interest": None,
        "added_fees": None,
        "paid_amount": paid,
        "credited_amount": credited,
        "customer_name": customer_name,
        "customer_id_number": None,
        "registered_at": naive_utc(case.registered_at),
        "api_updated_at": naive_utc(case.closed_at or case.registered_at),
        "raw_json": to_json(case),
    }


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _arrow(rows: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    data = {}
    for c in columns:
        vals = [r.get(c) for r in rows]
        if c in _MONEY or c.endswith("_amount"):
            data[c] = pa.array(vals, type=pa.decimal128(18, 2))
        elif c in _TS or c.endswith("_at"):
            data[c] = pa.array(vals, type=pa.timestamp("us"))
        elif c == "is_closed":
            data[c] = pa.array(vals, type=pa.bool_())
        else:
            data[c] = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
    return pa.table(data)


def upsert_cases(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Upsert rows into ``cases`` keyed by (market, case_id); matches each to its invoice.

    Returns (inserted, updated, unmatched). ``first_seen_at`` is kept; ``last_seen_at`` set now.
    """
    if not rows:
        return 0, 0, 0
    # The same case can appear twice in one fetch (it changed between pages): keep the last.
    dedup = {(r["market"], r["case_id"]): r for r in rows}
    tbl = _arrow(list(dedup.values()), CASE_COLUMNS)  # noqa: F841 - read by name in SQL
    now = utcnow()
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("CREATE OR REPLACE TEMP TABLE _cases_in AS SELECT * FROM tbl")
        # Match to the registration outbox: by case id first, then by creditor + invoice number
        # (SE), or Amili invoice id (NO).
        conn.execute(
            """
            UPDATE _cases_in c SET invoice_key = o.invoice_key, creditor = coalesce(c.creditor, o.creditor)
            FROM registration_outbox o
            WHERE o.market = c.market AND o.case_id = c.case_id
            """
        )
        conn.execute(
            """
            UPDATE _cases_in c SET invoice_key = o.invoice_key, creditor = coalesce(c.creditor, o.creditor)
            FROM registration_outbox o
            WHERE c.invoice_key IS NULL AND o.market = c.market
              AND ((c.amili_invoice_id IS NOT NULL AND o.amili_invoice_id = c.amili_invoice_id)
                   OR (c.creditor IS NOT NULL AND o.creditor = c.creditor AND o.invoice_number = c.invoice_number))
            """
        )
        conn.execute(
            """
            UPDATE _cases_in SET invoice_key = creditor || '/' || invoice_number
            WHERE invoice_key IS NULL AND creditor IS NOT NULL AND invoice_number IS NOT NULL
            """
        )
        unmatched = conn.execute(
            """SELECT count(*) FROM _cases_in c WHERE NOT EXISTS (
                   SELECT 1 FROM registration_outbox o WHERE o.market = c.market AND o.invoice_key = c.invoice_key)"""
        ).fetchone()[0]
        existing = conn.execute(
            "SELECT count(*) FROM _cases_in c JOIN cases USING (market, case_id)"
        ).fetchone()[0]
        cols = ", ".join(CASE_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CASE_COLUMNS if c not in ("market", "case_id"))
        conn.execute(
            f"""
            INSERT INTO cases ({cols}, first_seen_at, last_seen_at)
            SELECT {cols}, ?, ? FROM _cases_in
            ON CONFLICT (market, case_id) DO UPDATE SET {updates}, last_seen_at = EXCLUDED.last_seen_at
            """,
            [now, now],
        )
        conn.execute("DROP TABLE _cases_in")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return len(dedup) - existing, existing, unmatched


def se_watermark(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """Newest Swedish ``_updated`` already stored (the next incremental read starts there)."""
    return conn.execute("SELECT max(api_updated_at) FROM cases WHERE market = 'SE'").fetchone()[0]


async def sync_cases(
    conn: duckdb.DuckDBPyConnection,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
    since: datetime | None = None,
    full: bool = False,
) -> CaseSyncSummary:
    """Read every changed case from Amili and upsert it into ``cases``.

    ``since`` (naive UTC) overrides the stored watermark for Sweden; ``full=True`` reads all.
    """
    started = time.perf_counter()
    summary = CaseSyncSummary()
    rows: list[dict[str, Any]] = []
    se_creditors = [c for c in creditors.creditors if c.market is Market.SE]
    no_creditors = [c for c in creditors.creditors if c.market is Market.NO]
    if se_client is not None and se_creditors:
        by_id = {c.creditor_id: c.key for c in se_creditors if c.creditor_id}
        start = None if full else (since or se_watermark(conn))
        if start is not None:
            # Eve dates have one-second resolution: re-read the watermark second itself.
            start = start - timedelta(seconds=1)
            summary.se_since = format_rfc1123(start)
        for amili_id in sorted(by_id):
            where: dict[str, Any] = {"creditor": amili_id}
            if start is not None:
                where["_updated"] = {"$gte": format_rfc1123(start)}
            async for case in se_client.iter_cases(where=where, sort="_updated"):
                rows.append(se_case_row(case, creditor_by_amili_id=by_id))
                summary.se_cases_seen += 1
    if no_client is not None and no_creditors:
        for c in no_creditors:
            async for case in no_client.iter_cases(organization_id=c.organization_id):
                rows.append(no_case_row(case, organization_id=c.organization_id, creditor_key=c.key))
                summary.no_cases_seen += 1
    summary.inserted, summary.updated, summary.unmatched = upsert_cases(conn, rows)
    summary.closed = conn.execute("SELECT count(*) FROM cases WHERE is_closed").fetchone()[0]
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
