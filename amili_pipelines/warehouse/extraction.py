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


def extraction_tables(
    *,
    partition_date: date,
    source: str,
    validated: Sequence[ValidatedInvoice],
    extracted_at: datetime | None = None,
) -> tuple[pa.Table | None, pa.Table | None]:
    """Arrow tables (extracted invoices, their issues) for one chunk, without touching a connection
    (so a worker process can build them); :func:`insert_tables` stores them."""
    if not validated:
        return None, None
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
        if v.issues:
            issues.extend((key, i) for i in v.issues)
    n = len(validated)
    cols["partition_date"] = [partition_date] * n
    cols["source"] = [source] * n
    cols["extracted_at"] = [extracted_at] * n
    return pa.table(cols), issues_table(partition_date=partition_date, source=source, issues=issues)


def insert_tables(conn: duckdb.DuckDBPyConnection, *, invoices: pa.Table | None = None,
                  issues: pa.Table | None = None, balances: pa.Table | None = None) -> None:
    """Store tables from :func:`extraction_tables`, :func:`issues_table` and :func:`balances_table`."""
    if invoices is not None and invoices.num_rows:
        invoices_tbl = invoices  # noqa: F841 - read by name in the SQL below
        conn.execute(
            f"INSERT INTO extracted_invoices ({', '.join(_INVOICE_COLUMNS)}) "
            f"SELECT {_select(_INVOICE_COLUMNS, _DECIMAL_COLUMNS)} FROM invoices_tbl"
        )
    if issues is not None and issues.num_rows:
        issues_tbl = issues  # noqa: F841
        conn.execute(f"INSERT INTO invoice_issues ({', '.join(_ISSUE_COLUMNS)}) "
                     f"SELECT {', '.join(_ISSUE_COLUMNS)} FROM issues_tbl")
    if balances is not None and balances.num_rows:
        balances_tbl = balances  # noqa: F841
        conn.execute(
            f"INSERT INTO source_balances ({', '.join(_BALANCE_COLUMNS)}) "
            f"SELECT {_select(_BALANCE_COLUMNS, frozenset({'open_balance'}))} FROM balances_tbl"
        )


def append_extraction(
    conn: duckdb.DuckDBPyConnection,
    *,
    partition_date: date,
    source: str,
    validated: Sequence[ValidatedInvoice],
    extracted_at: datetime | None = None,
) -> None:
    """Insert one chunk of (provisionally) validated invoices and their issues."""
    invoices, issues = extraction_tables(partition_date=partition_date, source=source, validated=validated,
                                         extracted_at=extracted_at)
    insert_tables(conn, invoices=invoices, issues=issues)


def issues_table(
    *, partition_date: date, source: str | None, issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]]
) -> pa.Table | None:
    """Issues given as (invoice_key, issue) with a fixed ``source``, or (source, invoice_key, issue), as a table."""
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
        return None
    cols["partition_date"] = [partition_date] * n
    return pa.table(cols)


def append_issues(
    conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str | None, issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]]
) -> int:
    """Insert issues given as (invoice_key, issue) with a fixed ``source``, or (source, invoice_key, issue)."""
    tbl = issues_table(partition_date=partition_date, source=source, issues=issues)
    if tbl is None:
        return 0
    insert_tables(conn, issues=tbl)
    return tbl.num_rows


def balances_table(rows: list[tuple]) -> pa.Table | None:
    """Rows in ``_BALANCE_COLUMNS`` order (open_balance as Decimal or None) as a table."""
    if not rows:
        return None
    cols = {c: list(vals) for c, vals in zip(_BALANCE_COLUMNS, zip(*rows), strict=True)}
    cols["open_balance"] = [_dec(v) for v in cols["open_balance"]]
    return pa.table(cols)


def append_balances(conn: duckdb.DuckDBPyConnection, *, rows: list[tuple]) -> None:
    """Rows in ``_BALANCE_COLUMNS`` order (open_balance as Decimal or None)."""
    insert_tables(conn, balances=balances_table(rows))


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


# -- single-invoice rules checked at extract time -------------------------------------------------
# extract_source runs the single-invoice rules while it reads and stores their issues; it records
# here which rules version and reference scheme it used, so validate_partition only re-runs the
# cross-invoice rules for that source (and falls back to re-validating a source without a matching
# record, e.g. one extracted by an older version). Created on demand: 002 may already be applied.
_RULE_CHECKS_DDL = (
    "CREATE TABLE IF NOT EXISTS source_rule_checks (partition_date DATE NOT NULL, source VARCHAR NOT NULL,"
    " rules_version VARCHAR NOT NULL, reference_scheme VARCHAR, checked_at TIMESTAMP NOT NULL,"
    " PRIMARY KEY (partition_date, source))"
)
CROSS_RULES = ("invoice.number.unique", "invoice.conflict_across_sources", "invoice.duplicate_across_sources")


def record_rule_check(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str, rules_version: str,
                      reference_scheme: str | None) -> None:
    conn.execute(_RULE_CHECKS_DDL)
    conn.execute("DELETE FROM source_rule_checks WHERE partition_date = ? AND source = ?", [partition_date, source])
    conn.execute("INSERT INTO source_rule_checks VALUES (?, ?, ?, ?, ?)",
                 [partition_date, source, rules_version, reference_scheme, _now()])


def rule_checks(conn: duckdb.DuckDBPyConnection, *, partition_date: date) -> dict[str, tuple[str, str | None]]:
    """source -> (rules_version, reference_scheme) of the partition's extractions."""
    conn.execute(_RULE_CHECKS_DDL)
    rows = conn.execute("SELECT source, rules_version, reference_scheme FROM source_rule_checks"
                        " WHERE partition_date = ?", [partition_date]).fetchall()
    return {s: (v, r) for s, v, r in rows}


def partition_sources(conn: duckdb.DuckDBPyConnection, *, partition_date: date) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT source FROM extracted_invoices WHERE partition_date = ?"
                                       " ORDER BY source", [partition_date]).fetchall()]


def iter_source_invoice_json(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str,
                             batch_rows: int = 20_000) -> Iterable[list[str]]:
    """invoice_json of one source's extracted invoices, ``batch_rows`` at a time (bounded memory).

    Keyset pages by rowid, so the caller may write to the connection between pages.
    """
    last = -1
    while True:
        rows = conn.execute(
            "SELECT rowid, invoice_json::VARCHAR FROM extracted_invoices WHERE partition_date = ? AND source = ?"
            " AND rowid > ? ORDER BY rowid LIMIT ?", [partition_date, source, last, batch_rows]).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [r[1] for r in rows]


def delete_issues(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str | None = None,
                  rules: Sequence[str] | None = None) -> None:
    sql, params = "DELETE FROM invoice_issues WHERE partition_date = ?", [partition_date]
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    if rules is not None:
        sql += f" AND rule IN ({', '.join('?' for _ in rules)})"
        params.extend(rules)
    conn.execute(sql, params)


def duplicate_number_rows(conn: duckdb.DuckDBPyConnection, *, partition_date: date) -> list[tuple]:
    """Rows whose (creditor, invoice number) occurs more than once in the partition, in validation order:
    (source, creditor, invoice_number, location, row_number, open_balance text, customer_id_number,
    due_date, currency)."""
    return conn.execute(
        """
        WITH d AS (
            SELECT creditor, invoice_number FROM extracted_invoices
            WHERE partition_date = ? AND invoice_number IS NOT NULL AND invoice_number <> ''
            GROUP BY ALL HAVING count(*) > 1
        )
        SELECT e.source, e.creditor, e.invoice_number, e.location, e.row_number,
               json_extract_string(e.invoice_json, '$.open_balance'), e.customer_id_number, e.due_date, e.currency
        FROM extracted_invoices e JOIN d USING (creditor, invoice_number)
        WHERE e.partition_date = ?
        ORDER BY e.source, e.location, e.row_number
        """,
        [partition_date, partition_date],
    ).fetchall()


def set_verdicts_from_issues(conn: duckdb.DuckDBPyConnection, *, partition_date: date) -> None:
    """is_valid = no error-severity issue on the (source, invoice key), for the whole partition."""
    conn.execute(
        """
        UPDATE extracted_invoices SET is_valid = v.ok FROM (
            SELECT e.rowid AS rid, b.invoice_key IS NULL AS ok
            FROM extracted_invoices e
            LEFT JOIN (SELECT DISTINCT source, invoice_key FROM invoice_issues
                       WHERE partition_date = ? AND severity = 'error') b
              ON b.source = e.source AND b.invoice_key = e.invoice_key
            WHERE e.partition_date = ?
        ) v
        WHERE extracted_invoices.rowid = v.rid AND extracted_invoices.is_valid <> v.ok
        """,
        [partition_date, partition_date],
    )


def verdict_summary(conn: duckdb.DuckDBPyConnection, *, partition_date: date) -> tuple[list[tuple], list[tuple], int]:
    """(per source: source, extracted, valid), (per rule: rule, invoices, example), warning issues.

    An issue belongs to the invoice of its source and key that starts at or before its row in the
    same location (tabular invoices are consecutive records), so a rule counts each invoice once
    even when an invoice number occurs twice in one source.
    """
    per_source = conn.execute(
        "SELECT source, count(*), count(*) FILTER (WHERE is_valid) FROM extracted_invoices"
        " WHERE partition_date = ? GROUP BY source ORDER BY source", [partition_date]).fetchall()
    per_rule = conn.execute(
        """
        WITH i AS (SELECT * FROM invoice_issues WHERE partition_date = ?),
             e AS (SELECT source, invoice_key, location, row_number FROM extracted_invoices WHERE partition_date = ?),
             m AS (
                SELECT i.rule, i.message, i.source, i.location, i.row_number,
                       (i.source, i.invoice_key, coalesce(e.location, i.location), e.row_number) AS inv
                FROM i ASOF LEFT JOIN e
                  ON e.source = i.source AND e.invoice_key = i.invoice_key AND e.location = i.location
                 AND e.row_number <= i.row_number
             )
        SELECT rule, count(DISTINCT inv), arg_min(message, (source, location, row_number))
        FROM m GROUP BY rule
        """, [partition_date, partition_date]).fetchall()
    warnings = conn.execute("SELECT count(*) FROM invoice_issues WHERE partition_date = ? AND severity = 'warning'",
                            [partition_date]).fetchone()
    return per_source, per_rule, int(warnings[0]) if warnings else 0
