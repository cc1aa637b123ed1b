"""What the creditor's ERP and ledger were told (``books_exports``), each fact once (both databases)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.money import money0
from amili_pipelines.warehouse.books import ExportedRow, FeedbackItem, LedgerLine
from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.common.figures import fees_passed_on

_FEES_PASSED_ON = fees_passed_on("l")
_NOT_EXPORTED = ("NOT EXISTS (SELECT 1 FROM books_exports e WHERE e.creditor = ? AND e.kind = ? "
                 "AND e.item_key = {key})")

# kind -> (key expression, SQL with the canonical columns of domain.books.FEEDBACK_FIELDS, in order).
_CANDIDATES: dict[str, tuple[str, str]] = {
    "handed_over": ("o.market || ':' || o.invoice_key", """
        SELECT {key} AS item_key, o.invoice_number, o.case_id, i.payment_reference,
               coalesce(o.ocr_number, c.case_number) AS amili_reference, CAST(o.registered_at AS DATE) AS handed_over_date,
               o.claimed_amount, o.currency
        FROM registration_outbox o
        LEFT JOIN (SELECT invoice_key, payment_reference FROM latest_invoices) i ON i.invoice_key = o.invoice_key
        LEFT JOIN cases c ON c.market = o.market AND c.case_id = o.case_id
        WHERE o.state = 'registered' AND o.case_id IS NOT NULL AND o.creditor = ? AND {not_exported}
        ORDER BY o.registered_at, o.invoice_number
    """),
    # Sweden: per case and paid payout (the money is in the bank); Norway: per settlement.
    "payments": ("item_key", f"""
        SELECT * FROM (
            SELECT 'SE:' || l.payout_id || ':' || l.case_id AS item_key, min(l.invoice_number) AS invoice_number,
                   l.case_id, p.payout_date, p.payout_reference, sum(l.principal_amount) AS capital,
                   sum(l.interest_amount) AS interest, sum({_FEES_PASSED_ON}) AS fees,
                   sum(l.commission_amount) AS commission, sum(l.vat_amount) AS vat, sum(l.payout_amount) AS paid_out,
                   min(l.currency) AS currency
            FROM settlement_lines l JOIN payouts p ON p.market = l.market AND p.payout_id = l.payout_id
            WHERE l.market = 'SE' AND p.status = 'paid' AND l.case_id IS NOT NULL AND l.invoice_key IS NOT NULL
              AND l.creditor = ?
            GROUP BY l.payout_id, l.case_id, p.payout_date, p.payout_reference
            UNION ALL
            SELECT 'NO:' || l.line_id, l.invoice_number, l.case_id, coalesce(l.payout_date, l.settlement_date),
                   coalesce(l.payout_reference, l.line_id), l.principal_amount, l.interest_amount, {_FEES_PASSED_ON},
                   l.commission_amount, l.vat_amount, l.payout_amount, l.currency
            FROM settlement_lines l
            WHERE l.market = 'NO' AND l.case_id IS NOT NULL AND l.invoice_key IS NOT NULL AND l.creditor = ?
        ) candidates WHERE {{not_exported}}
        ORDER BY payout_date, payout_reference, invoice_number, item_key
    """),
    "closed_without_payment": ("r.market || ':' || r.case_id", """
        SELECT {key} AS item_key, r.invoice_number, r.case_id, CAST(c.closed_at AS DATE) AS closed_date,
               coalesce(r.closed_reason, 'closed') AS closed_reason, r.claimed_capital AS claimed_amount,
               greatest(r.claimed_capital - r.paid_principal - r.paid_direct - r.credited, 0) AS written_off,
               r.currency
        FROM reconciliation r LEFT JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
        WHERE r.creditor = ? AND r.is_closed AND (r.status = 'closed_without_payment' OR r.cancelled > 0)
          AND {not_exported}
        ORDER BY closed_date, r.invoice_number
    """),
    "creditor_actions": ("a.action_key", """
        SELECT {key} AS item_key, a.invoice_number, a.case_id, a.action, a.amount, a.action_date,
               CAST(a.sent_at AS DATE) AS sent_date, left(a.action_key, 16) AS reference, a.currency
        FROM case_actions_outbox a
        WHERE a.creditor = ? AND a.state = 'sent' AND {not_exported}
        ORDER BY a.sent_at, a.action_key
    """),
}


_PAYMENT_AMOUNTS = ("capital", "interest", "fees", "commission", "vat", "paid_out")


def _plain(value: Any) -> Any:
    """A value as exported: amounts to the öre and dates as strings, everything else as it is."""
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(money0(value))


class SqlBooksStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def feedback_candidates(self, creditor: str, kind: str) -> list[FeedbackItem]:
        key, sql = _CANDIDATES[kind]
        if kind == "payments":
            return self._payment_changes(creditor, self._items(sql.format(key=key, not_exported="TRUE"),
                                                               [creditor, creditor]))
        return self._items(sql.format(key=key, not_exported=_NOT_EXPORTED.format(key=key)), [creditor, creditor, kind])

    def _items(self, sql: str, params: list[Any]) -> list[FeedbackItem]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [FeedbackItem(key=r[0], row={n: _plain(v) for n, v in zip(names[1:], r[1:], strict=True)})
                for r in cursor.fetchall()]

    def _payment_changes(self, creditor: str, now: list[FeedbackItem]) -> list[FeedbackItem]:
        """Money per case and payout not yet told, or told with other amounts than Amili's lines
        have now (a late line, a corrected one, one moved to another case): then the difference,
        under the key with a ``#n`` suffix."""
        told: dict[str, dict[str, Decimal]] = {}
        last: dict[str, tuple[int, dict[str, Any]]] = {}
        for item_key, row_json in self.db.execute(
                "SELECT item_key, CAST(row_json AS VARCHAR) FROM books_exports WHERE creditor = ? AND kind = 'payments'"
                " ORDER BY export_day, batch, position", [creditor]).fetchall():
            base, row = item_key.split("#")[0], json.loads(row_json)
            sums = told.setdefault(base, dict.fromkeys(_PAYMENT_AMOUNTS, Decimal(0)))
            for name in _PAYMENT_AMOUNTS:
                sums[name] += Decimal(row.get(name) or 0)
            last[base] = (last.get(base, (0, row))[0] + 1, row)
        out = []
        current = {item.key for item in now}
        gone = [FeedbackItem(key=base, row={**row, **dict.fromkeys(_PAYMENT_AMOUNTS, "0.00")})
                for base, (_, row) in last.items() if base not in current]
        for item in [*now, *gone]:
            if item.key not in told:
                out.append(item)
                continue
            change = {name: Decimal(item.row.get(name) or 0) - told[item.key][name] for name in _PAYMENT_AMOUNTS}
            if any(change.values()):
                out.append(FeedbackItem(key=f"{item.key}#{last[item.key][0] + 1}",
                                        row={**item.row, **{n: _plain(v) for n, v in change.items()}}))
        return out

    def unbooked_lines(self, creditor: str, *, market: str, complete_before: date) -> list[LedgerLine]:
        if market == "SE":
            lines = f"""
                SELECT l.market, l.line_id, p.payout_id AS payout_key, p.payout_date, p.payout_reference, l.currency,
                       l.principal_amount AS p, l.interest_amount AS i, {_FEES_PASSED_ON} AS f,
                       l.commission_amount AS c, l.vat_amount AS v, l.payout_amount AS po, p.total_amount AS total,
                       sum(l.payout_amount) OVER (PARTITION BY p.payout_id) AS lines_total
                FROM settlement_lines l JOIN payouts p ON p.market = l.market AND p.payout_id = l.payout_id
                WHERE l.market = 'SE' AND p.status = 'paid' AND p.payout_date IS NOT NULL AND p.creditor = ?"""
            params: list[Any] = [creditor]
        else:
            lines = f"""
                SELECT l.market, l.line_id, CAST(l.settlement_date AS VARCHAR) AS payout_key,
                       l.settlement_date AS payout_date, l.payout_reference, l.currency, l.principal_amount AS p,
                       l.interest_amount AS i, {_FEES_PASSED_ON} AS f, l.commission_amount AS c, l.vat_amount AS v,
                       l.payout_amount AS po, CAST(NULL AS DECIMAL(18, 2)) AS total,
                       CAST(NULL AS DECIMAL(18, 2)) AS lines_total
                FROM settlement_lines l
                WHERE l.market = 'NO' AND l.creditor = ? AND l.settlement_date < ?"""
            params = [creditor, complete_before]
        sql = f"""
            WITH now_lines AS ({lines}),
            booked AS (
                SELECT market, line_id, sum(principal_amount) AS p, sum(interest_amount) AS i, sum(fee_amount) AS f,
                       sum(commission_amount) AS c, sum(vat_amount) AS v, sum(payout_amount) AS po
                FROM books_line_postings WHERE market = ? GROUP BY market, line_id)
            SELECT n.market, n.line_id, n.payout_key, n.payout_date, n.payout_reference, n.currency,
                   n.p - coalesce(b.p, 0), n.i - coalesce(b.i, 0), n.f - coalesce(b.f, 0), n.c - coalesce(b.c, 0),
                   n.v - coalesce(b.v, 0), n.po - coalesce(b.po, 0), n.total, n.lines_total,
                   b.line_id IS NOT NULL
            FROM now_lines n LEFT JOIN booked b ON b.market = n.market AND b.line_id = n.line_id
            WHERE b.line_id IS NULL OR n.p <> b.p OR n.i <> b.i OR n.f <> b.f OR n.c <> b.c OR n.v <> b.v
               OR n.po <> b.po
            ORDER BY n.payout_date, n.payout_key, n.line_id"""
        return [LedgerLine(market=m, line_id=i, payout_key=k, payout_date=d, payout_reference=ref, currency=cur,
                           principal=money0(p), interest=money0(it), fees=money0(f), commission=money0(c),
                           vat=money0(v), paid_out=money0(po), payout_total=None if t is None else money0(t),
                           payout_lines_total=None if lt is None else money0(lt), correction=bool(was_booked))
                for m, i, k, d, ref, cur, p, it, f, c, v, po, t, lt, was_booked
                in self.db.execute(sql, [*params, market]).fetchall()]

    def _next_batch(self, creditor: str, kind: str, export_day: date) -> int:
        last = self.db.scalar("SELECT max(batch) FROM books_exports WHERE creditor = ? AND kind = ? AND export_day = ?",
                              [creditor, kind, export_day])
        return int(last or 0) + 1

    def _insert(self, creditor: str, kind: str, export_day: date, batch: int,
                rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        staged = pa.table({"item_key": [k for k, _ in rows], "position": list(range(1, len(rows) + 1)),
                           "row_json": [json.dumps(r, ensure_ascii=False, sort_keys=True) for _, r in rows]})
        self.db.stage("_exports_in", staged, types={"item_key": "VARCHAR", "position": "INTEGER", "row_json": "VARCHAR"})
        self.db.execute(
            "INSERT INTO books_exports (creditor, kind, item_key, export_day, batch, position, row_json, exported_at)"
            " SELECT ?, ?, item_key, ?, ?, position, CAST(row_json AS JSON), ? FROM _exports_in",
            [creditor, kind, export_day, batch, utcnow()],
        )
        self.db.execute("DROP TABLE _exports_in")

    def record_exports(self, creditor: str, kind: str, export_day: date,
                       rows: Sequence[tuple[str, dict[str, Any]]]) -> int:
        if not rows:
            return 0
        with self.db.transaction():
            batch = self._next_batch(creditor, kind, export_day)
            self._insert(creditor, kind, export_day, batch, rows)
        return batch

    def record_verifications(self, creditor: str, market: str, export_day: date,
                             verifications: Sequence[tuple[str, dict[str, Any], Sequence[LedgerLine]]]) -> int:
        if not verifications:
            return 0
        with self.db.transaction():
            taken = {k for (k,) in self.db.execute(
                "SELECT item_key FROM books_exports WHERE creditor = ? AND kind = 'verification'", [creditor]
            ).fetchall()}
            rows, postings = [], []
            for key, verification, lines in verifications:
                unique, n = key, 1
                while unique in taken:  # a payout booked before (a late or corrected line): a verification of its own
                    n += 1
                    unique = f"{key}#{n}"
                taken.add(unique)
                rows.append((unique, verification))
                postings.extend((ln, unique) for ln in lines)
            batch = self._next_batch(creditor, "verification", export_day)
            self._insert(creditor, "verification", export_day, batch, rows)
            amounts = ("principal", "interest", "fees", "commission", "vat", "paid_out")
            self.db.stage("_postings_in", pa.table({
                "line_id": [ln.line_id for ln, _ in postings], "verification_key": [key for _, key in postings],
                **{name: pa.array([getattr(ln, name) for ln, _ in postings], type=pa.decimal128(18, 2))
                   for name in amounts}}),
                types={"line_id": "VARCHAR", "verification_key": "VARCHAR", **{a: "DECIMAL(18, 2)" for a in amounts}})
            self.db.execute(
                "INSERT INTO books_line_postings (market, line_id, creditor, verification_key, principal_amount,"
                " interest_amount, fee_amount, commission_amount, vat_amount, payout_amount)"
                " SELECT ?, line_id, ?, verification_key, principal, interest, fees, commission, vat, paid_out"
                " FROM _postings_in", [market, creditor])
            self.db.execute("DROP TABLE _postings_in")
        return batch

    def exported(self, creditor: str) -> list[ExportedRow]:
        rows = self.db.execute(
            "SELECT kind, item_key, export_day, batch, position, CAST(row_json AS VARCHAR) FROM books_exports"
            " WHERE creditor = ?"
            " ORDER BY kind, export_day, batch, position", [creditor]).fetchall()
        return [ExportedRow(kind=k, item_key=i, export_day=d, batch=b, position=p, row=json.loads(r))
                for k, i, d, b, p, r in rows]

    def last_export_day(self, creditor: str) -> date | None:
        return self.db.scalar("SELECT max(export_day) FROM books_exports WHERE creditor = ?", [creditor])
