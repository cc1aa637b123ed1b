"""Back to Amili: report what the creditor's own books say about a registered invoice, exactly once.

Detection (``detect_source_changes``) compares, for every registered invoice whose Amili case is
still open, the source system's current view (``source_balances``) with what Amili already
knows:

* the open balance dropped (or the source marks the invoice ``paid``) by more than Amili itself
  collected as capital and more than we already reported → a **payment** of the difference
  (the debtor paid the creditor directly);
* the source marks it ``credited`` → a **crediting** of the difference;
* the source marks it ``cancelled``, or the invoice is gone from its source's newest read →
  a **cancellation** (Norway: withdraw the case).

Each action gets a deterministic key ``idempotency_key(creditor, invoice_number, market,
purpose="payment:<amount>:<date>")`` and is written to ``case_actions_outbox`` (state
``pending``) before anything is sent. Amounts already written (in any state but ``rejected``)
count as reported, so a rerun on the same or a later day never reports the same money twice.

Sending (``send_pending_actions``) follows the registration outbox's rules: ``in_flight`` is
committed before the request leaves; a timeout or 502 leaves ``unknown_outcome``; both are
resolved by a lookup at Amili (Sweden: ``GET /creditor--payments?where={"creditor_payment_reference": key}``
and the like) before anything is sent again. Norway's payment and correction batches carry the
action key as ``IdempotencyKey``, so resending is safe; their outcome comes with the batch.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from amili_pipelines.amili.errors import ApiConflict, ApiRejection, ApiUnavailable, NotFound, OutcomeUnknown
from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import Market, idempotency_key
from amili_pipelines.reconciliation._util import money, utcnow
from amili_pipelines.reconciliation.reconcile import source_balances_sql

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

PENDING, IN_FLIGHT, WAITING, SENT, REJECTED, UNKNOWN = (
    "pending", "in_flight", "waiting_for_batch", "sent", "rejected", "unknown_outcome",
)

@dataclass
class ActionSummary:
    detected_payments: int = 0
    detected_creditings: int = 0
    detected_cancellations: int = 0
    sent: int = 0
    waiting_for_batch: int = 0
    resolved_by_lookup: int = 0
    rejected: int = 0
    unknown_outcome: int = 0
    retry_later: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------


def _status_expr(conn: duckdb.DuckDBPyConnection) -> str:
    from amili_pipelines.reconciliation._util import column_names, table_exists

    if table_exists(conn, "source_balances") and "status" in column_names(conn, "source_balances"):
        return """(SELECT arg_max(b.status, b.partition_date) FROM source_balances b WHERE b.invoice_key = r.invoice_key)"""
    return "NULL"


def detect_source_changes(conn: duckdb.DuckDBPyConnection, *, as_of: date | None = None) -> ActionSummary:
    """Write a pending action for every registered invoice whose source shows news Amili lacks."""
    as_of = as_of or utcnow().date()
    src = source_balances_sql(conn)
    rows = conn.execute(
        f"""
        WITH src AS ({src}),
        collected AS (
            SELECT market, case_id, sum(principal_amount) AS capital FROM settlement_lines
            WHERE case_id IS NOT NULL GROUP BY ALL
        ),
        reported AS (
            SELECT market, invoice_key,
                   coalesce(sum(amount) FILTER (WHERE action = 'payment' AND state <> 'rejected'), 0) AS paid,
                   coalesce(sum(amount) FILTER (WHERE action = 'crediting' AND state <> 'rejected'), 0) AS credited,
                   count(*) FILTER (WHERE action = 'cancellation' AND state <> 'rejected') AS cancellations
            FROM case_actions_outbox GROUP BY ALL
        )
        SELECT r.market, r.invoice_key, r.creditor, r.invoice_number, r.case_id, r.amili_invoice_id,
               r.claimed_amount, r.currency, s.present, s.open_balance,
               coalesce(c.capital, 0), coalesce(p.paid, 0), coalesce(p.credited, 0), coalesce(p.cancellations, 0),
               {_status_expr(conn)} AS source_status
        FROM registration_outbox r
        JOIN src s ON s.invoice_key = r.invoice_key
        LEFT JOIN cases k ON k.market = r.market AND k.case_id = r.case_id
        LEFT JOIN collected c ON c.market = r.market AND c.case_id = r.case_id
        LEFT JOIN reported p ON p.market = r.market AND p.invoice_key = r.invoice_key
        WHERE r.state = 'registered' AND r.case_id IS NOT NULL AND NOT coalesce(k.is_closed, false)
        ORDER BY r.market, r.invoice_key
        """
    ).fetchall()
    summary = ActionSummary()
    new: list[tuple] = []
    now = utcnow()
    for (market, key, creditor, number, case_id, inv_id, claimed, currency, present, open_balance, collected,
         paid, credited, cancellations, status) in rows:
        if cancellations:
            continue
        status = (status or "").lower()
        claimed = money(claimed) or Decimal("0.00")
        if not present or status in ("cancelled", "canceled", "written_off", "removed"):
            new.append((market, key, creditor, number, case_id, inv_id, "cancellation", None, currency))
            summary.detected_cancellations += 1
            continue
        current = money(open_balance) or Decimal("0.00")
        # What left the books beyond what Amili collected and what we already reported.
        reduction = claimed - current - money(collected) - money(paid) - money(credited)
        if reduction <= Decimal("0.005"):
            continue
        action = "crediting" if status == "credited" else "payment"
        new.append((market, key, creditor, number, case_id, inv_id, action, reduction, currency))
        if action == "payment":
            summary.detected_payments += 1
        else:
            summary.detected_creditings += 1
    if new:
        conn.execute("BEGIN TRANSACTION")
        try:
            for market, key, creditor, number, case_id, inv_id, action, amount, currency in new:
                purpose = f"{action}:{amount if amount is not None else 'all'}:{as_of.isoformat()}"
                akey = idempotency_key(creditor, number, market, purpose=purpose)
                inserted = conn.execute(
                    """
                    INSERT INTO case_actions_outbox (action_key, market, invoice_key, creditor, invoice_number, case_id,
                        amili_invoice_id, action, purpose, amount, currency, action_date, state, attempts, created_at,
                        updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                    ON CONFLICT (action_key) DO NOTHING
                    RETURNING action_key
                    """,
                    [akey, market, key, creditor, number, case_id, inv_id, action, purpose, amount, currency, as_of,
                     now, now],
                ).fetchall()
                if inserted:
                    _event(conn, akey, None, PENDING, f"source shows {purpose}", now)
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
    return summary


def _event(conn, key: str, from_state: str | None, to_state: str, detail: str | None, at: datetime) -> None:
    conn.execute(
        "INSERT INTO case_action_events (event_at, action_key, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?)",
        [at, key, from_state, to_state, (detail or "")[:500]],
    )


def _set(conn, key: str, to_state: str, *, detail: str | None = None, **cols: Any) -> None:
    now = utcnow()
    current = conn.execute("SELECT state FROM case_actions_outbox WHERE action_key = ?", [key]).fetchall()
    from_state = current[0][0] if current else None
    assignments = ", ".join(f"{c} = ?" for c in cols)
    sql = "UPDATE case_actions_outbox SET state = ?, updated_at = ?" + (", " + assignments if assignments else "")
    conn.execute(sql + " WHERE action_key = ?", [to_state, now, *cols.values(), key])
    _event(conn, key, from_state, to_state, detail, now)


@dataclass
class _Action:
    key: str
    market: str
    creditor: str
    invoice_number: str
    case_id: str | None
    amili_invoice_id: str | None
    action: str
    amount: Decimal | None
    currency: str | None
    action_date: date
    state: str
    batch_id: str | None


def _actions(conn, states: tuple[str, ...], market: str) -> list[_Action]:
    marks = ", ".join("?" for _ in states)
    rows = conn.execute(
        f"""SELECT action_key, market, creditor, invoice_number, case_id, amili_invoice_id, action, amount, currency,
                   action_date, state, batch_id
            FROM case_actions_outbox WHERE market = ? AND state IN ({marks}) ORDER BY created_at, action_key""",
        [market, *states],
    ).fetchall()
    return [_Action(*r) for r in rows]


# ---------------------------------------------------------------------------------------------
# Sweden
# ---------------------------------------------------------------------------------------------


def _se_lookup_where(a: _Action, amili_creditor: str) -> dict[str, Any]:
    if a.action == "payment":
        return {"creditor": amili_creditor, "creditor_payment_reference": a.key}
    if a.action == "crediting":
        return {"creditor": amili_creditor, "creditor_reference": a.key}
    return {"creditor": amili_creditor, "case": a.case_id}


async def _se_find(se: Any, a: _Action, amili_creditor: str) -> dict[str, Any] | None:
    """The action at Amili if it arrived (the lookup that resolves an unknown outcome)."""
    async for doc in se.iter_creditor_actions(action=a.action, where=_se_lookup_where(a, amili_creditor), page_size=10):
        return {"_id": doc.id, "status": doc.status}
    return None


async def _se_send(se: Any, a: _Action, creditor: Any) -> Any:
    from amili_pipelines.amili.se.models import CreditorCancellation, CreditorCrediting, CreditorPayment

    if a.action == "payment":
        when = datetime.combine(a.action_date, datetime.min.time(), tzinfo=UTC)
        return await se.register_payment(payment=CreditorPayment(
            creditor=creditor.creditor_id, account=creditor.account_id, case=a.case_id, amount=a.amount,
            bank_transaction_date=when, creditor_payment_reference=a.key,
        ))
    if a.action == "crediting":
        return await se.register_crediting(crediting=CreditorCrediting(
            creditor=creditor.creditor_id, account=creditor.account_id, case=a.case_id, amount=a.amount,
            creditor_reference=a.key,
        ))
    return await se.register_cancellation(cancellation=CreditorCancellation(creditor=creditor.creditor_id, case=a.case_id))


# What a failed send means for the action, in both markets: Amili said no (rejected, with its own
# reasons), we cannot tell (looked up before any resend), or it never got there (sent again later).
_SEND_FAILURES = (ApiRejection, OutcomeUnknown, ApiUnavailable, NotFound)


def _record_send_failure(conn, key: str, exc: Exception, s: ActionSummary) -> None:
    if isinstance(exc, ApiRejection):
        _set(conn, key, REJECTED, detail=str(exc), last_error=str(exc)[:500],
             result_json=json.dumps(exc.raw, default=str))
        s.rejected += 1
    elif isinstance(exc, OutcomeUnknown):
        _set(conn, key, UNKNOWN, detail=str(exc), last_error=str(exc)[:500])
        s.unknown_outcome += 1
    else:
        _set(conn, key, PENDING, detail=str(exc), last_error=str(exc)[:500])
        s.retry_later += 1


async def _send_sweden(conn, se: Any, creditors: CreditorsFile, s: ActionSummary) -> None:
    # 1. Resolve what an earlier run left unclear, by lookup, before anything is sent again.
    for a in _actions(conn, (IN_FLIGHT, UNKNOWN), "SE"):
        cred = creditors.creditor(a.creditor)
        try:
            found = await _se_find(se, a, cred.creditor_id)
        except (ApiUnavailable, OutcomeUnknown) as exc:
            s.retry_later += 1
            conn.execute("UPDATE case_actions_outbox SET last_error = ? WHERE action_key = ?", [str(exc)[:500], a.key])
            continue
        if found:
            _set(conn, a.key, SENT, detail="found at Amili by lookup", remote_id=str(found.get("_id") or found.get("id")),
                 result_status=found.get("status") or "completed", sent_at=utcnow())
            s.resolved_by_lookup += 1
        else:
            _set(conn, a.key, PENDING, detail="not found at Amili by lookup: will send")
    # 2. Send what is pending, intent first.
    for a in _actions(conn, (PENDING,), "SE"):
        cred = creditors.creditor(a.creditor)
        conn.execute("UPDATE case_actions_outbox SET attempts = attempts + 1 WHERE action_key = ?", [a.key])
        _set(conn, a.key, IN_FLIGHT, detail=f"sending {a.action}")
        try:
            res = await _se_send(se, a, cred)
        except _SEND_FAILURES as exc:
            _record_send_failure(conn, a.key, exc, s)
            continue
        status = getattr(res, "status", None) or getattr(res, "payment_status", None) or getattr(
            res, "cancellation_status", None)
        _set(conn, a.key, SENT, detail=f"Amili: {status}", remote_id=res.id, result_status=status,
             result_json=res.model_dump_json(), sent_at=utcnow())
        s.sent += 1


# ---------------------------------------------------------------------------------------------
# Norway
# ---------------------------------------------------------------------------------------------


async def confirm_norway_action_batches(conn, no: Any, creditors: CreditorsFile, s: ActionSummary | None = None) -> ActionSummary:
    """Record the outcome of finished Norwegian payment / correction batches (sent or rejected)."""
    s = s or ActionSummary()
    for a in _actions(conn, (WAITING,), "NO"):
        org = creditors.creditor(a.creditor).organization_id
        try:
            batch = await no.get_batch(organization_id=org, batch_id=a.batch_id)
        except (ApiUnavailable, OutcomeUnknown) as exc:
            s.retry_later += 1
            conn.execute("UPDATE case_actions_outbox SET last_error = ? WHERE action_key = ?", [str(exc)[:500], a.key])
            continue
        if not batch.is_terminal:
            s.waiting_for_batch += 1
            continue
        status = (batch.status or "").upper()
        if status == "SUCCESS" or (status == "PARTIAL" and not batch.failed):
            _set(conn, a.key, SENT, detail=f"batch {a.batch_id} {status}", result_status=status, sent_at=utcnow())
            s.sent += 1
        else:
            errors = [e.model_dump(mode="json") for f in batch.failed for e in f.errors]
            _set(conn, a.key, REJECTED, detail=f"batch {a.batch_id} {status}", result_status=status,
                 result_json=json.dumps(errors), last_error=("; ".join(e.get("message") or "" for e in errors))[:500])
            s.rejected += 1
    return s


async def _send_norway(conn, no: Any, creditors: CreditorsFile, s: ActionSummary) -> None:
    from amili_pipelines.amili.no.models import Correction, Payment

    await confirm_norway_action_batches(conn, no, creditors, s)
    # Pending, in flight and unknown: the IdempotencyKey makes resending safe (same batch back).
    for a in _actions(conn, (PENDING, IN_FLIGHT, UNKNOWN), "NO"):
        org = creditors.creditor(a.creditor).organization_id
        conn.execute("UPDATE case_actions_outbox SET attempts = attempts + 1 WHERE action_key = ?", [a.key])
        _set(conn, a.key, IN_FLIGHT, detail=f"sending {a.action}")
        try:
            if a.action == "cancellation":
                try:
                    await no.withdraw_case(organization_id=org, case_id=a.case_id)
                    detail = "withdrawn"
                except ApiConflict as exc:  # already withdrawn or closed: nothing left to stop
                    detail = f"not withdrawn: {exc}"
                _set(conn, a.key, SENT, detail=detail, result_status=detail[:40], sent_at=utcnow())
                s.sent += 1
                continue
            if not a.amili_invoice_id:
                raise ApiRejection("no Amili invoice id recorded for this invoice")
            if a.action == "payment":
                ref = await no.submit_payments(organization_id=org, idempotency_key=a.key, payments=[
                    Payment(invoice_id=a.amili_invoice_id, amount=a.amount, currency=a.currency or "NOK")])
            else:
                ref = await no.submit_corrections(organization_id=org, idempotency_key=a.key, corrections=[
                    Correction(invoice_id=a.amili_invoice_id, amount=a.amount, currency=a.currency or "NOK",
                               date=datetime.combine(a.action_date, datetime.min.time(), tzinfo=UTC),
                               description=f"credited in the creditor's books ({a.key[:12]})")])
        except _SEND_FAILURES as exc:
            _record_send_failure(conn, a.key, exc, s)
            continue
        _set(conn, a.key, WAITING, detail=f"batch {ref.batch_id}", batch_id=ref.batch_id)
        s.waiting_for_batch += 1


async def send_pending_actions(
    conn: duckdb.DuckDBPyConnection,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
) -> ActionSummary:
    """Drive every action as far as it goes in this run (exactly once at Amili)."""
    started = time.perf_counter()
    s = ActionSummary()
    if se_client is not None:
        await _send_sweden(conn, se_client, creditors, s)
    if no_client is not None:
        await _send_norway(conn, no_client, creditors, s)
    s.seconds = round(time.perf_counter() - started, 3)
    return s


async def report_back_to_amili(
    conn: duckdb.DuckDBPyConnection,
    *,
    creditors: CreditorsFile,
    se_client: AmiliSeClient | None = None,
    no_client: AmiliNoClient | None = None,
    as_of: date | None = None,
) -> ActionSummary:
    """Detect source changes, then send them: the use case behind the ``case_actions`` asset."""
    detected = detect_source_changes(conn, as_of=as_of)
    sent = await send_pending_actions(conn, creditors=creditors, se_client=se_client, no_client=no_client)
    sent.detected_payments = detected.detected_payments
    sent.detected_creditings = detected.detected_creditings
    sent.detected_cancellations = detected.detected_cancellations
    return sent


def market_of(value: str) -> Market:
    return Market(value)
