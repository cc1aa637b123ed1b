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
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from amili_pipelines.amili.fields import format_rfc1123
from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation._util import ZERO, as_date, money, money0, naive_utc, to_json, utcnow

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

NO_OVERLAP = timedelta(days=7)
LINE_COLUMNS = [
    "market", "line_id", "source", "case_id", "case_number", "invoice_number", "amili_invoice_id", "amili_creditor",
    "creditor", "invoice_key", "currency", "settlement_date", "article", "finance_category", "principal_amount",
    "interest_amount", "fee_amount", "commission_amount", "vat_amount", "payout_amount", "payout_id", "payout_date",
    "payout_reference", "api_updated_at", "raw_json",
]
PAYOUT_COLUMNS = [
    "market", "payout_id", "amili_creditor", "creditor", "currency", "amount", "vat_amount", "total_amount", "status",
    "payout_date", "payout_reference", "finance_interval", "summary_json", "api_updated_at",
]


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


def no_settlement_row(s: Any, *, organization_id: str, creditor_key: str | None) -> dict[str, Any]:
    """A Norwegian settlement (F.2.5) as one line; amounts as Amili reports them."""
    principal, interest = money0(s.principal_amount), money0(s.interest_amount)
    commission, vat = money0(s.commission_amount), money0(s.vat_amount)
    payout = money(s.payout_amount)
    if payout is None:
        payout = principal + interest - commission - vat
    return {
        "market": "NO", "line_id": s.settlement_id, "source": "no_settlement", "case_id": None,
        "case_number": None if s.case_number is None else str(s.case_number),
        "invoice_number": s.invoice_number, "amili_invoice_id": s.invoice_id, "amili_creditor": organization_id,
        "creditor": creditor_key, "invoice_key": None, "currency": s.currency or "NOK",
        "settlement_date": as_date(s.settlement_date), "article": s.collection_type, "finance_category": None,
        "principal_amount": principal, "interest_amount": interest, "fee_amount": money0(s.fee_amount),
        "commission_amount": commission, "vat_amount": vat, "payout_amount": payout, "payout_id": None,
        "payout_date": as_date(s.settlement_date), "payout_reference": None,
        "api_updated_at": None, "raw_json": to_json(s),
    }


def se_specification_row(spec: Any, *, creditor_by_amili_id: dict[str, str]) -> dict[str, Any]:
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
    return {
        "market": "SE", "line_id": spec.id, "source": "se_payout_specification", "case_id": spec.case,
        "case_number": spec.reference_number, "invoice_number": spec.invoice_number, "amili_invoice_id": None,
        "amili_creditor": spec.creditor, "creditor": creditor_by_amili_id.get(spec.creditor or ""), "invoice_key": None,
        "currency": spec.currency or "SEK", "settlement_date": as_date(spec.booking_date) or as_date(spec.created),
        "article": spec.article, "finance_category": spec.finance_category, "principal_amount": principal,
        "interest_amount": interest, "fee_amount": fee, "commission_amount": commission, "vat_amount": vat_kept,
        "payout_amount": total, "payout_id": spec.payout, "payout_date": as_date(spec.payout_date),
        "payout_reference": spec.payout_reference, "api_updated_at": naive_utc(spec.updated), "raw_json": to_json(spec),
    }


def se_payout_row(p: Any, *, creditor_by_amili_id: dict[str, str]) -> dict[str, Any]:
    return {
        "market": "SE", "payout_id": p.id, "amili_creditor": p.creditor,
        "creditor": creditor_by_amili_id.get(p.creditor or ""), "currency": p.currency or "SEK",
        "amount": money(p.amount), "vat_amount": money(p.vat_amount), "total_amount": money(p.total_amount),
        "status": p.status, "payout_date": as_date(p.payout_date), "payout_reference": p.payout_reference,
        "finance_interval": p.finance_interval,
        "summary_json": to_json({k: str(v) for k, v in (p.summary or {}).items()}),
        "api_updated_at": naive_utc(p.updated),
    }


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _arrow(rows: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    data = {}
    for c in columns:
        vals = [r.get(c) for r in rows]
        if c.endswith("_amount") or c == "amount":
            data[c] = pa.array([money(v) for v in vals], type=pa.decimal128(18, 2))
        elif c.endswith("_date"):
            data[c] = pa.array(vals, type=pa.date32())
        elif c.endswith("_at"):
            data[c] = pa.array(vals, type=pa.timestamp("us"))
        else:
            data[c] = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
    return pa.table(data)


def _upsert(conn, table: str, key: tuple[str, str], rows: list[dict[str, Any]], columns: list[str]) -> tuple[int, int]:
    if not rows:
        return 0, 0
    dedup = {(r[key[0]], r[key[1]]): r for r in rows}
    tbl = _arrow(list(dedup.values()), columns)  # noqa: F841 - read by name in SQL
    now = utcnow()
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _in_{table} AS SELECT * FROM tbl")
    existing = conn.execute(f"SELECT count(*) FROM _in_{table} JOIN {table} USING ({key[0]}, {key[1]})").fetchone()[0]
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    conn.execute(
        f"""INSERT INTO {table} ({cols}, first_seen_at, last_seen_at) SELECT {cols}, ?, ? FROM _in_{table}
            ON CONFLICT ({key[0]}, {key[1]}) DO UPDATE SET {updates}, last_seen_at = EXCLUDED.last_seen_at""",
        [now, now],
    )
    conn.execute(f"DROP TABLE _in_{table}")
    return len(dedup) - existing, existing


def resolve_line_cases(conn: duckdb.DuckDBPyConnection) -> None:
    """Attach case id, creditor and invoice key to lines that lack them (case known later)."""
    # Norway: by Amili invoice id, then by case number, against the outbox and the cases table.
    conn.execute(
        """
        UPDATE settlement_lines l SET case_id = coalesce(l.case_id, c.case_id), creditor = coalesce(l.creditor, c.creditor),
               invoice_key = coalesce(l.invoice_key, c.invoice_key)
        FROM cases c
        WHERE l.market = c.market AND (l.case_id IS NULL OR l.invoice_key IS NULL)
          AND ((l.case_id IS NOT NULL AND l.case_id = c.case_id)
               OR (l.case_id IS NULL AND l.amili_invoice_id IS NOT NULL AND l.amili_invoice_id = c.amili_invoice_id)
               OR (l.case_id IS NULL AND l.market = 'NO' AND l.case_number IS NOT NULL AND l.case_number = c.case_number))
        """
    )
    conn.execute(
        """
        UPDATE settlement_lines l SET case_id = coalesce(l.case_id, o.case_id), creditor = coalesce(l.creditor, o.creditor),
               invoice_key = o.invoice_key
        FROM registration_outbox o
        WHERE l.market = o.market AND l.invoice_key IS NULL AND o.state = 'registered'
          AND ((l.case_id IS NOT NULL AND l.case_id = o.case_id)
               OR (l.amili_invoice_id IS NOT NULL AND l.amili_invoice_id = o.amili_invoice_id))
        """
    )


def upsert_settlement_lines(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Idempotent upsert by (market, line_id); returns (inserted, updated)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        result = _upsert(conn, "settlement_lines", ("market", "line_id"), rows, LINE_COLUMNS)
        resolve_line_cases(conn)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return result


def upsert_payouts(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> tuple[int, int]:
    conn.execute("BEGIN TRANSACTION")
    try:
        result = _upsert(conn, "payouts", ("market", "payout_id"), rows, PAYOUT_COLUMNS)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return result


def no_from_date(conn: duckdb.DuckDBPyConnection, organization_id: str) -> date | None:
    newest = conn.execute(
        "SELECT max(settlement_date) FROM settlement_lines WHERE market = 'NO' AND amili_creditor = ?", [organization_id]
    ).fetchone()[0]
    return None if newest is None else newest - NO_OVERLAP


def se_since(conn: duckdb.DuckDBPyConnection, table: str) -> datetime | None:
    newest = conn.execute(f"SELECT max(api_updated_at) FROM {table} WHERE market = 'SE'").fetchone()[0]
    return None if newest is None else newest - timedelta(seconds=1)


async def store_settlements(
    conn: duckdb.DuckDBPyConnection,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
    full: bool = False,
) -> SettlementSummary:
    """Fetch new and changed money lines from both markets and upsert them (idempotent)."""
    started = time.perf_counter()
    summary = SettlementSummary()
    lines: list[dict[str, Any]] = []
    payouts: list[dict[str, Any]] = []
    se_creditors = [c for c in creditors.creditors if c.market is Market.SE]
    no_creditors = [c for c in creditors.creditors if c.market is Market.NO]
    if no_client is not None:
        for c in no_creditors:
            from_date = None if full else no_from_date(conn, c.organization_id)
            async for s in no_client.iter_settlements(organization_id=c.organization_id, from_date=from_date):
                lines.append(no_settlement_row(s, organization_id=c.organization_id, creditor_key=c.key))
                summary.no_settlements_seen += 1
    if se_client is not None and se_creditors:
        by_id = {c.creditor_id: c.key for c in se_creditors if c.creditor_id}
        spec_since = None if full else se_since(conn, "settlement_lines")
        payout_since = None if full else se_since(conn, "payouts")
        for amili_id in sorted(by_id):
            where: dict[str, Any] = {"creditor": amili_id}
            if spec_since is not None:
                where["_updated"] = {"$gte": format_rfc1123(spec_since)}
            async for spec in se_client.iter_payout_specifications(where=where, sort="_updated"):
                lines.append(se_specification_row(spec, creditor_by_amili_id=by_id))
                summary.se_specifications_seen += 1
            where = {"creditor": amili_id}
            if payout_since is not None:
                where["_updated"] = {"$gte": format_rfc1123(payout_since)}
            async for p in se_client.iter_payouts(where=where, sort="_updated"):
                payouts.append(se_payout_row(p, creditor_by_amili_id=by_id))
                summary.se_payouts_seen += 1
    summary.lines_inserted, summary.lines_updated = upsert_settlement_lines(conn, lines)
    summary.payouts_inserted, summary.payouts_updated = upsert_payouts(conn, payouts)
    total, paid = conn.execute("SELECT count(*), coalesce(sum(payout_amount), 0) FROM settlement_lines").fetchone()
    summary.lines_total = total
    summary.paid_out_total = str(Decimal(paid).quantize(Decimal("0.01")))
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
