"""Storing extracted invoices and their issues, in bulk through Arrow.

A partition is replaced per source: ``clear_extraction`` then one ``append_extraction`` per
chunk, inside the caller's transaction, so a re-run or backfill of a day never duplicates rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone

import duckdb
import pyarrow as pa

from amili_pipelines.domain.validated import ValidatedInvoice

_INVOICE_COLUMNS = (
    "partition_date", "source", "invoice_key", "creditor", "market", "location", "row_number",
    "invoice_number", "invoice_date", "due_date", "currency", "total_amount", "open_balance",
    "customer_kind", "customer_name", "customer_id_number", "payment_reference", "line_count",
    "content_hash", "is_valid", "invoice_json", "extracted_at",
)
_ISSUE_COLUMNS = (
    "partition_date", "source", "invoice_key", "rule", "severity", "field", "value", "message",
    "location", "row_number",
)


def clear_extraction(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str) -> None:
    conn.execute("DELETE FROM extracted_invoices WHERE partition_date = ? AND source = ?", [partition_date, source])
    conn.execute("DELETE FROM invoice_issues WHERE partition_date = ? AND source = ?", [partition_date, source])


def append_extraction(
    conn: duckdb.DuckDBPyConnection,
    *,
    partition_date: date,
    source: str,
    validated: Sequence[ValidatedInvoice],
    extracted_at: datetime | None = None,
) -> None:
    """Insert one chunk of validated invoices and their issues."""
    if not validated:
        return
    extracted_at = extracted_at or datetime.now(timezone.utc).replace(tzinfo=None)
    cols: dict[str, list] = {c: [] for c in _INVOICE_COLUMNS}
    issue_cols: dict[str, list] = {c: [] for c in _ISSUE_COLUMNS}
    for v in validated:
        inv = v.invoice
        key = inv.invoice_key
        values = (
            partition_date, source, key, inv.creditor, inv.market.value, inv.location, inv.row,
            inv.invoice_number, inv.invoice_date, inv.due_date, inv.currency, inv.total_amount, inv.open_balance,
            inv.customer_kind.value if inv.customer_kind else None, inv.customer_name, inv.customer_id_number,
            inv.payment_reference, len(inv.lines), inv.content_hash, v.is_valid, inv.model_dump_json(),
            extracted_at,
        )
        for c, val in zip(_INVOICE_COLUMNS, values, strict=True):
            cols[c].append(val)
        for issue in v.issues:
            row = (
                partition_date, source, key, issue.rule, issue.severity.value, issue.field, issue.value,
                issue.message, issue.location, issue.row,
            )
            for c, val in zip(_ISSUE_COLUMNS, row, strict=True):
                issue_cols[c].append(val)
    invoices_tbl = pa.table(cols)  # noqa: F841 - read by name in the SQL below
    conn.execute(f"INSERT INTO extracted_invoices ({', '.join(_INVOICE_COLUMNS)}) SELECT * FROM invoices_tbl")
    if issue_cols["rule"]:
        issues_tbl = pa.table(issue_cols)  # noqa: F841
        conn.execute(f"INSERT INTO invoice_issues ({', '.join(_ISSUE_COLUMNS)}) SELECT * FROM issues_tbl")
