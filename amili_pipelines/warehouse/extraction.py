"""Storing extracted invoices, their issues, source balances and files read, in bulk through Arrow.

A partition is replaced per source: ``clear_extraction`` then one ``append_extraction`` per
chunk, inside the caller's transaction, so a re-run or backfill of a day never duplicates rows.
Decimals travel as text and are cast by DuckDB: building Arrow decimal128 arrays from Python
Decimals fails on values with more than two places, a cast rounds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pyarrow as pa

from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validated import ValidatedInvoice

_INVOICE_COLUMNS = (
    "partition_date", "source", "invoice_key", "creditor", "market", "location", "row_number",
    "invoice_number", "invoice_date", "due_date", "currency", "total_amount", "open_balance",
    "customer_kind", "customer_name", "customer_id_number", "payment_reference", "line_count",
    "content_hash", "is_valid", "invoice_json", "extracted_at",
)
_DECIMAL_COLUMNS = frozenset({"total_amount", "open_balance"})
_ISSUE_COLUMNS = (
    "partition_date", "source", "invoice_key", "rule", "severity", "field", "value", "message",
    "location", "row_number",
)
_BALANCE_COLUMNS = (
    "partition_date", "source", "creditor", "invoice_key", "invoice_number", "open_balance", "due_date",
    "status", "is_unpaid", "location", "row_number", "recorded_at",
)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _select(columns: Sequence[str], decimals: frozenset[str] = frozenset()) -> str:
    return ", ".join(f"CAST({c} AS DECIMAL(18, 2))" if c in decimals else c for c in columns)


def clear_extraction(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str) -> None:
    conn.execute("DELETE FROM extracted_invoices WHERE partition_date = ? AND source = ?", [partition_date, source])
    conn.execute("DELETE FROM invoice_issues WHERE partition_date = ? AND source = ?", [partition_date, source])
    conn.execute("DELETE FROM source_balances WHERE partition_date = ? AND source = ?", [partition_date, source])
    conn.execute("DELETE FROM source_files WHERE partition_date = ? AND source = ?", [partition_date, source])


def append_extraction(
    conn: duckdb.DuckDBPyConnection,
    *,
    partition_date: date,
    source: str,
    validated: Sequence[ValidatedInvoice],
    extracted_at: datetime | None = None,
) -> None:
    """Insert one chunk of (provisionally) validated invoices and their issues."""
    if not validated:
        return
    extracted_at = extracted_at or _now()
    cols: dict[str, list] = {c: [] for c in _INVOICE_COLUMNS}
    (c_key, c_cred, c_market, c_loc, c_row, c_num, c_idate, c_due, c_cur, c_total, c_bal, c_kind, c_name,
     c_id, c_ref, c_lines, c_hash, c_valid, c_json) = (cols[c] for c in _INVOICE_COLUMNS[2:-1])
    issues: list[tuple[str, Issue]] = []
    for v in validated:
        inv = v.invoice
        key = inv.invoice_key
        c_key.append(key)
        c_cred.append(inv.creditor)
        c_market.append(inv.market.value)
        c_loc.append(inv.location)
        c_row.append(inv.row)
        c_num.append(inv.invoice_number)
        c_idate.append(inv.invoice_date)
        c_due.append(inv.due_date)
        c_cur.append(inv.currency)
        c_total.append(_dec(inv.total_amount))
        c_bal.append(_dec(inv.open_balance))
        c_kind.append(inv.customer_kind.value if inv.customer_kind else None)
        c_name.append(inv.customer_name)
        c_id.append(inv.customer_id_number)
        c_ref.append(inv.payment_reference)
        c_lines.append(len(inv.lines))
        c_hash.append(inv.content_hash)
        c_valid.append(v.is_valid)
        c_json.append(inv.model_dump_json())
        issues.extend((key, i) for i in v.issues)
    n = len(validated)
    cols["partition_date"] = [partition_date] * n
    cols["source"] = [source] * n
    cols["extracted_at"] = [extracted_at] * n
    invoices_tbl = pa.table(cols)  # noqa: F841 - read by name in the SQL below
    conn.execute(
        f"INSERT INTO extracted_invoices ({', '.join(_INVOICE_COLUMNS)}) "
        f"SELECT {_select(_INVOICE_COLUMNS, _DECIMAL_COLUMNS)} FROM invoices_tbl"
    )
    if issues:
        append_issues(conn, partition_date=partition_date, source=source, issues=issues)


def append_issues(
    conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str | None, issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]]
) -> int:
    """Insert issues given as (invoice_key, issue) with a fixed ``source``, or (source, invoice_key, issue)."""
    cols: dict[str, list] = {c: [] for c in _ISSUE_COLUMNS}
    c_src, c_key, c_rule, c_sev, c_field, c_val, c_msg, c_loc, c_row = (cols[c] for c in _ISSUE_COLUMNS[1:])
    for item in issues:
        if source is None:
            src, key, i = item  # type: ignore[misc]
        else:
            (key, i), src = item, source  # type: ignore[misc]
        c_src.append(src)
        c_key.append(key)
        c_rule.append(i.rule)
        c_sev.append(i.severity.value)
        c_field.append(i.field)
        c_val.append(i.value)
        c_msg.append(i.message)
        c_loc.append(i.location)
        c_row.append(i.row)
    n = len(c_key)
    if not n:
        return 0
    cols["partition_date"] = [partition_date] * n
    issues_tbl = pa.table(cols)  # noqa: F841
    conn.execute(f"INSERT INTO invoice_issues ({', '.join(_ISSUE_COLUMNS)}) SELECT {', '.join(_ISSUE_COLUMNS)} FROM issues_tbl")
    return n


def append_balances(conn: duckdb.DuckDBPyConnection, *, rows: list[tuple]) -> None:
    """Rows in ``_BALANCE_COLUMNS`` order (open_balance as Decimal or None)."""
    if not rows:
        return
    cols = {c: list(vals) for c, vals in zip(_BALANCE_COLUMNS, zip(*rows), strict=True)}
    cols["open_balance"] = [_dec(v) for v in cols["open_balance"]]
    balances_tbl = pa.table(cols)  # noqa: F841
    conn.execute(
        f"INSERT INTO source_balances ({', '.join(_BALANCE_COLUMNS)}) "
        f"SELECT {_select(_BALANCE_COLUMNS, frozenset({'open_balance'}))} FROM balances_tbl"
    )


def file_already_read(conn: duckdb.DuckDBPyConnection, *, source: str, path: str, fingerprint: str,
                      partition_date: date) -> bool:
    """True when this exact content was read by an earlier partition and held nothing pending."""
    row = conn.execute(
        "SELECT count(*) FROM source_files WHERE source = ? AND path = ? AND fingerprint = ?"
        " AND coalesce(partition_date, DATE '1900-01-01') <> ? AND coalesce(pending_rows, 0) = 0",
        [source, path, fingerprint, partition_date],
    ).fetchone()
    return bool(row and row[0])


def record_file(conn: duckdb.DuckDBPyConnection, *, source: str, path: str, fingerprint: str, size_bytes: int,
                rows_read: int, pending_rows: int, partition_date: date) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO source_files (source, path, fingerprint, size_bytes, rows_read, read_at,"
        " partition_date, pending_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [source, path, fingerprint, size_bytes, rows_read, _now(), partition_date, pending_rows],
    )


def record_extraction_run(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str, creditor: str,
                          counts: dict[str, int], errors: list[str]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO source_extractions (partition_date, source, creditor, rows_read, extracted,"
        " skipped_paid, skipped_not_due, files_read, files_unchanged, files_failed, parse_issue_count, errors,"
        " extracted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [partition_date, source, creditor, counts["rows_read"], counts["extracted"], counts["skipped_paid"],
         counts["skipped_not_due"], counts["files_read"], counts["files_unchanged"], counts["files_failed"],
         counts["parse_issue_count"], json.dumps(errors, ensure_ascii=False), _now()],
    )


def partition_invoice_json(conn: duckdb.DuckDBPyConnection, *, partition_date: date) -> pa.Table:
    """rowid, source, invoice_json of every extracted invoice of a partition (all sources)."""
    return conn.sql(
        "SELECT rowid AS rid, source, invoice_json::VARCHAR AS invoice_json FROM extracted_invoices"
        " WHERE partition_date = ? ORDER BY source, location, row_number",
        params=[partition_date],
    ).to_arrow_table()


def replace_verdicts(
    conn: duckdb.DuckDBPyConnection, *, partition_date: date, rowids: Sequence[int], valid: Sequence[bool],
    issues: Iterable[tuple[str, str, Issue]],
) -> int:
    """Replace a partition's issues and set ``is_valid`` per extracted row (by rowid). Returns issue count."""
    conn.execute("DELETE FROM invoice_issues WHERE partition_date = ?", [partition_date])
    n = append_issues(conn, partition_date=partition_date, source=None, issues=issues)
    verdict_tbl = pa.table({"rid": pa.array(rowids, pa.int64()), "ok": pa.array(valid, pa.bool_())})  # noqa: F841
    conn.execute(
        "UPDATE extracted_invoices SET is_valid = v.ok FROM verdict_tbl v"
        " WHERE extracted_invoices.rowid = v.rid AND extracted_invoices.is_valid <> v.ok"
    )
    return n
