"""The case-actions outbox (payments, creditings, cancellations reported to Amili), for both databases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pyarrow as pa

from amili_pipelines.domain.case_actions import (
    CANCELLED_WORDS,
    ActionEvent,
    ActionState,
    CaseAction,
    CaseActionRecord,
    NewCaseAction,
    SourceView,
)
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.money import TOLERANCE, ZERO, money
from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.common.reconcile_sql import last_known
from amili_pipelines.warehouse.tables import records_table

_ACTION_COLUMNS = ("action_key, market, creditor, invoice_number, case_id, amili_invoice_id, action, amount, currency,"
                   " action_date, state, batch_id")
_RECORD_COLUMNS = ("action_key, market, invoice_key, case_id, action, purpose, amount, currency, action_date, state,"
                   " attempts, remote_id, batch_id, result_status, result_json::VARCHAR, last_error, created_at, sent_at")
# NewCaseAction's fields as staged, and the outbox columns they fill (its key is the action_key).
_NEW_FIELDS = ("key", "market", "invoice_key", "creditor", "invoice_number", "case_id", "amili_invoice_id", "action",
               "purpose", "amount", "currency", "action_date")
_NEW_COLUMNS = ("action_key", *_NEW_FIELDS[1:])
_SETTABLE = frozenset({"remote_id", "batch_id", "result_status", "result_json", "last_error", "sent_at"})


# The source_views statements. SOURCE_VIEW_SQL (reconcile_sql.py), for the registered invoices
# whose case is open, from a bounded part of the history: a source keeps every day's read, and a
# window over all of them took 10 s and ran out of DuckDB's 512 MB at 30 days of a million
# invoices. Exact for any bound: an invoice with a row in a read at or after it has its last known
# row there; one without has all its rows before it, and those are read for it alone. The bound is
# the oldest of the sources' newest reads, so that only invoices gone from every source since need
# their older rows (a later bound is as exact, and reads more of them).
# The sets are temporary tables, analysed, not CTEs: PostgreSQL guesses 200 rows for a CTE it
# materialises and planned nested loops over a million (a query of minutes).
NEWEST_READS = "CREATE TEMP TABLE _sv_newest AS SELECT source, max(partition_date) AS d FROM source_balances GROUP BY source"
OPEN_REGISTRATIONS = """
    CREATE TEMP TABLE _sv_regs AS
    SELECT r.market, r.invoice_key, r.case_id, r.claimed_amount
    FROM registration_outbox r LEFT JOIN cases k ON k.market = r.market AND k.case_id = r.case_id
    WHERE r.state = 'registered' AND r.case_id IS NOT NULL AND NOT coalesce(k.is_closed, false)
"""
RECENT_READS = """
    CREATE TEMP TABLE _sv_hist AS
    SELECT b.invoice_key, b.source, b.partition_date, b.open_balance, b.is_unpaid, b.status
    FROM source_balances b
    WHERE b.partition_date >= ? AND b.invoice_key IN (SELECT invoice_key FROM _sv_regs)
"""
OLDER_READS_OF_GONE = """
    INSERT INTO _sv_hist
    SELECT b.invoice_key, b.source, b.partition_date, b.open_balance, b.is_unpaid, b.status
    FROM source_balances b
    WHERE b.partition_date < ?
      AND b.invoice_key IN (SELECT invoice_key FROM _sv_regs EXCEPT SELECT invoice_key FROM _sv_hist)
"""
# The rule (with {news}) runs on narrow rows, keys and money; the wide columns are joined to the
# rows it keeps: carried through every join (an earlier form), a million cases' text outgrew the
# same 512 MB.
SOURCE_VIEWS = f"""
    WITH last_known AS ({last_known("_sv_hist")}),
    cur AS (
        SELECT h.invoice_key, h.source, h.open_balance, coalesce(h.is_unpaid, h.open_balance > 0) AS is_unpaid
        FROM _sv_hist h JOIN _sv_newest n ON n.source = h.source AND n.d = h.partition_date
    ),
    src AS (
        SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
               CASE WHEN cur.invoice_key IS NULL THEN 0 WHEN NOT cur.is_unpaid THEN 0 ELSE cur.open_balance END
                   AS open_balance,
               k.status
        FROM last_known k LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
    ),
    collected AS (
        SELECT market, case_id, sum(principal_amount) AS capital FROM settlement_lines
        WHERE case_id IS NOT NULL GROUP BY market, case_id
    ),
    reported AS (
        SELECT market, invoice_key,
               coalesce(sum(amount) FILTER (WHERE action = 'payment' AND state <> 'rejected'), 0) AS paid,
               coalesce(sum(amount) FILTER (WHERE action = 'crediting' AND state <> 'rejected'), 0) AS credited,
               count(*) FILTER (WHERE action = 'cancellation' AND state <> 'rejected') AS cancellations
        FROM case_actions_outbox GROUP BY market, invoice_key
    ),
    views AS (
        SELECT r.market, r.invoice_key, s.present, s.open_balance, s.status,
               coalesce(c.capital, 0) AS capital, coalesce(p.paid, 0) AS paid,
               coalesce(p.credited, 0) AS credited, coalesce(p.cancellations, 0) AS cancellations
        FROM _sv_regs r
        JOIN src s ON s.invoice_key = r.invoice_key
        LEFT JOIN collected c ON c.market = r.market AND c.case_id = r.case_id
        LEFT JOIN reported p ON p.market = r.market AND p.invoice_key = r.invoice_key
        WHERE true{{news}}
    )
    SELECT r.market, r.invoice_key, r.creditor, r.invoice_number, r.case_id, r.amili_invoice_id,
           r.claimed_amount, r.currency, v.present, v.open_balance, v.capital, v.paid, v.credited,
           v.cancellations, v.status
    FROM views v JOIN registration_outbox r ON r.market = v.market AND r.invoice_key = v.invoice_key
    ORDER BY r.market, r.invoice_key
"""


class SqlActionStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def source_views(self, *, news_only: bool = False) -> list[SourceView]:
        """Every registered invoice whose case is still open, with what its source and Amili say now.

        ``news_only`` keeps just the rows ``action_for`` acts on, filtered here by the same rule: at a
        million open cases, bringing every row into Python took 25 s and 2 GB for a few thousand news.
        """
        news = ""
        if news_only:
            # The domain's constants written in, not bound: bound, an earlier form of this statement
            # ran out of DuckDB's 512 MB in 2 runs of 3 at a million cases (DuckDB planned it otherwise).
            words = ", ".join(f"'{w}'" for w in sorted(CANCELLED_WORDS))
            news = f"""
              AND coalesce(p.cancellations, 0) = 0
              AND (NOT s.present OR lower(coalesce(s.status, '')) IN ({words})
                   OR coalesce(r.claimed_amount, 0) - coalesce(s.open_balance, 0) - coalesce(c.capital, 0)
                      - coalesce(p.paid, 0) - coalesce(p.credited, 0) > CAST('{TOLERANCE}' AS DECIMAL(18, 6)))"""
        staged = ("_sv_newest", "_sv_regs", "_sv_hist")
        rows = []
        with self.db.transaction():
            for table in staged:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
            self.db.execute(NEWEST_READS)
            since = self.db.scalar("SELECT min(d) FROM _sv_newest")  # None: no source read yet, no view
            if since is not None:
                self.db.execute(OPEN_REGISTRATIONS)
                self.db.execute("ANALYZE _sv_regs")  # unanalysed, PostgreSQL took 6 s instead of 0.5 s here
                self.db.execute(RECENT_READS, [since])
                self.db.execute(OLDER_READS_OF_GONE, [since])
                self.db.execute("ANALYZE _sv_hist")
                rows = self.db.execute(SOURCE_VIEWS.format(news=news)).fetchall()
            for table in staged:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
        return [
            SourceView(market=m, invoice_key=k, creditor=cr, invoice_number=n, case_id=cid, amili_invoice_id=iid,
                       claimed=money(cl), currency=cur, present=bool(pr), open_balance=money(ob),
                       collected_capital=money(col) or ZERO, reported_paid=money(pd) or ZERO,
                       reported_credited=money(cd) or ZERO, reported_cancellations=int(cn), source_status=st)
            for m, k, cr, n, cid, iid, cl, cur, pr, ob, col, pd, cd, cn, st in rows
        ]

    def add(self, actions: Sequence[NewCaseAction], *, detail: str | None = None) -> list[str]:
        """Write new actions (state pending); an action key already present is left alone (the first
        of a key given twice wins). Returns the new keys, in the order given. ``detail`` says where they
        came from (default: what the source shows)."""
        unique: dict[str, NewCaseAction] = {}
        for a in actions:
            unique.setdefault(a.key, a)
        if not unique:
            return []
        # One statement for all (a source's mass change is thousands of actions): staged, inserted
        # where new, and an event for each key the insert reports back.
        staged = records_table(list(unique.values()), _NEW_FIELDS).rename_columns(list(_NEW_COLUMNS))
        cols = ", ".join(_NEW_COLUMNS)
        said = "?" if detail else "substr(concat('source shows ', i.purpose), 1, 500)"
        now = utcnow()
        with self.db.transaction():
            self.db.stage("_actions_in", staged, like="case_actions_outbox")
            inserted = {k for (k,) in self.db.execute(
                f"INSERT INTO case_actions_outbox ({cols}, state, attempts, created_at, updated_at)"
                f" SELECT {cols}, 'pending', 0, ?, ? FROM _actions_in"
                " ON CONFLICT (action_key) DO NOTHING RETURNING action_key", [now, now]).fetchall()}
            if inserted:
                self.db.stage("_actions_new", pa.table({"action_key": sorted(inserted)}), types={"action_key": "VARCHAR"})
                self.db.execute(
                    "INSERT INTO case_action_events (event_at, action_key, from_state, to_state, detail)"
                    f" SELECT ?, i.action_key, NULL, ?, {said} FROM _actions_in i"
                    " JOIN _actions_new n ON n.action_key = i.action_key ORDER BY i.action_key",
                    [now, ActionState.PENDING.value, *([detail[:500]] if detail else [])])
                self.db.execute("DROP TABLE _actions_new")
            self.db.execute("DROP TABLE _actions_in")
        return [k for k in unique if k in inserted]

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
