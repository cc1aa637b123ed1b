"""Contract: operators' retries and case commands find what they ask for, and the audit keeps it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from amili_pipelines.domain.case_actions import ActionState, NewCaseAction
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import REQUESTED, AuditEntry, RetrySelection
from amili_pipelines.domain.outbox import OutboxState, Outcome
from tests.support.records import case, entry, line

SE, NO = Market.SE, Market.NO
RETRYABLE = (OutboxState.REJECTED, OutboxState.UNKNOWN_OUTCOME, OutboxState.IN_FLIGHT)


def _outbox(wh):
    wh.outbox.enqueue([entry("1"), entry("2"), entry("3"), entry("4", market=NO, creditor="demo-no")])
    wh.outbox.record_outcomes([
        Outcome(SE, "demo-se/1", OutboxState.REJECTED, error="creditor is not active",
                rejection=[{"field": "creditor", "message": "creditor is not active", "code": None}]),
        Outcome(SE, "demo-se/2", OutboxState.UNKNOWN_OUTCOME, error="OutcomeUnknown: 502 Bad Gateway"),
        Outcome(SE, "demo-se/3", OutboxState.REGISTERED, case_id="c-3"),
        Outcome(NO, "demo-no/4", OutboxState.REJECTED, error="DUPLICATE invoice number",
                rejection=[{"code": "DUPLICATE", "message": "invoice number exists"}]),
    ])


def _keys(records):
    return [r.invoice_key for r in records]


def test_a_retry_selects_by_key_creditor_answer_and_day(warehouse):
    _outbox(warehouse)
    sel = warehouse.outbox.select
    assert _keys(sel(RETRYABLE, RetrySelection(everything=True))) == ["demo-no/4", "demo-se/1", "demo-se/2"]
    assert _keys(sel(RETRYABLE, RetrySelection(invoice_keys=("demo-se/1", "demo-se/3")))) == ["demo-se/1"]
    assert _keys(sel(RETRYABLE, RetrySelection(creditor="demo-no"))) == ["demo-no/4"]
    assert _keys(sel(RETRYABLE, RetrySelection(message="NOT ACTIVE"))) == ["demo-se/1"], "case-insensitive"
    assert _keys(sel(RETRYABLE, RetrySelection(message="duplicate"))) == ["demo-no/4"], "codes too"
    assert _keys(sel(RETRYABLE, RetrySelection(message="502"))) == ["demo-se/2"], "and the last error"
    assert _keys(sel(RETRYABLE, RetrySelection(message="50%"))) == [], "no wildcards"
    today = utcnow().date()
    assert len(sel(RETRYABLE, RetrySelection(answered_from=today, answered_until=today))) == 3
    assert sel(RETRYABLE, RetrySelection(answered_until=today - timedelta(days=1))) == []


def test_requeueing_a_rejection_starts_a_new_generation(warehouse):
    _outbox(warehouse)
    moved = warehouse.outbox.requeue_rejected([(SE, "demo-se/1"), (SE, "demo-se/2"), (SE, "demo-se/3")],
                                              detail="operator retry by ops: creditor reactivated", run_id="r1")
    assert moved == 1, "only rejected rows move; unclear and registered ones are not touched"
    [row] = warehouse.outbox.rows_in_state([OutboxState.PENDING], market=SE)
    assert (row.invoice_key, row.generation) == ("demo-se/1", 1)
    record = warehouse.outbox.record(SE, "demo-se/1")
    assert record.rejection is None and record.generation == 1
    assert warehouse.outbox.events(SE, "demo-se/1")[-1].detail == "operator retry by ops: creditor reactivated"
    assert warehouse.outbox.record(SE, "demo-se/2").state is OutboxState.UNKNOWN_OUTCOME
    only = warehouse.outbox.rows_in_state([OutboxState.PENDING, OutboxState.UNKNOWN_OUTCOME], market=SE,
                                          invoice_keys={"demo-se/2"})
    assert _keys(only) == ["demo-se/2"]
    # A source fix after a rejection is a new generation too.
    warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.REJECTED, error="again")])
    warehouse.outbox.enqueue([entry("1", content_hash="fixed")])
    assert warehouse.outbox.record(SE, "demo-se/1").generation == 2


def test_the_audit_keeps_every_request_and_completes_it_once(warehouse, reopen):
    when = datetime(2026, 6, 1, 9, 0)
    warehouse.audit.record_request(AuditEntry(
        audit_id="a1", requested_at=when, actor="ops", via="cli", run_id=None, action="retry", market="SE",
        invoice_key="demo-se/1", case_id=None, reason="creditor reactivated", request="retry demo-se/1",
        subject_key="registration SE demo-se/1", outcome=REQUESTED, answer=None))
    warehouse.audit.record_outcome("a1", outcome="registered", answer="registered: case c-1", case_id="c-1")
    warehouse.audit.record_outcome("a1", outcome="rejected", answer="later overwrite")
    [entry_] = warehouse.audit.for_invoice("demo-se/1")
    assert (entry_.outcome, entry_.answer, entry_.case_id, entry_.actor) == (
        "registered", "registered: case c-1", "c-1", "ops"), "a finished entry is history"
    assert entry_.finished_at is not None
    with reopen() as again:
        assert [e.audit_id for e in again.audit.recent(action="retry")] == ["a1"]
        assert again.audit.recent(action="withdraw") == []


def test_an_invoice_history_gathers_every_part(warehouse):
    _outbox(warehouse)
    warehouse.cases.upsert_cases([case("c-3", "3")])
    warehouse.settlements.upsert_lines([line("l-1", "c-3", "100.00", number="3")])
    warehouse.actions.add([NewCaseAction(
        key="k-w", market="SE", invoice_key="demo-se/3", creditor="demo-se", invoice_number="3", case_id="c-3",
        amili_invoice_id=None, action="cancellation", purpose="operator:withdraw:1", amount=None, currency="SEK",
        action_date=date(2026, 6, 1))], detail="operator withdraw by ops: sold the claim")
    warehouse.actions.set_state("k-w", ActionState.SENT, detail="Amili: completed", result_status="completed")
    h = warehouse.history.invoice("demo-se/3")
    assert h.known
    assert [r["state"] for r in h.registrations] == ["registered"]
    assert h.requests[0]["body"] and "invoice_number" in h.requests[0]["body"]
    assert [r["case_id"] for r in h.cases] == ["c-3"] and [r["line_id"] for r in h.settlements] == ["l-1"]
    assert [(a["action"], a["state"]) for a in h.actions] == [("cancellation", "sent")]
    assert [e["detail"] for e in h.action_events][0] == "operator withdraw by ops: sold the claim"
    [record] = warehouse.actions.for_invoice("demo-se/3")
    assert (record.purpose, record.state, record.result_status) == ("operator:withdraw:1", "sent", "completed")
    assert [e.to_state for e in warehouse.actions.events("k-w")] == ["pending", "sent"]
    assert warehouse.actions.in_states([ActionState.SENT], market="SE", keys={"other"}) == []
    assert not warehouse.history.invoice("demo-se/nope").known
    assert warehouse.history.similar_keys("3") == ["demo-se/3"]


def test_an_unplaced_invoice_goes_back_to_pending_only_while_it_still_waits_for_that_batch(warehouse):
    warehouse.outbox.enqueue([entry("5", market=NO, creditor="demo-no"), entry("6", market=NO, creditor="demo-no")])
    warehouse.outbox.record_outcomes([
        Outcome(NO, "demo-no/5", OutboxState.WAITING_FOR_BATCH, batch_id="b-1", batch_key="reg-1"),
        Outcome(NO, "demo-no/6", OutboxState.REGISTERED, case_id="c-6", batch_id="b-1"),
    ])
    requeue = warehouse.outbox.requeue_waiting
    assert not requeue(NO, "demo-no/5", batch_id="b-2", detail="x"), "it waits for another batch: not touched"
    assert not requeue(NO, "demo-no/6", batch_id="b-1", detail="x"), "settled meanwhile: not touched"
    assert not requeue(SE, "demo-no/5", batch_id="b-1", detail="x")
    assert warehouse.outbox.record(NO, "demo-no/5").state is OutboxState.WAITING_FOR_BATCH

    assert requeue(NO, "demo-no/5", batch_id="b-1", detail="operator retry by ops: not in the batch", run_id="r1")
    record = warehouse.outbox.record(NO, "demo-no/5")
    assert (record.state, record.generation, record.batch_id) == (OutboxState.PENDING, 1, "b-1")
    [row] = warehouse.outbox.rows_in_state([OutboxState.PENDING], market=NO)
    assert (row.invoice_key, row.generation) == ("demo-no/5", 1), "a new generation: a new batch IdempotencyKey"
    last = warehouse.outbox.events(NO, "demo-no/5")[-1]
    assert (last.from_state, last.to_state, last.detail, last.run_id) == (
        "waiting_for_batch", "pending", "operator retry by ops: not in the batch", "r1")
    assert not requeue(NO, "demo-no/5", batch_id="b-1", detail="twice"), "a second release finds it pending"
    assert len(warehouse.outbox.events(NO, "demo-no/5")) == 3
    assert warehouse.outbox.record(NO, "demo-no/6").state is OutboxState.REGISTERED
