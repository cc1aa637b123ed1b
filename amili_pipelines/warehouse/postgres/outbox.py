"""PostgreSQL: the registration outbox, its event history, and every case Amili reported per invoice.

The same guarantees as the DuckDB store, with several runs writing at once: rows are claimed
with ``FOR UPDATE SKIP LOCKED`` and a lease (``claimed_by``, ``lease_until``), so two runs never
send the same invoice; a claim whose lease passed belongs to a run that died and may be taken
over (an in-flight row is then looked up at Amili before anything is sent again).
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
from amili_pipelines.warehouse.postgres.connection import PgSession
from amili_pipelines.warehouse.tables import outbox_entries_table

_ROW_COLUMNS = ("market, invoice_key, creditor, invoice_number, idempotency_key, state, payload_json::text, attempts,"
                " batch_key, batch_id, generation, payload_is_body")
# The database's clock for leases: runs on several hosts compare each other's leases, and a host
# whose clock ran ahead by more than the lease took a live run's invoices over and sent them again.
_DB_NOW = "CAST(clock_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP)"
_TEXT = "TEXT"
_INCOMING_TYPES = {"market": _TEXT, "invoice_key": _TEXT, "creditor": _TEXT, "invoice_number": _TEXT,
                   "idempotency_key": _TEXT, "content_hash": _TEXT, "payload_json": "JSON",
                   "payload_is_body": "BOOLEAN", "claimed_amount": "NUMERIC(18, 2)", "currency": _TEXT}
_OUTCOME_TYPES = {"market": _TEXT, "invoice_key": _TEXT, "state": _TEXT, "case_id": _TEXT, "amili_invoice_id": _TEXT,
                  "ocr_number": _TEXT, "registration_id": _TEXT, "batch_id": _TEXT, "batch_key": _TEXT,
                  "rejection_json": "JSON", "last_error": _TEXT, "detail": _TEXT}


def _row(r: tuple) -> OutboxRow:
    # A stored request body is handed over as bytes, unparsed: the send puts it on the wire as it is
    # (JSON, unlike JSONB, keeps the text as given). Rows queued before migration 011 carry a payload and are built the long way.
    is_body = bool(r[11])
    return OutboxRow(
        market=Market(r[0]), invoice_key=r[1], creditor=r[2], invoice_number=r[3], idempotency_key=r[4],
        state=OutboxState(r[5]), payload=None if is_body else json.loads(r[6]), attempts=r[7], batch_key=r[8],
        batch_id=r[9], generation=r[10], body=r[6].encode() if is_body else None,
    )



class PgOutboxStore(OutboxRecordReads):
    def __init__(self, session: PgSession, *, lease: timedelta) -> None:
        self.db = session
        self.lease = lease

    def enqueue(self, entries: Sequence[OutboxEntry], *, run_id: str | None = None) -> dict[str, int]:
        if not entries:
            return {"new": 0, "requeued": 0, "already": 0}
        now = utcnow()
        incoming = outbox_entries_table(entries)
        with self.db.transaction():
            self.db.stage("_incoming", incoming, types=_INCOMING_TYPES)
            # A rejected invoice whose source row changed is sent again as a new attempt; a row
            # claimed by a live run is not touched (it is being sent right now).
            requeue = self.db.execute(
                """
                UPDATE registration_outbox o SET state = 'pending', content_hash = i.content_hash,
                       payload_json = i.payload_json, payload_is_body = i.payload_is_body,
                       claimed_amount = i.claimed_amount, currency = i.currency,
                       rejection_json = NULL, last_error = NULL, generation = o.generation + 1, updated_at = ?
                FROM _incoming i
                WHERE o.market = i.market AND o.invoice_key = i.invoice_key
                  AND o.state = 'rejected' AND i.content_hash IS DISTINCT FROM o.content_hash
                RETURNING o.market, o.invoice_key
                """,
                [now],
            ).fetchall()
            new = self.db.execute(
                """
                INSERT INTO registration_outbox (market, invoice_key, creditor, invoice_number, idempotency_key, state,
                    content_hash, payload_json, payload_is_body, claimed_amount, currency, attempts, created_at,
                    updated_at)
                SELECT market, invoice_key, creditor, invoice_number, idempotency_key, 'pending', content_hash,
                       payload_json, payload_is_body, claimed_amount, currency, 0, ?, ?
                FROM _incoming
                ON CONFLICT DO NOTHING
                RETURNING market, invoice_key
                """,
                [now, now],
            ).fetchall()
            self._log([(Market(m), k) for m, k in new], None, OutboxState.PENDING, "enqueued", run_id, now)
            self._log([(Market(m), k) for m, k in requeue], OutboxState.REJECTED, OutboxState.PENDING,
                      "source row changed after rejection", run_id, now)
            self.db.execute("DROP TABLE _incoming")
        return {"new": len(new), "requeued": len(requeue), "already": len(entries) - len(new) - len(requeue)}

    def _select_rows(self, states: Iterable[OutboxState], *, market: Market, creditor: str | None,
                     limit: int | None, sent_since: datetime | None, max_sends: int | None,
                     claimable: bool, invoice_keys: Collection[str] | None = None) -> tuple[str, list]:
        sql = f"SELECT {_ROW_COLUMNS} FROM registration_outbox o WHERE market = ? AND state = ANY(?)"
        params: list = [market.value, [s.value for s in states]]
        if creditor:
            sql += " AND creditor = ?"
            params.append(creditor)
        if invoice_keys is not None:
            sql += " AND invoice_key = ANY(?)"
            params.append(sorted(invoice_keys))
        if claimable:
            sql += f" AND (lease_until IS NULL OR lease_until < {_DB_NOW})"
        if sent_since is not None and max_sends is not None:
            # The row's own counter (kept by mark_in_flight) counts only when its last send is in the window.
            sql += " AND (last_sent_at IS NULL OR last_sent_at < ? OR sends < ?)"
            params += [sent_since, max_sends]
        sql += " ORDER BY invoice_key"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def rows_in_state(
        self, states: Iterable[OutboxState], *, market: Market, creditor: str | None = None, limit: int | None = None,
        sent_since: datetime | None = None, max_sends: int | None = None, invoice_keys: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        sql, params = self._select_rows(states, market=market, creditor=creditor, limit=limit, sent_since=sent_since,
                                        max_sends=max_sends, claimable=False, invoice_keys=invoice_keys)
        return [_row(r) for r in self.db.execute(sql, params).fetchall()]

    def claim(
        self, states: Iterable[OutboxState], *, market: Market, run_id: str, limit: int, creditor: str | None = None,
        sent_since: datetime | None = None, max_sends: int | None = None, invoice_keys: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        """Rows no live run holds, locked past concurrent claimers and leased to ``run_id``."""
        sql, params = self._select_rows(states, market=market, creditor=creditor, limit=limit, sent_since=sent_since,
                                        max_sends=max_sends, claimable=True, invoice_keys=invoice_keys)
        with self.db.transaction():
            rows = [_row(r) for r in self.db.execute(sql + " FOR UPDATE SKIP LOCKED", params).fetchall()]
            if rows:
                # A send counter from before the claimer's window started is history: the window counts from 0.
                self.db.execute(
                    f"UPDATE registration_outbox SET claimed_by = ?, lease_until = {_DB_NOW} + ?,"
                    " sends = CASE WHEN last_sent_at < CAST(? AS TIMESTAMP) THEN 0 ELSE sends END"
                    " WHERE market = ? AND invoice_key = ANY(?)",
                    [run_id, self.lease, sent_since if max_sends is not None else None, market.value,
                     [r.invoice_key for r in rows]])
        return rows

    def release_claims(self, *, run_id: str) -> int:
        """Give up every claim of ``run_id`` (a run known dead, or one finishing early)."""
        return self.db.execute(
            "UPDATE registration_outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?", [run_id]
        ).rowcount

    def mark_in_flight(self, rows: Sequence[OutboxRow], *, run_id: str | None = None,
                       batch_key: str | None = None) -> None:
        if not rows:
            return
        now = utcnow()
        by_market: dict[Market, list[str]] = {}
        for r in rows:
            by_market.setdefault(r.market, []).append(r.invoice_key)
        with self.db.transaction():
            for market, keys in by_market.items():
                self.db.execute(
                    "UPDATE registration_outbox SET state = 'in_flight', attempts = attempts + 1, batch_key = ?,"
                    f" updated_at = ?, claimed_by = coalesce(?, claimed_by), lease_until = {_DB_NOW} + ?,"
                    " sends = sends + 1, last_sent_at = ?"
                    " WHERE market = ? AND invoice_key = ANY(?)",
                    [batch_key, now, run_id, self.lease, now, market.value, keys])
            self._log([(r.market, r.invoice_key) for r in rows], None, OutboxState.IN_FLIGHT,
                      f"batch {batch_key}" if batch_key else "sending", run_id, now)

    def record_outcomes(self, outcomes: Sequence[Outcome], *, run_id: str | None = None) -> None:
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
        }, schema=pa.schema([(c, pa.string()) for c in _OUTCOME_TYPES]))
        with self.db.transaction():
            self.db.stage("_outcomes", tbl, types=_OUTCOME_TYPES)
            self.db.execute(
                """
                INSERT INTO registration_events (occurred_at, run_id, market, invoice_key, from_state, to_state, detail)
                SELECT ?, ?, t.market, t.invoice_key, o.state, t.state, t.detail
                FROM _outcomes t JOIN registration_outbox o USING (market, invoice_key)
                """,
                [now, run_id],
            )
            self.db.execute(
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
                                      THEN o.generation + 1 ELSE o.generation END,
                    last_error = t.last_error,
                    registered_at = CASE WHEN t.state = 'registered' THEN coalesce(o.registered_at, ?)
                                         ELSE o.registered_at END,
                    updated_at = ?, claimed_by = NULL, lease_until = NULL
                FROM _outcomes t WHERE o.market = t.market AND o.invoice_key = t.invoice_key
                """,
                [now, now],
            )
            self.db.execute(
                """
                INSERT INTO amili_registrations_seen (market, invoice_key, case_id, registration_id, seen_at)
                SELECT market, invoice_key, case_id, registration_id, ? FROM _outcomes WHERE case_id IS NOT NULL
                ON CONFLICT DO NOTHING
                """,
                [now],
            )
            self.db.execute("DROP TABLE _outcomes")
            for o in outcomes:
                if len(o.seen_cases) > 1:
                    for case_id, registration_id in o.seen_cases:
                        self.db.execute("INSERT INTO amili_registrations_seen VALUES (?, ?, ?, ?, ?)"
                                        " ON CONFLICT DO NOTHING",
                                        [o.market.value, o.invoice_key, case_id, registration_id, now])

    def requeue_rejected(self, keys: Sequence[tuple[Market, str]], *, detail: str, run_id: str | None = None) -> int:
        if not keys:
            return 0
        now = utcnow()
        moved: list[tuple[str, str]] = []
        with self.db.transaction():
            for market in {m for m, _ in keys}:
                moved += self.db.execute(
                    "UPDATE registration_outbox SET state = 'pending', rejection_json = NULL, last_error = NULL,"
                    " generation = generation + 1, updated_at = ? WHERE market = ? AND invoice_key = ANY(?)"
                    " AND state = 'rejected' RETURNING market, invoice_key",
                    [now, market.value, [k for m, k in keys if m == market]]).fetchall()
            self._log([(Market(m), k) for m, k in moved], OutboxState.REJECTED, OutboxState.PENDING, detail, run_id, now)
        return len(moved)

    def events(self, market: Market, invoice_key: str) -> list[OutboxEvent]:
        rows = self.db.execute(
            "SELECT occurred_at, run_id, from_state, to_state, detail FROM registration_events"
            " WHERE market = ? AND invoice_key = ? ORDER BY occurred_at, id", [market.value, invoice_key]).fetchall()
        return [OutboxEvent(*r) for r in rows]

    def state_counts(self, *, market: Market | None = None, unclaimed: bool = False) -> dict[str, int]:
        sql, params = "SELECT state, count(*) FROM registration_outbox WHERE true", []
        if market:
            sql += " AND market = ?"
            params.append(market.value)
        if unclaimed:
            sql += f" AND (lease_until IS NULL OR lease_until < {_DB_NOW})"
        counts = {s.value: 0 for s in OutboxState}
        counts.update({s: int(n) for s, n in self.db.execute(sql + " GROUP BY state", params).fetchall()})
        return counts

    def invoices_with_several_cases(self, *, market: Market | None = None) -> list[tuple[str, str, int]]:
        sql, params = "SELECT market, invoice_key, count(DISTINCT case_id) FROM amili_registrations_seen", []
        if market:
            sql += " WHERE market = ?"
            params.append(market.value)
        sql += " GROUP BY market, invoice_key HAVING count(DISTINCT case_id) > 1 ORDER BY market, invoice_key"
        return [(m, k, int(n)) for m, k, n in self.db.execute(sql, params).fetchall()]

    def _log(self, keys: Sequence[tuple[Market, str]], from_state: OutboxState | None, to_state: OutboxState,
             detail: str, run_id: str | None, at: datetime) -> None:
        if not keys:
            return
        self.db.execute(
            "INSERT INTO registration_events (occurred_at, run_id, market, invoice_key, from_state, to_state, detail)"
            " SELECT ?, ?, m, k, ?, ?, ? FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS t(m, k)",
            [at, run_id, from_state.value if from_state else None, to_state.value, detail,
             [m.value for m, _ in keys], [k for _, k in keys]],
        )
