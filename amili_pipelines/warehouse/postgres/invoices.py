"""PostgreSQL: extracted invoices, their issues, source balances, files read and validation verdicts.

The same contract as :mod:`amili_pipelines.warehouse.duckdb.invoices`; bulk writes go through
COPY, keyset pages use the surrogate ``id`` where DuckDB uses its rowid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
from pydantic import TypeAdapter

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validation.plausibility import ClaimHistory, ClaimRow
from amili_pipelines.warehouse.common.duplicate_numbers import DuplicateNumberReads
from amili_pipelines.warehouse.common.valid_invoices import ValidInvoiceReads
from amili_pipelines.warehouse.invoices import RuleVerdicts, SourceVerdicts
from amili_pipelines.warehouse.postgres.connection import PgSession
from amili_pipelines.warehouse.tables import BALANCE_COLUMNS, INVOICE_COLUMNS, ISSUE_COLUMNS, issues_table

_INVOICES = TypeAdapter(list[SourceInvoice])


class PgInvoiceStore(ValidInvoiceReads, DuplicateNumberReads):
    def __init__(self, session: PgSession) -> None:
        self.db = session

    # -- extraction -------------------------------------------------------------------------------

    def clear_partition(self, *, partition_date: date, source: str) -> None:
        for table in ("extracted_invoices", "invoice_issues", "source_balances", "source_files"):
            self.db.execute(f"DELETE FROM {table} WHERE partition_date = ? AND source = ?", [partition_date, source])

    def forget_balances(self, *, partition_date: date, source: str) -> None:
        self.db.execute("DELETE FROM source_balances WHERE partition_date = ? AND source = ?", [partition_date, source])

    def insert(self, *, invoices: pa.Table | None = None, issues: pa.Table | None = None,
               balances: pa.Table | None = None) -> None:
        if invoices is not None and invoices.num_rows:
            self.db.copy_arrow("extracted_invoices", invoices, columns=INVOICE_COLUMNS)
        if issues is not None and issues.num_rows:
            self.db.copy_arrow("invoice_issues", issues, columns=ISSUE_COLUMNS)
        if balances is not None and balances.num_rows:
            self.db.copy_arrow("source_balances", balances, columns=BALANCE_COLUMNS)

    def file_already_read(self, *, source: str, path: str, fingerprint: str, partition_date: date) -> bool:
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
            "INSERT INTO source_files (source, path, fingerprint, size_bytes, rows_read, read_at, partition_date,"
            " pending_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, path, fingerprint) DO UPDATE SET"
            " size_bytes = EXCLUDED.size_bytes, rows_read = EXCLUDED.rows_read, read_at = EXCLUDED.read_at,"
            " partition_date = EXCLUDED.partition_date, pending_rows = EXCLUDED.pending_rows",
            [source, path, fingerprint, size_bytes, rows_read, utcnow(), partition_date, pending_rows],
        )

    def record_extraction(self, *, partition_date: date, source: str, creditor: str, counts: dict[str, int],
                          errors: list[str]) -> None:
        cols = ("rows_read", "extracted", "skipped_paid", "skipped_not_due", "files_read", "files_unchanged",
                "files_failed", "parse_issue_count")
        self.db.execute(
            f"INSERT INTO source_extractions (partition_date, source, creditor, {', '.join(cols)}, errors, extracted_at)"
            f" VALUES (?, ?, ?, {', '.join('?' for _ in cols)}, ?, ?) ON CONFLICT (partition_date, source) DO UPDATE"
            " SET creditor = EXCLUDED.creditor, " + ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
            + ", errors = EXCLUDED.errors, extracted_at = EXCLUDED.extracted_at",
            [partition_date, source, creditor, *(counts[c] for c in cols), json.dumps(errors, ensure_ascii=False),
             utcnow()],
        )

    def extraction_errors(self, *, partition_date: date) -> dict[str, list[str]]:
        rows = self.db.execute("SELECT source, errors::text FROM source_extractions WHERE partition_date = ?"
                               " ORDER BY source", [partition_date]).fetchall()
        return {source: json.loads(errors) if errors else [] for source, errors in rows}

    # -- single-invoice rules checked at extract time ---------------------------------------------

    def record_rule_check(self, *, partition_date: date, source: str, rules_version: str,
                          reference_scheme: str | None) -> None:
        self.db.execute(
            "INSERT INTO source_rule_checks VALUES (?, ?, ?, ?, ?) ON CONFLICT (partition_date, source) DO UPDATE"
            " SET rules_version = EXCLUDED.rules_version, reference_scheme = EXCLUDED.reference_scheme,"
            " checked_at = EXCLUDED.checked_at",
            [partition_date, source, rules_version, reference_scheme, utcnow()])

    def rule_checks(self, *, partition_date: date) -> dict[str, tuple[str, str | None]]:
        rows = self.db.execute("SELECT source, rules_version, reference_scheme FROM source_rule_checks"
                               " WHERE partition_date = ?", [partition_date]).fetchall()
        return {s: (v, r) for s, v, r in rows}

    def partition_sources(self, *, partition_date: date) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT source FROM extracted_invoices WHERE partition_date = ? ORDER BY source",
            [partition_date]).fetchall()]

    def iter_invoices(self, *, partition_date: date, source: str, batch_rows: int = 20_000,
                      ) -> Iterator[list[SourceInvoice]]:
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, invoice_json::text FROM extracted_invoices WHERE partition_date = ? AND source = ?"
                " AND id > ? ORDER BY id LIMIT ?", [partition_date, source, last, batch_rows]).fetchall()
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
            sql += " AND rule = ANY(?)"
            params.append(list(rules))
        self.db.execute(sql, params)

    def append_issues(self, *, partition_date: date, source: str | None,
                      issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]]) -> int:
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
            JOIN unnest(CAST(? AS TEXT[]), CAST(? AS NUMERIC(18, 2)[])) AS t(creditor, threshold) USING (creditor)
            WHERE e.partition_date = ? AND e.open_balance > t.threshold
            ORDER BY e.source, e.location, e.row_number
            """,
            [list(creditors), list(limits), partition_date],
        ).fetchall()
        return [ClaimRow(*r) for r in rows]

    def claim_history(self, *, before: date, days: int = 365) -> dict[str, ClaimHistory]:
        rows = self.db.execute(
            """
            SELECT creditor, count(*), CAST(percentile_cont(0.95) WITHIN GROUP (ORDER BY open_balance)
                                            AS NUMERIC(18, 2))
            FROM (SELECT creditor, invoice_key, max(open_balance) AS open_balance FROM extracted_invoices
                  WHERE partition_date < ? AND partition_date >= ? AND is_valid AND open_balance IS NOT NULL
                  GROUP BY creditor, invoice_key) claims
            GROUP BY creditor
            """,
            [before, before - timedelta(days=days)],
        ).fetchall()
        return {c: ClaimHistory(invoices=n, p95=p95) for c, n, p95 in rows}

    def set_verdicts_from_issues(self, *, partition_date: date) -> None:
        self.db.execute(
            """
            UPDATE extracted_invoices e SET is_valid = NOT EXISTS (
                SELECT 1 FROM invoice_issues i WHERE i.partition_date = e.partition_date AND i.source = e.source
                  AND i.invoice_key = e.invoice_key AND i.severity = 'error')
            WHERE e.partition_date = ? AND e.is_valid IS DISTINCT FROM NOT EXISTS (
                SELECT 1 FROM invoice_issues i WHERE i.partition_date = e.partition_date AND i.source = e.source
                  AND i.invoice_key = e.invoice_key AND i.severity = 'error')
            """,
            [partition_date],
        )

    def verdict_summary(self, *, partition_date: date) -> tuple[list[SourceVerdicts], list[RuleVerdicts], int]:
        """As the DuckDB store: an issue belongs to the invoice of its source and key that starts at
        or before its row in the same location (a LATERAL lookup where DuckDB has an ASOF join)."""
        per_source = self.db.execute(
            "SELECT source, count(*), count(*) FILTER (WHERE is_valid) FROM extracted_invoices"
            " WHERE partition_date = ? GROUP BY source ORDER BY source", [partition_date]).fetchall()
        per_rule = self.db.execute(
            """
            WITH m AS (
                SELECT i.rule, i.message, i.source, i.location, i.row_number,
                       concat_ws('|', i.source, i.invoice_key, coalesce(e.location, i.location),
                                 CAST(e.row_number AS TEXT)) AS inv
                FROM invoice_issues i
                LEFT JOIN LATERAL (
                    SELECT x.location, x.row_number FROM extracted_invoices x
                    WHERE x.partition_date = i.partition_date AND x.source = i.source
                      AND x.invoice_key = i.invoice_key AND x.location = i.location AND x.row_number <= i.row_number
                    ORDER BY x.row_number DESC LIMIT 1
                ) e ON true
                WHERE i.partition_date = ?
            )
            SELECT rule, count(DISTINCT inv),
                   (array_agg(message ORDER BY source, location, row_number))[1]
            FROM m GROUP BY rule
            """, [partition_date]).fetchall()
        warnings = self.db.scalar(
            "SELECT count(*) FROM invoice_issues WHERE partition_date = ? AND severity = 'warning'", [partition_date])
        return ([SourceVerdicts(*r) for r in per_source], [RuleVerdicts(*r) for r in per_rule], int(warnings or 0))

    # -- what registration reads ---------------------------------------------------------------------

