"""The figures the report and the controllers' workbooks show (read-only, both databases).

Rows come back as dicts with unmasked text; the books use case masks what people see.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.common.figures import bucket_sql, fees_passed_on, invoice_number_of

_BUCKET, _BUCKET_ORDER = bucket_sql("days_overdue")
_FEES_PASSED_ON = fees_passed_on()
_OPEN_CASES = f"""
    WITH o AS (
        SELECT c.market, c.creditor, c.invoice_number, c.case_id, c.case_number, c.customer_name,
               c.customer_id_number, c.currency, coalesce(r.claimed_capital, c.claimed_capital) AS claimed_capital,
               c.remaining_capital, c.remaining_interest, c.remaining_fees, c.remaining_total,
               c.state AS case_stage, c.status AS case_status, i.due_date,
               CASE WHEN i.due_date IS NOT NULL THEN greatest(CAST(? AS DATE) - i.due_date, 0) END
                   AS days_overdue
        FROM cases c
        LEFT JOIN reconciliation r ON r.market = c.market AND r.case_id = c.case_id
        LEFT JOIN (SELECT invoice_key, due_date FROM latest_invoices) i ON i.invoice_key = c.invoice_key
        WHERE NOT c.is_closed
    )
    SELECT o.*, {_BUCKET} AS bucket, {_BUCKET_ORDER} AS bucket_order FROM o
"""


def _percent(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    """``part`` of ``whole`` in percent to one place, exact and rounded half up as money is."""
    if part is None or not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


_OPEN_CASE_COLUMNS = ("invoice_number, case_id, case_number, customer_name, customer_id_number, currency, claimed_capital,"
                      " remaining_capital, remaining_interest, remaining_fees, remaining_total, case_stage, case_status,"
                      " due_date, days_overdue, bucket, bucket_order")


class SqlReportStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def headline(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM reconciliation_by_creditor ORDER BY market, creditor, currency")

    def ageing(self, *, as_of: date, creditor: str | None = None) -> list[dict[str, Any]]:
        return self._rows(
            f"""SELECT bucket, bucket_order, market, creditor, currency, count(*) AS cases,
                       sum(remaining_capital) AS remaining_capital, sum(remaining_total) AS remaining_total
                FROM ({_OPEN_CASES}) open_cases WHERE CAST(? AS VARCHAR) IS NULL OR creditor = ?
                GROUP BY 1, 2, 3, 4, 5 ORDER BY bucket_order, market, creditor""", [as_of, creditor, creditor])

    def cash_by_month(self, *, creditor: str | None = None, start: date | None = None,
                      end: date | None = None) -> list[dict[str, Any]]:
        return self._rows(
            f"""SELECT CAST(date_trunc('month', settlement_date) AS DATE) AS month, market, creditor, currency,
                       sum(principal_amount) AS capital, sum(interest_amount) AS interest,
                       sum({_FEES_PASSED_ON}) AS fees, sum(commission_amount) AS commission, sum(vat_amount) AS vat,
                       sum(payout_amount) AS paid_out
                FROM settlement_lines
                WHERE settlement_date IS NOT NULL AND creditor IS NOT NULL
                  AND (CAST(? AS VARCHAR) IS NULL OR creditor = ?)
                  AND settlement_date >= coalesce(CAST(? AS DATE), DATE '1900-01-01')
                  AND settlement_date <= coalesce(CAST(? AS DATE), DATE '9999-12-31')
                GROUP BY 1, 2, 3, 4 ORDER BY month, market, creditor""", [creditor, creditor, start, end])

    def collection(self) -> list[dict[str, Any]]:
        """Per creditor: capital claimed and collected, and days from hand-over to the first payment
        and to the last one of a case paid in full (Amili's own dates, so the demo's clock fits)."""
        rows = self._rows(
            """WITH paid AS (
                   SELECT market, case_id, min(settlement_date) AS first_paid, max(settlement_date) AS last_paid
                   FROM settlement_lines WHERE case_id IS NOT NULL GROUP BY market, case_id
               )
               SELECT r.market, r.creditor, r.currency, count(*) AS cases, sum(r.claimed_capital) AS claimed,
                      sum(r.paid_principal + r.paid_direct) AS collected, NULL AS collection_rate,
                      count(p.first_paid) AS cases_with_payment,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY p.first_paid - CAST(c.registered_at AS DATE))
                          AS median_days_to_first_payment,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY p.last_paid - CAST(c.registered_at AS DATE))
                          FILTER (WHERE r.status = 'settled') AS median_days_to_settled
               FROM reconciliation r
               LEFT JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
               LEFT JOIN paid p ON p.market = r.market AND p.case_id = r.case_id
               GROUP BY r.market, r.creditor, r.currency ORDER BY r.market, r.creditor""")
        # In Python: DuckDB divides DECIMALs as doubles (1.15 % came out 1.1 there, 1.2 in PostgreSQL).
        for row in rows:
            row["collection_rate"] = _percent(row["collected"], row["claimed"])
        return rows

    def quarantine_by_rule(self) -> list[dict[str, Any]]:
        return self._rows(
            """SELECT partition_date AS day, rule, count(DISTINCT invoice_key) AS invoices
               FROM invoice_issues WHERE severity = 'error' GROUP BY 1, 2 ORDER BY day, rule""")

    def rejections_by_reason(self) -> list[dict[str, Any]]:
        return self._rows(
            """SELECT CAST(updated_at AS DATE) AS day, coalesce(last_error, 'rejected') AS reason, count(*) AS invoices
               FROM registration_outbox WHERE state = 'rejected' GROUP BY 1, 2 ORDER BY day, reason""")

    def discrepancies(self, *, creditor: str | None = None) -> list[dict[str, Any]]:
        return self._rows(
            f"""SELECT severity, reason, market, creditor, {invoice_number_of()} AS invoice_number, case_id,
                      line_id, amount, detail
               FROM reconciliation_discrepancies WHERE CAST(? AS VARCHAR) IS NULL OR creditor = ?
               ORDER BY severity, reason, market, creditor, invoice_key, line_id""", [creditor, creditor])

    def reconciliation(self, *, creditor: str) -> list[dict[str, Any]]:
        return self._rows(
            """SELECT invoice_number, case_id, currency, status, claimed_capital, paid_principal, paid_interest,
                      paid_fees, commission, vat, paid_out, paid_direct, credited, cancelled, remaining_capital,
                      case_state AS case_stage, closed_reason, discrepancy_count, as_of
               FROM reconciliation WHERE creditor = ? ORDER BY invoice_number, case_id""", [creditor])

    def open_cases(self, *, creditor: str, as_of: date) -> list[dict[str, Any]]:
        return self._rows(f"SELECT {_OPEN_CASE_COLUMNS} FROM ({_OPEN_CASES}) open_cases WHERE creditor = ?"
                          " ORDER BY bucket_order DESC, days_overdue DESC, invoice_number", [as_of, creditor])

    def payouts(self, *, creditor: str, start: date, end: date) -> list[dict[str, Any]]:
        """Money paid out in the period: per Swedish payout, per Norwegian settlement day."""
        return self._rows(
            f"""SELECT coalesce(p.payout_date, l.payout_date, l.settlement_date) AS payout_date,
                       coalesce(l.payout_reference, p.payout_reference,
                                CASE WHEN l.market = 'NO' THEN 'settlements ' || CAST(l.settlement_date AS VARCHAR) END)
                           AS reference,
                       coalesce(p.status, CASE WHEN l.market = 'NO' THEN 'paid' ELSE 'not yet paid out' END) AS status,
                       l.currency, count(DISTINCT l.case_id) AS cases, sum(l.principal_amount) AS capital,
                       sum(l.interest_amount) AS interest, sum({fees_passed_on("l")}) AS fees,
                       sum(l.commission_amount) AS commission, sum(l.vat_amount) AS vat,
                       sum(l.payout_amount) AS paid_out
                FROM settlement_lines l LEFT JOIN payouts p ON p.market = l.market AND p.payout_id = l.payout_id
                WHERE l.creditor = ?
                  AND coalesce(p.payout_date, l.payout_date, l.settlement_date) BETWEEN ? AND ?
                GROUP BY 1, 2, 3, 4 ORDER BY payout_date, reference""", [creditor, start, end])
