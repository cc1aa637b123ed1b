"""Reading the registration outbox for people (``show``, ``retry``) and for the batch-status sensor:
written once for both databases.

The stores differ in how they lock, claim and load rows; what an operator reads is the same portable
SQL. ``strpos`` rather than LIKE: the operator's text is matched literally, so a ``%`` or ``_`` in a
rejection message is not a wildcard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import RetrySelection
from amili_pipelines.domain.outbox import BatchItemRow, OutboxRecord, OutboxState, WaitingBatch
from amili_pipelines.warehouse.common import casefold

_RECORD_COLUMNS = ("market, invoice_key, creditor, invoice_number, state, attempts, claimed_amount, currency, batch_key,"
                   " batch_id, registration_id, case_id, amili_invoice_id, ocr_number,"
                   " CAST(rejection_json AS VARCHAR), last_error, registered_at, coalesce(generation, 0), updated_at")


def _record(r: tuple) -> OutboxRecord:
    return OutboxRecord(Market(r[0]), r[1], r[2], r[3], OutboxState(r[4]), *r[5:14],
                        rejection=json.loads(r[14]) if r[14] else None, last_error=r[15], registered_at=r[16],
                        generation=r[17], updated_at=r[18])


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


def retry_selection_where(states: Iterable[OutboxState], selection: RetrySelection,
                          session: object = None) -> tuple[str, list]:
    """(``WHERE ...`` over registration_outbox, its parameters) for rows in ``states`` matching ``selection``."""
    values = [s.value for s in states]
    where = f"WHERE state IN ({_marks(len(values))})"
    params: list = list(values)
    if selection.invoice_keys:
        keys = list(selection.invoice_keys)
        where += f" AND invoice_key IN ({_marks(len(keys))})"
        params += keys
    if selection.creditor:
        where += " AND creditor = ?"
        params.append(selection.creditor)
    if selection.message:
        answer, error = (casefold(session, f"coalesce({c}, '')") for c in ("CAST(rejection_json AS VARCHAR)", "last_error"))
        asked = casefold(session, "CAST(? AS VARCHAR)")
        where += f" AND (strpos({answer}, {asked}) > 0 OR strpos({error}, {asked}) > 0)"
        params += [selection.message, selection.message]
    if selection.answered_from:
        where += " AND CAST(updated_at AS DATE) >= ?"
        params.append(selection.answered_from)
    if selection.answered_until:
        where += " AND CAST(updated_at AS DATE) <= ?"
        params.append(selection.answered_until)
    return where, params


class OutboxRecordReads:
    """``record``, ``records`` and ``select`` of both outbox stores (they set ``self.db`` and ``_log``),
    and the operator's one conditional write both run as written (``requeue_waiting``)."""

    db: Any

    def record(self, market: Market, invoice_key: str) -> OutboxRecord | None:
        rows = self.db.execute(f"SELECT {_RECORD_COLUMNS} FROM registration_outbox WHERE market = ? AND invoice_key = ?",
                               [market.value, invoice_key]).fetchall()
        return _record(rows[0]) if rows else None

    def records(self, invoice_key: str) -> list[OutboxRecord]:
        """The invoice's rows in every market (an invoice key belongs to one creditor, so one market)."""
        rows = self.db.execute(f"SELECT {_RECORD_COLUMNS} FROM registration_outbox WHERE invoice_key = ? ORDER BY market",
                               [invoice_key]).fetchall()
        return [_record(r) for r in rows]

    def select(self, states: Iterable[OutboxState], selection: RetrySelection) -> list[OutboxRecord]:
        """Rows in ``states`` that match an operator's selection, in market and key order."""
        where, params = retry_selection_where(states, selection, self.db)
        sql = f"SELECT {_RECORD_COLUMNS} FROM registration_outbox {where} ORDER BY market, invoice_key"
        return [_record(r) for r in self.db.execute(sql, params).fetchall()]

    # -- Norway's batches, as the batch-status sensor reads them ---------------------------------

    def waiting_batches(self) -> list[WaitingBatch]:
        """Every Norwegian batch some invoices still wait for."""
        rows = self.db.execute(
            "SELECT DISTINCT creditor, batch_id FROM registration_outbox"
            " WHERE market = 'NO' AND state = 'waiting_for_batch' AND batch_id IS NOT NULL ORDER BY 1, 2"
        ).fetchall()
        return [WaitingBatch(creditor=c, batch_id=b) for c, b in rows]

    def batch_rows(self, batch_id: str) -> list[BatchItemRow]:
        """The outbox rows of one Norwegian batch, in submission order (invoice key)."""
        rows = self.db.execute(
            "SELECT invoice_key, invoice_number, state FROM registration_outbox WHERE market = 'NO' AND batch_id = ?"
            " ORDER BY invoice_key", [batch_id]).fetchall()
        return [BatchItemRow(k, n, OutboxState(s)) for k, n, s in rows]

    def known_batch_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT batch_id FROM registration_outbox WHERE market = 'NO' AND batch_id IS NOT NULL"
        ).fetchall()}

    def requeue_waiting(self, market: Market, invoice_key: str, *, batch_id: str, detail: str,
                        run_id: str | None = None) -> bool:
        """A row still waiting for ``batch_id`` back to pending as a new generation (an operator's retry
        of an invoice its finished batch left unplaced). A new generation gives the resend a new batch
        ``IdempotencyKey``: under the old one Amili would answer with the old batch again. One
        conditional statement (PostgreSQL re-checks it on the locked row): of two releasing the same
        row at once only one moves it; the other gets False and sends nothing."""
        now = utcnow()
        with self.db.transaction():
            moved = self.db.execute(
                "UPDATE registration_outbox SET state = 'pending', last_error = NULL,"
                " generation = coalesce(generation, 0) + 1, updated_at = ?, claimed_by = NULL, lease_until = NULL"
                " WHERE market = ? AND invoice_key = ? AND state = 'waiting_for_batch' AND batch_id = ?"
                " RETURNING 1", [now, market.value, invoice_key, batch_id]).fetchall()
            if moved:
                self._log([(market, invoice_key)], OutboxState.WAITING_FOR_BATCH, OutboxState.PENDING,  # type: ignore[attr-defined]
                          detail, run_id, now)
        return bool(moved)
