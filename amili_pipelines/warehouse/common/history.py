"""One invoice's story across every table, for both databases (read-only queries for ``show``)."""

from __future__ import annotations

from typing import Any

from amili_pipelines.warehouse.common import SqlSession, casefold
from amili_pipelines.warehouse.history import InvoiceHistory, Rows

_LIMIT = 50  # rows per part: one screen, not an export

_QUERIES = {
    "source_rows": """
        SELECT partition_date, source, location, row_number, invoice_number, invoice_date, due_date, currency,
               total_amount, open_balance, customer_kind, customer_name, customer_id_number, is_valid, extracted_at
        FROM extracted_invoices WHERE invoice_key = $key ORDER BY partition_date, extracted_at, source""",
    "issues": """
        SELECT partition_date, source, rule, severity, field, value, message
        FROM invoice_issues WHERE invoice_key = $key ORDER BY partition_date, source, severity, rule""",
    "balances": """
        SELECT partition_date, source, status, open_balance, due_date
        FROM latest_source_balances WHERE invoice_key = $key ORDER BY source""",
    "registrations": """
        SELECT market, state, attempts, $generation AS generation, case_id, ocr_number,
               amili_invoice_id, registration_id, batch_id, batch_key, claimed_amount, currency,
               CAST(rejection_json AS VARCHAR) AS rejection, last_error, created_at, updated_at, registered_at
        FROM registration_outbox WHERE invoice_key = $key ORDER BY market""",
    "requests": """
        SELECT market, idempotency_key, CAST(payload_json AS VARCHAR) AS body
        FROM registration_outbox WHERE invoice_key = $key ORDER BY market""",
    "registration_events": """
        SELECT occurred_at, market, from_state, to_state, detail, run_id
        FROM registration_events WHERE invoice_key = $key ORDER BY occurred_at, $row_id""",
    "cases_seen": """
        SELECT market, case_id, registration_id, seen_at
        FROM amili_registrations_seen WHERE invoice_key = $key ORDER BY seen_at, case_id""",
    "cases": """
        SELECT market, case_id, case_number, state, status, is_closed, closed_reason, closed_at, currency,
               claimed_capital, remaining_capital, remaining_total, paid_amount, credited_amount,
               customer_name, customer_id_number, registered_at, last_seen_at
        FROM cases
        WHERE invoice_key = $key
           OR EXISTS (SELECT 1 FROM registration_outbox o WHERE o.invoice_key = $key AND o.market = cases.market
                      AND o.case_id = cases.case_id)
        ORDER BY registered_at, case_id""",
    "settlements": """
        SELECT s.market, s.line_id, s.settlement_date, s.article, s.principal_amount, s.interest_amount,
               s.fee_amount, s.commission_amount, s.vat_amount, s.payout_amount, s.payout_date, s.currency
        FROM settlement_lines s
        WHERE s.invoice_key = $key
           OR EXISTS (SELECT 1 FROM registration_outbox o WHERE o.invoice_key = $key AND o.market = s.market
                      AND o.case_id = s.case_id)
        ORDER BY s.settlement_date, s.line_id""",
    "actions": """
        SELECT action_key, market, action, purpose, amount, currency, state, attempts, result_status,
               CAST(result_json AS VARCHAR) AS answer, last_error, created_at, sent_at
        FROM case_actions_outbox WHERE invoice_key = $key ORDER BY created_at, action_key""",
    "action_events": """
        SELECT e.event_at, e.action_key, a.action, e.from_state, e.to_state, e.detail
        FROM case_action_events e JOIN case_actions_outbox a USING (action_key)
        WHERE a.invoice_key = $key ORDER BY e.event_at, e.$row_id""",
    "audit": """
        SELECT requested_at, actor, via, run_id, action, market, case_id, reason, request, outcome, answer,
               finished_at, audit_id
        FROM operator_audit WHERE invoice_key = $key ORDER BY requested_at, audit_id""",
}


class SqlHistoryStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def _rows(self, sql: str, key: str) -> Rows:
        if "$generation" in sql:
            # Read-only opens never migrate: a file from before migration 007 has no generation yet.
            has = self.db.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'registration_outbox'"
                                 " AND column_name = 'generation'")
            sql = sql.replace("$generation", "coalesce(generation, 0)" if has else "0")
        # ``$key`` may appear several times: as many positional parameters, which both databases take.
        count = sql.count("$key")
        sql = sql.replace("$key", "?").replace("$row_id", self.db.row_id)
        cursor = self.db.execute(sql + f" LIMIT {_LIMIT}", [key] * count)
        names = [d[0] for d in cursor.description]
        return tuple(dict(zip(names, row, strict=True)) for row in cursor.fetchall())

    def invoice(self, invoice_key: str) -> InvoiceHistory:
        parts: dict[str, Any] = {}
        for name, sql in _QUERIES.items():
            # A file written before a migration that a reader may not apply lacks newer tables.
            table = _first_table(sql)
            parts[name] = self._rows(sql, invoice_key) if self.db.table_exists(table) else ()
        return InvoiceHistory(invoice_key=invoice_key, **parts)

    def similar_keys(self, text: str, *, limit: int = 5) -> list[str]:
        if not text.strip():
            return []
        rows = self.db.execute(
            "SELECT DISTINCT invoice_key FROM (SELECT invoice_key FROM extracted_invoices UNION ALL"
            f" SELECT invoice_key FROM registration_outbox) keys WHERE strpos({casefold(self.db, 'invoice_key')},"
            f" {casefold(self.db, 'CAST(? AS VARCHAR)')}) > 0"
            f" ORDER BY invoice_key LIMIT {int(limit)}", [text.strip()]).fetchall()
        return [r[0] for r in rows]


def _first_table(sql: str) -> str:
    words = sql.split()
    return words[words.index("FROM") + 1]
