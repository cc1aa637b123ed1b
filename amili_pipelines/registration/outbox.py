"""The registration outbox in DuckDB: one row per invoice and market, and its state machine.

    pending ──▶ in_flight ──▶ registered
                   │    ├──▶ rejected            (the API said no, with its own reasons)
                   │    ├──▶ waiting_for_batch   (Norway: accepted into a batch, result pending)
                   │    └──▶ unknown_outcome     (maybe applied: timeout, 502, dropped connection)
                   └──(crash)──▶ still in_flight

``in_flight`` and ``unknown_outcome`` are both "we do not know": before anything is sent again,
the engine looks the invoice up at Amili and moves it to registered / waiting_for_batch, or back
to pending when Amili has never seen it. Registered invoices are never sent again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum

import duckdb
import pyarrow as pa

from amili_pipelines.domain.invoice import Market


class OutboxState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    WAITING_FOR_BATCH = "waiting_for_batch"
    REGISTERED = "registered"
    REJECTED = "rejected"
    UNKNOWN_OUTCOME = "unknown_outcome"


UNRESOLVED = (OutboxState.IN_FLIGHT, OutboxState.UNKNOWN_OUTCOME)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """What to send for one invoice; built from a valid invoice by the engine."""

    market: Market
    invoice_key: str
    creditor: str
    invoice_number: str
    idempotency_key: str
    content_hash: str | None
    payload: dict
    claimed_amount: Decimal | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    market: Market
    invoice_key: str
    creditor: str
    invoice_number: str
    idempotency_key: str
    state: OutboxState
    payload: dict
    attempts: int
    batch_key: str | None
    batch_id: str | None


_ROW_COLUMNS = "market, invoice_key, creditor, invoice_number, idempotency_key, state, payload_json, attempts, batch_key, batch_id"


def _row(r: tuple) -> OutboxRow:
    return OutboxRow(
        market=Market(r[0]), invoice_key=r[1], creditor=r[2], invoice_number=r[3], idempotency_key=r[4],
        state=OutboxState(r[5]), payload=json.loads(r[6]), attempts=r[7], batch_key=r[8], batch_id=r[9],
    )


def enqueue(conn: duckdb.DuckDBPyConnection, entries: Sequence[OutboxEntry], *, run_id: str | None = None) -> dict[str, int]:
    """Add valid invoices to the outbox. Returns counts: new, requeued, already (in the outbox).

    An invoice already in the outbox is left alone, whatever reruns or backfills happen, except a
    rejected one whose source row changed since: the fix is sent as a new attempt.
    """
    if not entries:
        return {"new": 0, "requeued": 0, "already": 0}
    now = utcnow()
    tbl = pa.table({  # noqa: F841 - read by name in SQL
        "market": [e.market.value for e in entries],
        "invoice_key": [e.invoice_key for e in entries],
        "creditor": [e.creditor for e in entries],
        "invoice_number": [e.invoice_number for e in entries],
        "idempotency_key": [e.idempotency_key for e in entries],
        "content_hash": [e.content_hash for e in entries],
        "payload_json": [json.dumps(e.payload, default=str) for e in entries],
        "claimed_amount": pa.array([e.claimed_amount for e in entries], type=pa.decimal128(18, 2)),
        "currency": [e.currency for e in entries],
    })
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("CREATE OR REPLACE TEMP TABLE _incoming AS SELECT * FROM tbl")
        requeue = conn.execute(
            """
            SELECT o.market, o.invoice_key FROM registration_outbox o JOIN _incoming i USING (market, invoice_key)
            WHERE o.state = 'rejected' AND i.content_hash IS DISTINCT FROM o.content_hash
            """
        ).fetchall()
        conn.execute(
            """
            UPDATE registration_outbox o SET state = 'pending', content_hash = i.content_hash,
                   payload_json = i.payload_json, claimed_amount = i.claimed_amount, currency = i.currency,
                   rejection_json = NULL, last_error = NULL, updated_at = ?
            FROM _incoming i
            WHERE o.market = i.market AND o.invoice_key = i.invoice_key
              AND o.state = 'rejected' AND i.content_hash IS DISTINCT FROM o.content_hash
            """,
            [now],
        )
        new = conn.execute(
            """
            INSERT INTO registration_outbox (market, invoice_key, creditor, invoice_number, idempotency_key, state,
                content_hash, payload_json, claimed_amount, currency, attempts, created_at, updated_at)
            SELECT market, invoice_key, creditor, invoice_number, idempotency_key, 'pending', content_hash,
                   payload_json, claimed_amount, currency, 0, ?, ?
            FROM _incoming i
            WHERE NOT EXISTS (SELECT 1 FROM registration_outbox o WHERE o.market = i.market AND o.invoice_key = i.invoice_key)
            RETURNING market, invoice_key
            """,
            [now, now],
        ).fetchall()
        _log(conn, [(Market(m), k) for m, k in new], None, OutboxState.PENDING, "enqueued", run_id, now)
        _log(conn, [(Market(m), k) for m, k in requeue], OutboxState.REJECTED, OutboxState.PENDING,
             "source row changed after rejection", run_id, now)
        conn.execute("DROP TABLE _incoming")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return {"new": len(new), "requeued": len(requeue), "already": len(entries) - len(new) - len(requeue)}


def rows_in_state(
    conn: duckdb.DuckDBPyConnection, states: Iterable[OutboxState], *, market: Market, creditor: str | None = None,
    limit: int | None = None, sent_since: datetime | None = None, max_sends: int | None = None,
) -> list[OutboxRow]:
    """Rows in the given states, in key order. With ``sent_since``/``max_sends``: only rows sent fewer
    than ``max_sends`` times since then, so one run cannot resend an invoice Amili keeps refusing forever."""
    states = [s.value for s in states]
    sql = f"SELECT {_ROW_COLUMNS} FROM registration_outbox o WHERE market = ? AND state IN ({', '.join('?' * len(states))})"
    params: list = [market.value, *states]
    if creditor:
        sql += " AND creditor = ?"
        params.append(creditor)
    if sent_since is not None and max_sends is not None:
        sql += (" AND (SELECT count(*) FROM registration_events e WHERE e.market = o.market"
                " AND e.invoice_key = o.invoice_key AND e.to_state = 'in_flight' AND e.occurred_at >= ?) < ?")
        params += [sent_since, max_sends]
    sql += " ORDER BY invoice_key"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_row(r) for r in conn.execute(sql, params).fetchall()]


def mark_in_flight(
    conn: duckdb.DuckDBPyConnection, rows: Sequence[OutboxRow], *, run_id: str | None = None, batch_key: str | None = None,
) -> None:
    """Write the intent to send, and commit it, before any request leaves."""
    if not rows:
        return
    now = utcnow()
    keys = pa.table({"market": [r.market.value for r in rows], "invoice_key": [r.invoice_key for r in rows]})  # noqa: F841
    conn.execute("BEGIN TRANSACTION")
    conn.execute(
        """
        UPDATE registration_outbox o SET state = 'in_flight', attempts = attempts + 1, batch_key = ?, updated_at = ?
        FROM keys k WHERE o.market = k.market AND o.invoice_key = k.invoice_key
        """,
        [batch_key, now],
    )
    _log(conn, [(r.market, r.invoice_key) for r in rows], None, OutboxState.IN_FLIGHT,
         f"batch {batch_key}" if batch_key else "sending", run_id, now)
    conn.execute("COMMIT")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The observed result of sending (or looking up) one invoice."""

    market: Market
    invoice_key: str
    state: OutboxState
    case_id: str | None = None
    amili_invoice_id: str | None = None
    ocr_number: str | None = None
    registration_id: str | None = None
    batch_id: str | None = None
    rejection: object | None = None  # the API's own issues, JSON-serialisable
    error: str | None = None  # never contains secrets: built from typed errors
    detail: str | None = None
    seen_cases: tuple[tuple[str, str | None], ...] = ()  # every (case id, registration id) a lookup found


def record_outcomes(conn: duckdb.DuckDBPyConnection, outcomes: Sequence[Outcome], *, run_id: str | None = None) -> None:
    """Store a batch of outcomes in one transaction (and every case id seen, for the duplicate check)."""
    if not outcomes:
        return
    now = utcnow()
    tbl = pa.table({  # noqa: F841
        "market": [o.market.value for o in outcomes],
        "invoice_key": [o.invoice_key for o in outcomes],
        "state": [o.state.value for o in outcomes],
        "case_id": [o.case_id for o in outcomes],
        "amili_invoice_id": [o.amili_invoice_id for o in outcomes],
        "ocr_number": [o.ocr_number for o in outcomes],
        "registration_id": [o.registration_id for o in outcomes],
        "batch_id": [o.batch_id for o in outcomes],
        "rejection_json": [json.dumps(o.rejection, default=str) if o.rejection is not None else None for o in outcomes],
        "last_error": [o.error for o in outcomes],
        "detail": [o.detail or o.error for o in outcomes],
    })
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            """
            INSERT INTO registration_events (occurred_at, run_id, market, invoice_key, from_state, to_state, detail)
            SELECT ?, ?, t.market, t.invoice_key, o.state, t.state, t.detail
            FROM tbl t JOIN registration_outbox o USING (market, invoice_key)
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
                rejection_json = CASE WHEN t.state = 'rejected' THEN t.rejection_json ELSE o.rejection_json END,
                last_error = t.last_error,
                registered_at = CASE WHEN t.state = 'registered' THEN coalesce(o.registered_at, ?) ELSE o.registered_at END,
                updated_at = ?
            FROM tbl t WHERE o.market = t.market AND o.invoice_key = t.invoice_key
            """,
            [now, now],
        )
        conn.execute(
            """
            INSERT INTO amili_registrations_seen (market, invoice_key, case_id, registration_id, seen_at)
            SELECT market, invoice_key, case_id, registration_id, ? FROM tbl WHERE case_id IS NOT NULL
            ON CONFLICT DO NOTHING
            """,
            [now],
        )
        for o in outcomes:
            if len(o.seen_cases) > 1:
                record_seen_cases(conn, o.market, o.invoice_key, o.seen_cases)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def record_seen_cases(conn: duckdb.DuckDBPyConnection, market: Market, invoice_key: str, case_ids: Iterable[tuple[str, str | None]]) -> None:
    """Remember every case Amili reports for an invoice (a lookup may find more than one)."""
    now = utcnow()
    for case_id, registration_id in case_ids:
        conn.execute(
            "INSERT INTO amili_registrations_seen VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [market.value, invoice_key, case_id, registration_id, now],
        )


def state_counts(conn: duckdb.DuckDBPyConnection, *, market: Market | None = None) -> dict[str, int]:
    sql = "SELECT state, count(*) FROM registration_outbox"
    params: list = []
    if market:
        sql += " WHERE market = ?"
        params.append(market.value)
    sql += " GROUP BY state"
    counts = {s.value: 0 for s in OutboxState}
    counts.update(dict(conn.execute(sql, params).fetchall()))
    return counts


def invoices_with_several_cases(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    return conn.execute(
        "SELECT market, invoice_key, count(DISTINCT case_id) AS n FROM amili_registrations_seen"
        " GROUP BY market, invoice_key HAVING n > 1 ORDER BY market, invoice_key"
    ).fetchall()


def _log(conn, keys: Sequence[tuple[Market, str]], from_state, to_state: OutboxState, detail: str, run_id, at) -> None:
    if not keys:
        return
    tbl = pa.table({  # noqa: F841
        "market": [m.value for m, _ in keys], "invoice_key": [k for _, k in keys],
    })
    conn.execute(
        "INSERT INTO registration_events SELECT ?, ?, market, invoice_key, ?, ?, ? FROM tbl",
        [at, run_id, from_state.value if from_state else None, to_state.value, detail],
    )
