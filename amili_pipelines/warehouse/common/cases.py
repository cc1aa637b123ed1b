"""Amili cases (both markets) and the money lines and payouts reported for them, for both databases.

Every write is an idempotent upsert keyed by Amili's own ids: re-reading a case or a line
updates it in place (``first_seen_at`` kept, ``last_seen_at`` set now), never duplicates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from amili_pipelines.domain.cases import CaseRecord, PayoutRecord, SettlementLine
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.money import CENT
from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.tables import record_columns, records_table

CASE_COLUMNS = record_columns(CaseRecord)
LINE_COLUMNS = record_columns(SettlementLine)
PAYOUT_COLUMNS = record_columns(PayoutRecord)


def _upsert(session: SqlSession, table: str, key: tuple[str, str], records: Sequence[Any], columns: list[str],
            *, staged: str, booleans: frozenset[str] = frozenset()) -> tuple[int, int]:
    """Insert or update ``records`` (deduplicated by key, last wins); returns (inserted, updated).

    The rows are staged in temp table ``staged`` first, so the caller may adjust them with SQL
    (matching to invoices) before :func:`_merge_staged` writes them.
    """
    dedup = {(getattr(r, key[0]), getattr(r, key[1])): r for r in records}
    session.stage(staged, records_table(list(dedup.values()), columns, booleans=booleans), like=table)
    existing = session.scalar(f"SELECT count(*) FROM {staged} JOIN {table} USING ({key[0]}, {key[1]})")
    return len(dedup) - existing, existing


def _columns(columns: list[str]) -> str:
    """A select list that reads JSON columns back as the text they were written as (both databases)."""
    return ", ".join(f"CAST({c} AS VARCHAR) AS {c}" if c.endswith("_json") else c for c in columns)


def _merge_staged(session: SqlSession, table: str, key: tuple[str, str], columns: list[str], staged: str) -> None:
    now = utcnow()
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    session.execute(
        f"""INSERT INTO {table} ({cols}, first_seen_at, last_seen_at) SELECT {cols}, ?, ? FROM {staged}
            ON CONFLICT ({key[0]}, {key[1]}) DO UPDATE SET {updates}, last_seen_at = EXCLUDED.last_seen_at""",
        [now, now],
    )
    session.execute(f"DROP TABLE {staged}")


class SqlCaseStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def upsert_cases(self, cases: Sequence[CaseRecord]) -> tuple[int, int, int]:
        """Upsert cases keyed by (market, case_id), each matched to its invoice.

        Matching: by case id in the outbox first, then by creditor + invoice number (Sweden) or
        Amili invoice id (Norway). Returns (inserted, updated, unmatched: no outbox row).
        """
        if not cases:
            return 0, 0, 0
        with self.db.transaction():
            inserted, updated = _upsert(self.db, "cases", ("market", "case_id"), cases, CASE_COLUMNS,
                                        staged="_cases_in", booleans=frozenset({"is_closed"}))
            self.db.execute(
                """
                UPDATE _cases_in c SET invoice_key = o.invoice_key, creditor = coalesce(c.creditor, o.creditor)
                FROM registration_outbox o
                WHERE o.market = c.market AND o.case_id = c.case_id
                """
            )
            self.db.execute(
                """
                UPDATE _cases_in c SET invoice_key = o.invoice_key, creditor = coalesce(c.creditor, o.creditor)
                FROM registration_outbox o
                WHERE c.invoice_key IS NULL AND o.market = c.market
                  AND ((c.amili_invoice_id IS NOT NULL AND o.amili_invoice_id = c.amili_invoice_id)
                       OR (c.creditor IS NOT NULL AND o.creditor = c.creditor AND o.invoice_number = c.invoice_number))
                """
            )
            self.db.execute(
                """
                UPDATE _cases_in SET invoice_key = creditor || '/' || invoice_number
                WHERE invoice_key IS NULL AND creditor IS NOT NULL AND invoice_number IS NOT NULL
                """
            )
            # Amili's case model does not promise the debtor's identity number (reference B.6).
            self.db.execute(
                """
                UPDATE _cases_in c SET customer_id_number = nullif(i.customer_id_number, '')
                FROM latest_invoices i
                WHERE c.customer_id_number IS NULL AND i.invoice_key = c.invoice_key
                """
            )
            unmatched = self.db.scalar(
                """SELECT count(*) FROM _cases_in c WHERE NOT EXISTS (
                       SELECT 1 FROM registration_outbox o WHERE o.market = c.market AND o.invoice_key = c.invoice_key)"""
            )
            _merge_staged(self.db, "cases", ("market", "case_id"), CASE_COLUMNS, "_cases_in")
        return inserted, updated, unmatched

    def case(self, market: str, case_id: str) -> CaseRecord | None:
        rows = self.db.execute(f"SELECT {_columns(CASE_COLUMNS)} FROM cases WHERE market = ? AND case_id = ?",
                               [market, case_id]).fetchall()
        return CaseRecord(*rows[0]) if rows else None

    def se_cases_updated_until(self, amili_creditor: str | None = None) -> datetime | None:
        """Newest Swedish ``_updated`` already stored (the next incremental read starts there)."""
        return _newest_se_update(self.db, "cases", amili_creditor)

    def closed_count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM cases WHERE is_closed") or 0)

    def open_case_ids(self, market: str, creditor: str) -> set[str]:
        rows = self.db.execute("SELECT case_id FROM cases WHERE market = ? AND creditor = ? AND NOT is_closed",
                               [market, creditor]).fetchall()
        return {r[0] for r in rows}


class SqlSettlementStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def upsert_lines(self, lines: Sequence[SettlementLine]) -> tuple[int, int]:
        """Idempotent upsert by (market, line_id), then tie lines to their cases; (inserted, updated)."""
        with self.db.transaction():
            result = (0, 0)
            if lines:
                result = _upsert(self.db, "settlement_lines", ("market", "line_id"), lines, LINE_COLUMNS,
                                 staged="_lines_in")
                self._note_moves()
                _merge_staged(self.db, "settlement_lines", ("market", "line_id"), LINE_COLUMNS, "_lines_in")
            self._resolve_line_cases()
        return result

    def upsert_payouts(self, payouts: Sequence[PayoutRecord]) -> tuple[int, int]:
        if not payouts:
            return 0, 0
        with self.db.transaction():
            result = _upsert(self.db, "payouts", ("market", "payout_id"), payouts, PAYOUT_COLUMNS, staged="_payouts_in")
            _merge_staged(self.db, "payouts", ("market", "payout_id"), PAYOUT_COLUMNS, "_payouts_in")
        return result

    def _note_moves(self) -> None:
        """A line read again under another case leaves the case it left for the reconciliation to
        recompute (its new case is on the line itself, with the time it was read)."""
        self.db.execute(
            """
            INSERT INTO reconciliation_changes (market, case_id, changed_at)
            SELECT DISTINCT o.market, o.case_id, CAST(? AS TIMESTAMP)
            FROM settlement_lines o JOIN _lines_in i ON i.market = o.market AND i.line_id = o.line_id
            WHERE o.case_id IS NOT NULL AND (i.case_id IS NULL OR i.case_id <> o.case_id)
            """,
            [utcnow()],
        )

    def _resolve_line_cases(self) -> None:
        """Attach case id, creditor and invoice key to lines that lack them (case known later);
        ``linked_at`` tells the reconciliation the line changed."""
        now = utcnow()
        # Norway: by Amili invoice id, then by case number, against the cases table, then the outbox.
        self.db.execute(
            """
            UPDATE settlement_lines l SET case_id = coalesce(l.case_id, c.case_id),
                   creditor = coalesce(l.creditor, c.creditor), invoice_key = coalesce(l.invoice_key, c.invoice_key),
                   linked_at = ?
            FROM cases c
            WHERE l.market = c.market AND (l.case_id IS NULL OR l.invoice_key IS NULL)
              AND ((l.case_id IS NOT NULL AND l.case_id = c.case_id)
                   OR (l.case_id IS NULL AND l.amili_invoice_id IS NOT NULL AND l.amili_invoice_id = c.amili_invoice_id)
                   OR (l.case_id IS NULL AND l.market = 'NO' AND l.case_number IS NOT NULL
                       AND l.case_number = c.case_number))
            """,
            [now],
        )
        self.db.execute(
            """
            UPDATE settlement_lines l SET case_id = coalesce(l.case_id, o.case_id),
                   creditor = coalesce(l.creditor, o.creditor), invoice_key = o.invoice_key, linked_at = ?
            FROM registration_outbox o
            WHERE l.market = o.market AND l.invoice_key IS NULL AND o.state = 'registered'
              AND ((l.case_id IS NOT NULL AND l.case_id = o.case_id)
                   OR (l.amili_invoice_id IS NOT NULL AND l.amili_invoice_id = o.amili_invoice_id))
            """,
            [now],
        )

    def line(self, market: str, line_id: str) -> SettlementLine | None:
        rows = self.db.execute(
            f"SELECT {_columns(LINE_COLUMNS)} FROM settlement_lines WHERE market = ? AND line_id = ?",
            [market, line_id]).fetchall()
        return SettlementLine(*rows[0]) if rows else None

    def lines(self, market: str, line_ids: Sequence[str]) -> dict[str, SettlementLine]:
        if not line_ids:
            return {}
        rows = self.db.execute(
            f"SELECT {_columns(LINE_COLUMNS)} FROM settlement_lines"
            " WHERE market = ? AND line_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            [market, list(line_ids)]).fetchall()
        found = [SettlementLine(*r) for r in rows]
        return {line.line_id: line for line in found}

    def no_newest_settlement_date(self, organization_id: str) -> date | None:
        return self.db.scalar(
            "SELECT max(settlement_date) FROM settlement_lines WHERE market = 'NO' AND amili_creditor = ?",
            [organization_id])

    def se_lines_updated_until(self, amili_creditor: str | None = None) -> datetime | None:
        return _newest_se_update(self.db, "settlement_lines", amili_creditor)

    def se_payouts_updated_until(self, amili_creditor: str | None = None) -> datetime | None:
        return _newest_se_update(self.db, "payouts", amili_creditor)

    def totals(self) -> tuple[int, dict[str, Decimal]]:
        """(number of lines, total paid out per currency) over every stored line."""
        rows = self.db.execute("SELECT currency, count(*), coalesce(sum(payout_amount), 0) FROM settlement_lines "
                               "GROUP BY currency ORDER BY currency").fetchall()
        return sum(int(n) for _, n, _ in rows), {str(cur): Decimal(paid).quantize(CENT) for cur, _, paid in rows}


def _newest_se_update(db: SqlSession, table: str, amili_creditor: str | None) -> datetime | None:
    """The Swedish watermark of ``table``: of one Amili creditor when given (a creditor added later
    has none yet, so its whole history is read, not only what changed after the others' newest)."""
    if amili_creditor is None:
        return db.scalar(f"SELECT max(api_updated_at) FROM {table} WHERE market = 'SE'")
    return db.scalar(f"SELECT max(api_updated_at) FROM {table} WHERE market = 'SE' AND amili_creditor = ?",
                     [amili_creditor])
