"""The case-actions outbox (payments, creditings, cancellations reported to Amili), for both databases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from amili_pipelines.domain.case_actions import (
    ActionEvent,
    ActionState,
    CaseAction,
    CaseActionRecord,
    NewCaseAction,
    SourceView,
)
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.money import ZERO, money
from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.common.reconcile_sql import SOURCE_VIEW_SQL

_ACTION_COLUMNS = ("action_key, market, creditor, invoice_number, case_id, amili_invoice_id, action, amount, currency,"
                   " action_date, state, batch_id")
_RECORD_COLUMNS = ("action_key, market, invoice_key, case_id, action, purpose, amount, currency, action_date, state,"
                   " attempts, remote_id, batch_id, result_status, result_json::VARCHAR, last_error, created_at, sent_at")
_SETTABLE = frozenset({"remote_id", "batch_id", "result_status", "result_json", "last_error", "sent_at"})


class SqlActionStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def source_views(self) -> list[SourceView]:
        """Every registered invoice whose case is still open, with what its source and Amili say now."""
        rows = self.db.execute(
            f"""
            WITH src AS ({SOURCE_VIEW_SQL}),
            collected AS (
                SELECT market, case_id, sum(principal_amount) AS capital FROM settlement_lines
                WHERE case_id IS NOT NULL GROUP BY market, case_id
            ),
            reported AS (
                SELECT market, invoice_key,
                       coalesce(sum(amount) FILTER (WHERE action = 'payment' AND state <> 'rejected'), 0) AS paid,
                       coalesce(sum(amount) FILTER (WHERE action = 'crediting' AND state <> 'rejected'), 0)
                           AS credited,
                       count(*) FILTER (WHERE action = 'cancellation' AND state <> 'rejected') AS cancellations
                FROM case_actions_outbox GROUP BY market, invoice_key
            )
            SELECT r.market, r.invoice_key, r.creditor, r.invoice_number, r.case_id, r.amili_invoice_id,
                   r.claimed_amount, r.currency, s.present, s.open_balance,
                   coalesce(c.capital, 0), coalesce(p.paid, 0), coalesce(p.credited, 0),
                   coalesce(p.cancellations, 0), s.status
            FROM registration_outbox r
            JOIN src s ON s.invoice_key = r.invoice_key
            LEFT JOIN cases k ON k.market = r.market AND k.case_id = r.case_id
            LEFT JOIN collected c ON c.market = r.market AND c.case_id = r.case_id
            LEFT JOIN reported p ON p.market = r.market AND p.invoice_key = r.invoice_key
            WHERE r.state = 'registered' AND r.case_id IS NOT NULL AND NOT coalesce(k.is_closed, false)
            ORDER BY r.market, r.invoice_key
            """
        ).fetchall()
        return [
            SourceView(market=m, invoice_key=k, creditor=cr, invoice_number=n, case_id=cid, amili_invoice_id=iid,
                       claimed=money(cl), currency=cur, present=bool(pr), open_balance=money(ob),
                       collected_capital=money(col) or ZERO, reported_paid=money(pd) or ZERO,
                       reported_credited=money(cd) or ZERO, reported_cancellations=int(cn), source_status=st)
            for m, k, cr, n, cid, iid, cl, cur, pr, ob, col, pd, cd, cn, st in rows
        ]

    def add(self, actions: Sequence[NewCaseAction], *, detail: str | None = None) -> list[str]:
        """Write new actions (state pending); an action key already present is left alone. Returns new keys.
        ``detail`` says where they came from (default: what the source shows)."""
        added: list[str] = []
        if not actions:
            return added
        now = utcnow()
        with self.db.transaction():
            for a in actions:
                inserted = self.db.execute(
                    """
                    INSERT INTO case_actions_outbox (action_key, market, invoice_key, creditor, invoice_number, case_id,
                        amili_invoice_id, action, purpose, amount, currency, action_date, state, attempts, created_at,
                        updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                    ON CONFLICT (action_key) DO NOTHING
                    RETURNING action_key
                    """,
                    [a.key, a.market, a.invoice_key, a.creditor, a.invoice_number, a.case_id, a.amili_invoice_id,
                     a.action, a.purpose, a.amount, a.currency, a.action_date, now, now],
                ).fetchall()
                if inserted:
                    self._event(a.key, None, ActionState.PENDING, detail or f"source shows {a.purpose}", now)
                    added.append(a.key)
        return added

    def in_states(self, states: Sequence[ActionState], *, market: str,
                  keys: Collection[str] | None = None) -> list[CaseAction]:
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT {_ACTION_COLUMNS} FROM case_actions_outbox WHERE market = ? AND state IN ({marks})"
        params: list = [market, *[s.value for s in states]]
        if keys is not None:  # an operator's handful of keys: plain placeholders work on both stores
            if not keys:
                return []
            sql += f" AND action_key IN ({', '.join('?' for _ in keys)})"
            params.extend(sorted(keys))
        rows = self.db.execute(sql + " ORDER BY created_at, action_key", params).fetchall()
        return [CaseAction(*r) for r in rows]

    def for_invoice(self, invoice_key: str) -> list[CaseActionRecord]:
        """Every action of one invoice, oldest first."""
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM case_actions_outbox WHERE invoice_key = ? ORDER BY created_at, action_key",
            [invoice_key]).fetchall()
        return [CaseActionRecord(*r) for r in rows]

    def events(self, key: str) -> list[ActionEvent]:
        """(when, from state, to state, detail) of one action, oldest first."""
        rows = self.db.execute(
            "SELECT event_at, from_state, to_state, detail FROM case_action_events WHERE action_key = ?"
            f" ORDER BY event_at, {self.db.row_id}", [key]).fetchall()
        return [ActionEvent(*r) for r in rows]

    def count_attempt(self, key: str) -> None:
        self.db.execute("UPDATE case_actions_outbox SET attempts = attempts + 1 WHERE action_key = ?", [key])

    def note_error(self, key: str, error: str) -> None:
        self.db.execute("UPDATE case_actions_outbox SET last_error = ? WHERE action_key = ?", [error[:500], key])

    def set_state(self, key: str, to_state: ActionState, *, detail: str | None = None, **columns: Any) -> None:
        """Move an action to ``to_state`` (with an event), setting any of remote_id, batch_id,
        result_status, result_json, last_error, sent_at."""
        unknown = set(columns) - _SETTABLE
        if unknown:
            raise ValueError(f"not settable on a case action: {sorted(unknown)}")
        now = utcnow()
        with self.db.transaction():
            from_state = self.db.scalar("SELECT state FROM case_actions_outbox WHERE action_key = ?", [key])
            assignments = "".join(f", {c} = ?" for c in columns)
            self.db.execute(f"UPDATE case_actions_outbox SET state = ?, updated_at = ?{assignments} WHERE action_key = ?",
                            [to_state.value, now, *columns.values(), key])
            self._event(key, from_state, to_state, detail, now)

    def _event(self, key: str, from_state: str | None, to_state: ActionState, detail: str | None, at) -> None:  # noqa: ANN001
        self.db.execute(
            "INSERT INTO case_action_events (event_at, action_key, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?)",
            [at, key, from_state, to_state.value, (detail or "")[:500]],
        )
