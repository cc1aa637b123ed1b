"""DuckDB: the registration outbox, its event history, and every case Amili reported per invoice.

The state machine is described in :mod:`amili_pipelines.domain.outbox`. The intent to send
(``in_flight``) is committed before a request leaves; outcomes are stored in one transaction
per batch of outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

import pyarrow as pa

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import (
    OutboxEntry,
    OutboxEvent,
    OutboxRow,
    OutboxState,
    Outcome,
)
from amili_pipelines.warehouse.common.outbox_records import OutboxRecordReads
from amili_pipelines.warehouse.duckdb.connection import Session
from amili_pipelines.warehouse.tables import outbox_entries_table

_ROW_COLUMNS = ("market, invoice_key, creditor, invoice_number, idempotency_key, state, payload_json, attempts,"
                " batch_key, batch_id, coalesce(generation, 0), payload_is_body")


def _row(r: tuple) -> OutboxRow:
    # A stored request body is handed over as bytes, unparsed: the send puts it on the wire as it is
    # (DuckDB's JSON is its text). Rows queued before migration 011 carry a payload and are built the long way.
    is_body = bool(r[11])
    return OutboxRow(
        market=Market(r[0]), invoice_key=r[1], creditor=r[2], invoice_number=r[3], idempotency_key=r[4],
        state=OutboxState(r[5]), payload=None if is_body else json.loads(r[6]), attempts=r[7], batch_key=r[8],
        batch_id=r[9], generation=r[10], body=r[6].encode() if is_body else None,
    )



class DuckDBOutboxStore(OutboxRecordReads):
    def __init__(self, session: Session, *, lease: timedelta = timedelta(minutes=10)) -> None:
        self.db = session
        self.lease = lease

    def enqueue(self, entries: Sequence[OutboxEntry], *, run_id: str | None = None) -> dict[str, int]:
        """Add valid invoices to the outbox. Returns counts: new, requeued, already (in the outbox).

        An invoice already in the outbox is left alone, whatever reruns or backfills happen, except a
        rejected one whose source row changed since: the fix is sent as a new attempt.
        """
        if not entries:
            return {"new": 0, "requeued": 0, "already": 0}
        now = utcnow()
        incoming = outbox_entries_table(entries)
        conn = self.db.conn
        with self.db.transaction():
            conn.register("_incoming_arrow", incoming)
            conn.execute("CREATE OR REPLACE TEMP TABLE _incoming AS SELECT * FROM _incoming_arrow")
            conn.unregister("_incoming_arrow")
            requeue = conn.execute(
                """
                SELECT o.market, o.invoice_key FROM registration_outbox o JOIN _incoming i USING (market, invoice_key)
                WHERE o.state = 'rejected' AND i.content_hash IS DISTINCT FROM o.content_hash
                """
            ).fetchall()
            conn.execute(
                """
                UPDATE registration_outbox o SET state = 'pending', content_hash = i.content_hash,
                       payload_json = i.payload_json, payload_is_body = i.payload_is_body,
                       claimed_amount = i.claimed_amount, currency = i.currency,
                       rejection_json = NULL, last_error = NULL, generation = coalesce(o.generation, 0) + 1,
                       updated_at = ?
                FROM _incoming i
                WHERE o.market = i.market AND o.invoice_key = i.invoice_key
                  AND o.state = 'rejected' AND i.content_hash IS DISTINCT FROM o.content_hash
                """,
                [now],
            )
            new = conn.execute(
                """
                INSERT INTO registration_outbox (market, invoice_key, creditor, invoice_number, idempotency_key, state,
                    content_hash, payload_json, payload_is_body, claimed_amount, currency, attempts, created_at,
                    updated_at)
                SELECT market, invoice_key, creditor, invoice_number, idempotency_key, 'pending', content_hash,
                       payload_json, payload_is_body, claimed_amount, currency, 0, ?, ?
                FROM _incoming i
                WHERE NOT EXISTS (SELECT 1 FROM registration_outbox o
                                  WHERE o.market = i.market AND o.invoice_key = i.invoice_key)
                RETURNING market, invoice_key
                """,
                [now, now],
            ).fetchall()
            self._log([(Market(m), k) for m, k in new], None, OutboxState.PENDING, "enqueued", run_id, now)
            self._log([(Market(m), k) for m, k in requeue], OutboxState.REJECTED, OutboxState.PENDING,
                      "source row changed after rejection", run_id, now)
            conn.execute("DROP TABLE _incoming")
        return {"new": len(new), "requeued": len(requeue), "already": len(entries) - len(new) - len(requeue)}

    def rows_in_state(
        self, states: Iterable[OutboxState], *, market: Market, creditor: str | None = None, limit: int | None = None,
        sent_since: datetime | None = None, max_sends: int | None = None, invoice_keys: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        """Rows in the given states, in key order. With ``sent_since``/``max_sends``: only rows sent fewer
        than ``max_sends`` times since then, so one run cannot resend an invoice Amili keeps refusing.
        With ``invoice_keys``: only those invoices."""
        sql, params = self._select(states, market=market, creditor=creditor, limit=limit, sent_since=sent_since,
                                   max_sends=max_sends, claimable_at=None, invoice_keys=invoice_keys)
        return [_row(r) for r in self.db.execute(sql, params).fetchall()]

    def _select(self, states: Iterable[OutboxState], *, market: Market, creditor: str | None, limit: int | None,
                sent_since: datetime | None, max_sends: int | None, claimable_at: datetime | None,
                invoice_keys: Collection[str] | None = None) -> tuple[str, list]:
        values = [s.value for s in states]
        sql = (f"SELECT {_ROW_COLUMNS} FROM registration_outbox o WHERE market = ?"
               f" AND state IN ({', '.join('?' * len(values))})")
        params: list = [market.value, *values]
        if creditor:
            sql += " AND creditor = ?"
            params.append(creditor)
        if claimable_at is not None:
            sql += " AND (lease_until IS NULL OR lease_until < ?)"
            params.append(claimable_at)
        if invoice_keys is not None:
            sql += " AND list_contains(?::VARCHAR[], invoice_key)"
            params.append(sorted(invoice_keys))
        if sent_since is not None and max_sends is not None:
            # The row's own counter (kept by mark_in_flight) counts only when its last send is in the window.
            sql += " AND (last_sent_at IS NULL OR last_sent_at < ? OR coalesce(sends, 0) < ?)"
            params += [sent_since, max_sends]
        sql += " ORDER BY invoice_key"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def claim(
        self, states: Iterable[OutboxState], *, market: Market, run_id: str, limit: int, creditor: str | None = None,
        sent_since: datetime | None = None, max_sends: int | None = None, invoice_keys: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        """Rows no claim holds, leased to ``run_id``. The file has one writing process at a time, so
        the claims of another process were dropped when this one opened it (``release_dead_claims``)."""
        now = utcnow()
        sql, params = self._select(states, market=market, creditor=creditor, limit=limit, sent_since=sent_since,
                                   max_sends=max_sends, claimable_at=now, invoice_keys=invoice_keys)
        with self.db.transaction():
            rows = [_row(r) for r in self.db.execute(sql, params).fetchall()]
            if rows:
                self._set_claims(market, [r.invoice_key for r in rows], run_id, now + self.lease,
                                 window_start=sent_since if max_sends is not None else None)
        return rows

    def _set_claims(self, market: Market, keys: list[str], run_id: str | None, until: datetime, *,
                    window_start: datetime | None = None) -> None:
        # A send counter from before the claimer's window started is history: the window counts from 0.
        self.db.conn.register("_claimed", pa.table({"invoice_key": keys}))
        try:
            self.db.execute("UPDATE registration_outbox SET claimed_by = coalesce(?, claimed_by), lease_until = ?,"
                            " sends = CASE WHEN last_sent_at < ? THEN 0 ELSE sends END"
                            " WHERE market = ? AND invoice_key IN (SELECT invoice_key FROM _claimed)",
                            [run_id, until, window_start, market.value])
        finally:
            self.db.conn.unregister("_claimed")

    def release_claims(self, *, run_id: str) -> int:
        rows = self.db.execute("UPDATE registration_outbox SET claimed_by = NULL, lease_until = NULL"
                               " WHERE claimed_by = ? RETURNING 1", [run_id]).fetchall()
        return len(rows)

    def release_dead_claims(self) -> int:
        """Drop every claim: called by the one writing process when it opens the file (whoever made
        them is gone, and its in-flight rows are looked up before anything is sent again)."""
        rows = self.db.execute("UPDATE registration_outbox SET claimed_by = NULL, lease_until = NULL"
                               " WHERE claimed_by IS NOT NULL OR lease_until IS NOT NULL RETURNING 1").fetchall()
        return len(rows)

    def mark_in_flight(self, rows: Sequence[OutboxRow], *, run_id: str | None = None,
                       batch_key: str | None = None) -> None:
        """Write the intent to send, and commit it, before any request leaves."""
        if not rows:
            return
        now = utcnow()
        keys = pa.table({"market": [r.market.value for r in rows], "invoice_key": [r.invoice_key for r in rows]})
        conn = self.db.conn
        with self.db.transaction():
            conn.register("_keys", keys)
            conn.execute(
                """
                UPDATE registration_outbox o SET state = 'in_flight', attempts = attempts + 1, batch_key = ?,
                       updated_at = ?, claimed_by = coalesce(?, o.claimed_by), lease_until = ?,
                       sends = coalesce(o.sends, 0) + 1, last_sent_at = ?
                FROM _keys k WHERE o.market = k.market AND o.invoice_key = k.invoice_key
                """,
                [batch_key, now, run_id, now + self.lease, now],
            )
            conn.unregister("_keys")
            self._log([(r.market, r.invoice_key) for r in rows], None, OutboxState.IN_FLIGHT,
                      f"batch {batch_key}" if batch_key else "sending", run_id, now)

    def record_outcomes(self, outcomes: Sequence[Outcome], *, run_id: str | None = None) -> None:
        """Store a batch of outcomes in one transaction (and every case id seen, for the duplicate check)."""
        if not outcomes:
            return
        now = utcnow()
        tbl = pa.table({
            "market": [o.market.value for o in outcomes],
            "invoice_key": [o.invoice_key for o in outcomes],
            "state": [o.state.value for o in outcomes],
            "case_id": [o.case_id for o in outcomes],
            "amili_invoice_id": [o.amili_invoice_id for o in outcomes],
            "ocr_number": [o.ocr_number for o in outcomes],
            "registration_id": [o.registration_id for o in outcomes],
            "batch_id": [o.batch_id for o in outcomes],
            "batch_key": [o.batch_key for o in outcomes],
            "rejection_json": [json.dumps(o.rejection, default=str, ensure_ascii=False) if o.rejection is not None else None
                               for o in outcomes],
            "last_error": [o.error for o in outcomes],
            "detail": [o.detail or o.error for o in outcomes],
        })
        conn = self.db.conn
        with self.db.transaction():
            conn.register("_outcomes", tbl)
            conn.execute(
                """
                INSERT INTO registration_events (occurred_at, run_id, market, invoice_key, from_state, to_state, detail)
                SELECT ?, ?, t.market, t.invoice_key, o.state, t.state, t.detail
                FROM _outcomes t JOIN registration_outbox o USING (market, invoice_key)
                """,
                [now, run_id],
            )
            conn.execute(
                """
                UPDATE registration_outbox o SET
                    state = t.state,
                    case_id = coalesce(t.case_id, o.case_id),
                    amili_invoice_id = coalesce(t.amili_invoice_id, o.amili_invoice_id),
                    ocr_number = coalesce(t.ocr_number, o.ocr_number),
                    registration_id = coalesce(t.registration_id, o.registration_id),
                    batch_id = coalesce(t.batch_id, o.batch_id),
                    batch_key = coalesce(t.batch_key, o.batch_key),
                    rejection_json = CASE WHEN t.state = 'rejected' THEN t.rejection_json ELSE o.rejection_json END,
                    -- A finished batch that lacks the invoice sends it again as a new generation: under the
                    -- old batch IdempotencyKey Amili would answer with that old batch, for ever.
                    generation = CASE WHEN o.state = 'waiting_for_batch' AND t.state = 'pending'
                                      THEN coalesce(o.generation, 0) + 1 ELSE o.generation END,
                    last_error = t.last_error,
                    registered_at = CASE WHEN t.state = 'registered' THEN coalesce(o.registered_at, ?)
                                         ELSE o.registered_at END,
                    updated_at = ?, claimed_by = NULL, lease_until = NULL
                FROM _outcomes t WHERE o.market = t.market AND o.invoice_key = t.invoice_key
                """,
                [now, now],
            )
            conn.execute(
                """
                INSERT INTO amili_registrations_seen (market, invoice_key, case_id, registration_id, seen_at)
                SELECT market, invoice_key, case_id, registration_id, ? FROM _outcomes WHERE case_id IS NOT NULL
                ON CONFLICT DO NOTHING
                """,
                [now],
            )
            conn.unregister("_outcomes")
            for o in outcomes:
                if len(o.seen_cases) > 1:
                    self._record_seen_cases(o.market, o.invoice_key, o.seen_cases, now)

    def _record_seen_cases(self, market: Market, invoice_key: str, case_ids: Iterable[tuple[str, str | None]],
                           now: datetime) -> None:
        """Remember every case Amili reports for an invoice (a lookup may find more than one)."""
        for case_id, registration_id in case_ids:
            self.db.execute(
                "INSERT INTO amili_registrations_seen VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [market.value, invoice_key, case_id, registration_id, now],
            )

    def requeue_rejected(self, keys: Sequence[tuple[Market, str]], *, detail: str, run_id: str | None = None) -> int:
        """Rejected rows back to pending as a new generation (an operator's retry). Returns how many."""
        if not keys:
            return 0
        now = utcnow()
        tbl = pa.table({"market": [m.value for m, _ in keys], "invoice_key": [k for _, k in keys]})
        conn = self.db.conn
        with self.db.transaction():
            conn.register("_requeue", tbl)
            moved = conn.execute(
                """
                UPDATE registration_outbox o SET state = 'pending', rejection_json = NULL, last_error = NULL,
                       generation = coalesce(o.generation, 0) + 1, updated_at = ?
                FROM _requeue k WHERE o.market = k.market AND o.invoice_key = k.invoice_key AND o.state = 'rejected'
                RETURNING o.market, o.invoice_key
                """,
                [now],
            ).fetchall()
            conn.unregister("_requeue")
            self._log([(Market(m), k) for m, k in moved], OutboxState.REJECTED, OutboxState.PENDING, detail, run_id, now)
        return len(moved)

    def events(self, market: Market, invoice_key: str) -> list[OutboxEvent]:
        rows = self.db.execute(
            "SELECT occurred_at, run_id, from_state, to_state, detail FROM registration_events"
            " WHERE market = ? AND invoice_key = ? ORDER BY occurred_at, rowid", [market.value, invoice_key]).fetchall()
        return [OutboxEvent(*r) for r in rows]

    def state_counts(self, *, market: Market | None = None, unclaimed: bool = False) -> dict[str, int]:
        sql = "SELECT state, count(*) FROM registration_outbox WHERE true"
        params: list = []
        if market:
            sql += " AND market = ?"
            params.append(market.value)
        if unclaimed:
            sql += " AND (lease_until IS NULL OR lease_until < ?)"
            params.append(utcnow())
        sql += " GROUP BY state"
        counts = {s.value: 0 for s in OutboxState}
        counts.update(dict(self.db.execute(sql, params).fetchall()))
        return counts

    def invoices_with_several_cases(self, *, market: Market | None = None) -> list[tuple[str, str, int]]:
        """(market, invoice_key, number of cases) of every invoice Amili reported more than one case for."""
        sql = "SELECT market, invoice_key, count(DISTINCT case_id) AS n FROM amili_registrations_seen"
        params: list = []
        if market:
            sql += " WHERE market = ?"
            params.append(market.value)
        sql += " GROUP BY market, invoice_key HAVING n > 1 ORDER BY market, invoice_key"
        return self.db.execute(sql, params).fetchall()

    def _log(self, keys: Sequence[tuple[Market, str]], from_state: OutboxState | None, to_state: OutboxState,
             detail: str, run_id: str | None, at: datetime) -> None:
        if not keys:
            return
        tbl = pa.table({"market": [m.value for m, _ in keys], "invoice_key": [k for _, k in keys]})
        self.db.conn.register("_event_keys", tbl)
        self.db.execute(
            "INSERT INTO registration_events SELECT ?, ?, market, invoice_key, ?, ?, ? FROM _event_keys",
            [at, run_id, from_state.value if from_state else None, to_state.value, detail],
        )
        self.db.conn.unregister("_event_keys")
