"""DuckDB: extracted invoices, their issues, source balances, files read and validation verdicts.

A partition is replaced per source: ``clear_partition`` then one ``insert`` per chunk, inside
the caller's transaction, so a re-run or backfill of a day never duplicates rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal

import pyarrow as pa
from pydantic import TypeAdapter

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validation.plausibility import ClaimHistory, ClaimRow
from amili_pipelines.warehouse.common.duplicate_numbers import DuplicateNumberReads
from amili_pipelines.warehouse.common.valid_invoices import ValidInvoiceReads
from amili_pipelines.warehouse.duckdb.connection import Session
from amili_pipelines.warehouse.invoices import (
    RuleVerdicts,
    SourceVerdicts,
)
from amili_pipelines.warehouse.tables import (
    BALANCE_COLUMNS,
    BALANCE_DECIMALS,
    INVOICE_COLUMNS,
    INVOICE_DECIMALS,
    ISSUE_COLUMNS,
    issues_table,
)

_INVOICES = TypeAdapter(list[SourceInvoice])


def _select(columns: Sequence[str], decimals: frozenset[str] = frozenset()) -> str:
    return ", ".join(f"CAST({c} AS DECIMAL(18, 2))" if c in decimals else c for c in columns)


class DuckDBInvoiceStore(ValidInvoiceReads, DuplicateNumberReads):
    def __init__(self, session: Session) -> None:
        self.db = session

    # -- extraction -------------------------------------------------------------------------------

    def clear_partition(self, *, partition_date: date, source: str) -> None:
        for table in ("extracted_invoices", "invoice_issues", "source_balances", "source_files"):
            self.db.execute(f"DELETE FROM {table} WHERE partition_date = ? AND source = ?", [partition_date, source])

    def forget_balances(self, *, partition_date: date, source: str) -> None:
        self.db.execute("DELETE FROM source_balances WHERE partition_date = ? AND source = ?", [partition_date, source])

    def insert(self, *, invoices: pa.Table | None = None, issues: pa.Table | None = None,
               balances: pa.Table | None = None) -> None:
        """Store tables built by :mod:`amili_pipelines.warehouse.tables`."""
        # Through a relation, not register/unregister: inside the extraction's one transaction an
        # unregistered view keeps its Arrow table alive until COMMIT, so memory grew with the
        # partition (2.5 GB for 1M invoices) instead of staying at one chunk.
        conn = self.db.conn
        if invoices is not None and invoices.num_rows:
            conn.from_arrow(invoices).query(
                "_invoices_in", f"INSERT INTO extracted_invoices ({', '.join(INVOICE_COLUMNS)}) "
                                f"SELECT {_select(INVOICE_COLUMNS, INVOICE_DECIMALS)} FROM _invoices_in")
        if issues is not None and issues.num_rows:
            conn.from_arrow(issues).query(
                "_issues_in", f"INSERT INTO invoice_issues ({', '.join(ISSUE_COLUMNS)}) "
                              f"SELECT {', '.join(ISSUE_COLUMNS)} FROM _issues_in")
        if balances is not None and balances.num_rows:
            conn.from_arrow(balances).query(
                "_balances_in", f"INSERT INTO source_balances ({', '.join(BALANCE_COLUMNS)}) "
                                f"SELECT {_select(BALANCE_COLUMNS, BALANCE_DECIMALS)} FROM _balances_in")

    def file_already_read(self, *, source: str, path: str, fingerprint: str, partition_date: date) -> bool:
        """True when this exact content was read by an earlier partition and held nothing pending."""
        return bool(self.db.scalar(
            "SELECT count(*) FROM source_files WHERE source = ? AND path = ? AND fingerprint = ?"
            " AND coalesce(partition_date, DATE '1900-01-01') <> ? AND coalesce(pending_rows, 0) = 0",
            [source, path, fingerprint, partition_date],
        ))

    def carry_forward_balances(self, *, source: str, path: str, fingerprint: str, partition_date: date) -> int:
        """An unchanged file skipped in ``partition_date``: its balances as last read, again for this day."""
        return len(self.db.execute(
            "INSERT INTO source_balances (partition_date, source, creditor, invoice_key, invoice_number, open_balance,"
            " due_date, status, is_unpaid, location, row_number, recorded_at)"
            " SELECT ?, b.source, b.creditor, b.invoice_key, b.invoice_number, b.open_balance, b.due_date, b.status,"
            " b.is_unpaid, b.location, b.row_number, b.recorded_at"
            " FROM source_balances b JOIN source_files f"
            "   ON f.source = b.source AND f.path = b.location AND f.partition_date = b.partition_date"
            " WHERE f.source = ? AND f.path = ? AND f.fingerprint = ? AND b.partition_date <> ?"
            " RETURNING 1", [partition_date, source, path, fingerprint, partition_date]).fetchall())

    def record_file(self, *, source: str, path: str, fingerprint: str, size_bytes: int, rows_read: int,
                    pending_rows: int, partition_date: date) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_files (source, path, fingerprint, size_bytes, rows_read, read_at,"
            " partition_date, pending_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [source, path, fingerprint, size_bytes, rows_read, utcnow(), partition_date, pending_rows],
        )

    def record_extraction(self, *, partition_date: date, source: str, creditor: str, counts: dict[str, int],
                          errors: list[str]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_extractions (partition_date, source, creditor, rows_read, extracted,"
            " skipped_paid, skipped_not_due, files_read, files_unchanged, files_failed, parse_issue_count, errors,"
            " extracted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [partition_date, source, creditor, counts["rows_read"], counts["extracted"], counts["skipped_paid"],
             counts["skipped_not_due"], counts["files_read"], counts["files_unchanged"], counts["files_failed"],
             counts["parse_issue_count"], json.dumps(errors, ensure_ascii=False), utcnow()],
        )

    def extraction_errors(self, *, partition_date: date) -> dict[str, list[str]]:
        """source -> what could not be read at all, as recorded by each source's newest extraction."""
        rows = self.db.execute("SELECT source, errors::VARCHAR FROM source_extractions WHERE partition_date = ?"
                               " ORDER BY source", [partition_date]).fetchall()
        return {source: json.loads(errors) if errors else [] for source, errors in rows}

    # -- single-invoice rules checked at extract time ---------------------------------------------

    def record_rule_check(self, *, partition_date: date, source: str, rules_version: str,
                          reference_scheme: str | None) -> None:
        self.db.execute("DELETE FROM source_rule_checks WHERE partition_date = ? AND source = ?",
                        [partition_date, source])
        self.db.execute("INSERT INTO source_rule_checks VALUES (?, ?, ?, ?, ?)",
                        [partition_date, source, rules_version, reference_scheme, utcnow()])

    def rule_checks(self, *, partition_date: date) -> dict[str, tuple[str, str | None]]:
        """source -> (rules_version, reference_scheme) of the partition's extractions."""
        rows = self.db.execute("SELECT source, rules_version, reference_scheme FROM source_rule_checks"
                               " WHERE partition_date = ?", [partition_date]).fetchall()
        return {s: (v, r) for s, v, r in rows}

    def partition_sources(self, *, partition_date: date) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT source FROM extracted_invoices WHERE partition_date = ? ORDER BY source",
            [partition_date]).fetchall()]

    def iter_invoices(self, *, partition_date: date, source: str, batch_rows: int = 20_000,
                      ) -> Iterator[list[SourceInvoice]]:
        """One source's extracted invoices, ``batch_rows`` at a time (bounded memory).

        Keyset pages by rowid, so the caller may write between pages.
        """
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT rowid, invoice_json::VARCHAR FROM extracted_invoices WHERE partition_date = ? AND source = ?"
                " AND rowid > ? ORDER BY rowid LIMIT ?", [partition_date, source, last, batch_rows]).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield _INVOICES.validate_json("[" + ",".join(r[1] for r in rows) + "]")

    # -- validation verdicts ------------------------------------------------------------------------

    def delete_issues(self, *, partition_date: date, source: str | None = None,
                      rules: Sequence[str] | None = None) -> None:
        sql, params = "DELETE FROM invoice_issues WHERE partition_date = ?", [partition_date]
        if source is not None:
            sql += " AND source = ?"
            params.append(source)
        if rules is not None:
            sql += f" AND rule IN ({', '.join('?' for _ in rules)})"
            params.extend(rules)
        self.db.execute(sql, params)

    def append_issues(self, *, partition_date: date, source: str | None,
                      issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]]) -> int:
        """Issues as (invoice_key, issue) with a fixed ``source``, or (source, invoice_key, issue)."""
        tbl = issues_table(partition_date=partition_date, source=source, issues=issues)
        if tbl is None:
            return 0
        self.insert(issues=tbl)
        return tbl.num_rows

    def claims_above(self, *, partition_date: date, thresholds: dict[str, Decimal]) -> list[ClaimRow]:
        if not thresholds:
            return []
        creditors, limits = zip(*sorted(thresholds.items()), strict=True)
        rows = self.db.execute(
            """
            SELECT e.source, e.creditor, e.invoice_key, e.location, e.row_number, e.open_balance, e.currency
            FROM extracted_invoices e
            JOIN (SELECT unnest(?::VARCHAR[]) AS creditor, unnest(?::DECIMAL(18, 2)[]) AS threshold) t
              USING (creditor)
            WHERE e.partition_date = ? AND e.open_balance > t.threshold
            ORDER BY e.source, e.location, e.row_number
            """,
            [list(creditors), list(limits), partition_date],
        ).fetchall()
        return [ClaimRow(*r) for r in rows]

    def claim_history(self, *, before: date, days: int = 365) -> dict[str, ClaimHistory]:
        rows = self.db.execute(
            """
            SELECT creditor, count(*), quantile_cont(CAST(open_balance AS DOUBLE), 0.95)::DECIMAL(18, 2)
            FROM (SELECT creditor, invoice_key, max(open_balance) AS open_balance FROM extracted_invoices
                  WHERE partition_date < ? AND partition_date >= ? - to_days(?) AND is_valid
                    AND open_balance IS NOT NULL
                  GROUP BY creditor, invoice_key)
            GROUP BY creditor
            """,
            [before, before, days],
        ).fetchall()
        return {c: ClaimHistory(invoices=n, p95=p95) for c, n, p95 in rows}

    def set_verdicts_from_issues(self, *, partition_date: date) -> None:
        """is_valid = no error-severity issue on the (source, invoice key), for the whole partition."""
        self.db.execute(
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

    def verdict_summary(self, *, partition_date: date) -> tuple[list[SourceVerdicts], list[RuleVerdicts], int]:
        """Per source (extracted, valid); per rule (invoices, example message); warning issues.

        An issue belongs to the invoice of its source and key that starts at or before its row in
        the same location (tabular invoices are consecutive records), so a rule counts each
        invoice once even when an invoice number occurs twice in one source.
        """
        per_source = self.db.execute(
            "SELECT source, count(*), count(*) FILTER (WHERE is_valid) FROM extracted_invoices"
            " WHERE partition_date = ? GROUP BY source ORDER BY source", [partition_date]).fetchall()
        per_rule = self.db.execute(
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
        warnings = self.db.scalar(
            "SELECT count(*) FROM invoice_issues WHERE partition_date = ? AND severity = 'warning'", [partition_date])
        return ([SourceVerdicts(*r) for r in per_source], [RuleVerdicts(*r) for r in per_rule], int(warnings or 0))

    # -- what registration reads ---------------------------------------------------------------------

