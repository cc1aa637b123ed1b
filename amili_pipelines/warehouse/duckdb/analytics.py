"""DuckDB: the published analytics file that finance analysts, BI tools and notebooks read.

The operational file is written by runs and locked while they do; analysts read a separate file
instead, rebuilt at the end of every writing run:

1. the tables below are written into a new temporary file next to the published one;
2. the temporary file is checkpointed and closed, then renamed over the published file in one
   step (``os.replace``), so a reader sees the old file or the new one, never half of one;
3. a reader who still holds the old file open keeps reading the old copy (its lock is on the
   old file, not on the name), so it never blocks the pipeline.

Personal identity numbers are masked here (``19900101-****``): the identity-number columns by
rule, and every other text column by content (a number that a shifted column or a message
carried elsewhere), except the identifiers listed in ``IDENTIFIER_COLUMNS``.
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.warehouse.common.figures import bucket_sql, invoice_number_of
from amili_pipelines.warehouse.duckdb.connection import Session

_BUCKET, _BUCKET_ORDER = bucket_sql("d")
_INVOICE_NUMBER = invoice_number_of("invoice_key")

# Tables in the published file, in order, with the SQL that builds each from the operational file.
# ``{as_of}`` is the publish date (for days overdue); ``mask_pin(x)`` masks a personal identity number.
PUBLISHED: dict[str, str] = {
    "open_cases": """
        SELECT c.market, c.creditor, c.invoice_number, c.case_id, c.case_number, c.customer_name,
               mask_pin(c.customer_id_number) AS customer_id_number, c.currency,
               coalesce(r.claimed_capital, c.claimed_capital) AS claimed_capital,
               c.remaining_capital, c.remaining_interest, c.remaining_fees, c.remaining_total,
               c.state AS case_stage, c.status AS case_status, i.due_date,
               CASE WHEN i.due_date IS NOT NULL THEN greatest(date_diff('day', i.due_date, {as_of}), 0) END
                   AS days_overdue,
               c.registered_at, c.last_seen_at
        FROM src.cases c
        LEFT JOIN src.reconciliation r ON r.market = c.market AND r.case_id = c.case_id
        LEFT JOIN (SELECT invoice_key, due_date FROM src.latest_invoices) i ON i.invoice_key = c.invoice_key
        WHERE NOT c.is_closed
        ORDER BY c.market, c.creditor, c.invoice_number
    """,
    "settlements": """
        SELECT market, creditor, invoice_number, case_id, line_id, source AS line_kind, settlement_date,
               article, finance_category, currency, principal_amount AS principal, interest_amount AS interest,
               fee_amount AS fees, commission_amount AS commission, vat_amount AS vat, payout_amount AS paid_out,
               payout_id, payout_date, payout_reference
        FROM src.settlement_lines
        ORDER BY settlement_date, market, line_id
    """,
    "payouts": """
        SELECT market, creditor, payout_id, payout_date, payout_reference, status, currency,
               amount, vat_amount, total_amount, finance_interval
        FROM src.payouts ORDER BY payout_date, payout_id
    """,
    "reconciliation": """
        SELECT as_of, market, creditor, invoice_number, case_id, currency, status, claimed_capital,
               paid_principal, paid_interest, paid_fees, commission, vat, paid_out, paid_direct, credited,
               cancelled, remaining_capital, case_state AS case_stage, closed_reason, discrepancy_count
        FROM src.reconciliation ORDER BY market, creditor, invoice_number
    """,
    "reconciliation_by_creditor": "SELECT * FROM src.reconciliation_by_creditor ORDER BY market, creditor",
    "reconciliation_by_period": """
        SELECT market, creditor, currency, period, cases, paid_principal, paid_interest, paid_fees, commission,
               vat, paid_out
        FROM src.reconciliation_by_creditor_period ORDER BY period, market, creditor
    """,
    "discrepancies": f"""
        SELECT as_of, market, creditor, {_INVOICE_NUMBER} AS invoice_number, case_id, line_id,
               reason, severity, amount, detail
        FROM src.reconciliation_discrepancies ORDER BY severity, reason, market, creditor
    """,
    "quarantine": f"""
        SELECT split_part(invoice_key, '/', 1) AS creditor, {_INVOICE_NUMBER} AS invoice_number,
               source, partition_date AS extracted_for, rule, field,
               CASE WHEN field ILIKE '%id_number%' OR rule ILIKE '%id_number%' OR rule ILIKE '%pin%'
                    THEN mask_pin(value) ELSE value END AS value,
               message, location, row_number
        FROM src.quarantine ORDER BY creditor, invoice_number, rule
    """,
    "rejections": """
        SELECT market, creditor, invoice_number, CAST(rejection_json AS VARCHAR) AS amili_issues,
               last_error AS message, updated_at AS rejected_at
        FROM src.rejections ORDER BY market, creditor, invoice_number
    """,
    "ageing_buckets": f"""
        WITH o AS (
            SELECT market, creditor, currency, remaining_capital, remaining_total,
                   days_overdue AS d
            FROM pub.open_cases
        )
        SELECT {_BUCKET} AS bucket, {_BUCKET_ORDER} AS bucket_order,
               market, creditor, currency, count(*) AS cases,
               sum(remaining_capital) AS remaining_capital, sum(remaining_total) AS remaining_total
        FROM o GROUP BY ALL ORDER BY bucket_order, market, creditor
    """,
}

# The same rule as ``domain.masking.mask_id_number`` (tested to agree), as a SQL macro so masking
# happens inside DuckDB without a Python UDF: keep the first 8 digits of a 12-digit number (6
# otherwise), replace every later digit with "*", keep separators.
MASK_MACRO = """
CREATE OR REPLACE TEMP MACRO {name}(v) AS CASE WHEN v IS NULL THEN NULL ELSE array_to_string(
  list_transform(string_split(v, ''), lambda ch, i: CASE WHEN regexp_matches(ch, '^[0-9]$')
     AND length(regexp_replace(v[1:i], '[^0-9]', '', 'g')) >
         (CASE WHEN length(regexp_replace(v, '[^0-9]', '', 'g')) >= 12 THEN 8 ELSE 6 END)
     THEN '*' ELSE ch END), '') END
"""


# Identifiers analysts join on, left as they are: assigned by Amili (cases, lines, payouts) or the
# number of an invoice that passed validation. A quarantined invoice's number is masked by content
# (it may be a personnummer that a shifted column put there).
IDENTIFIER_COLUMNS = frozenset({"market", "creditor", "currency", "case_id", "case_number", "line_id", "payout_id",
                                "payout_reference", "invoice_number", "customer_id_number"})
MASKED_IDENTIFIERS = {"quarantine": frozenset({"invoice_number"})}
# Every identity number has six digits in a row (the date part): only such values are looked at.
_CANDIDATE = "[0-9]{6}"


def _mask_text_columns(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """Mask identity numbers by content in every text column of ``pub.<table>`` but identifiers."""
    columns = [c for (c,) in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'pub' AND table_name = ? "
        "AND data_type = 'VARCHAR'", [table]).fetchall()]
    keep = IDENTIFIER_COLUMNS - MASKED_IDENTIFIERS.get(table, frozenset())
    for col in columns:
        if col in keep:
            continue
        found = conn.execute(f'SELECT DISTINCT "{col}" FROM pub."{table}" WHERE regexp_matches("{col}", ?)',
                             [_CANDIDATE]).fetchall()
        changes = [(v, m) for (v,) in found if (m := mask_identity_numbers(v)) != v]
        if not changes:
            continue
        masks = pa.table({"original": [v for v, _ in changes], "masked": [m for _, m in changes]})
        view = f"mask_{uuid.uuid4().hex[:8]}"
        conn.register(view, masks)
        try:
            conn.execute(f'UPDATE pub."{table}" t SET "{col}" = m.masked FROM {view} m WHERE t."{col}" = m.original')
        finally:
            conn.unregister(view)


def _quoted(text: str) -> str:
    """``text`` inside a SQL string literal (a folder may be called "O'Brien")."""
    return text.replace("'", "''")


class DuckDBAnalyticsStore:
    def __init__(self, session: Session) -> None:
        self.db = session

    def publish(self, *, analytics_path: str | Path, as_of: date, published_at: str) -> dict[str, int]:
        """Rebuild the analysts' file and swap it into place atomically; row counts per table."""
        conn = self.db.conn
        target = Path(analytics_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        src_catalog = conn.execute("SELECT current_database()").fetchall()[0][0]
        mask = f"mask_pin_{uuid.uuid4().hex[:8]}"
        conn.execute(MASK_MACRO.format(name=mask))
        counts: dict[str, int] = {}
        attached = False
        try:
            conn.execute(f"ATTACH '{_quoted(tmp.as_posix())}' AS pub")
            attached = True
            for name, sql in PUBLISHED.items():
                body = (
                    sql.replace("src.", f'"{src_catalog}".')
                    .replace("mask_pin(", f"{mask}(")
                    .replace("{as_of}", f"DATE '{as_of.isoformat()}'")
                )
                conn.execute(f"CREATE TABLE pub.{name} AS {body}")
                _mask_text_columns(conn, name)
                counts[name] = self.db.scalar(f"SELECT count(*) FROM pub.{name}")
            conn.execute(
                "CREATE TABLE pub.publish_info AS SELECT ?::TIMESTAMP AS published_at, ?::DATE AS as_of, ? AS tables",
                [published_at, as_of, ", ".join(counts)],
            )
            conn.execute("CHECKPOINT pub")
            conn.execute("DETACH pub")
            attached = False
            # A write-ahead log next to the published file belongs to the copy being replaced (a tool
            # that opened it read-write wrote it, or died leaving it): next to the new copy DuckDB
            # would refuse to open the file at all ("WAL does not match"), for every reader.
            target.with_name(target.name + ".wal").unlink(missing_ok=True)
            os.replace(tmp, target)  # atomic on POSIX and Windows (same directory)
        finally:
            if attached:
                try:
                    conn.execute("DETACH pub")
                except duckdb.Error:
                    pass
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                if leftover.exists():
                    leftover.unlink()
            try:
                conn.execute(f"DROP MACRO IF EXISTS temp.{mask}")
            except duckdb.Error:  # best effort; the name is unique anyway
                pass
        return counts
