"""Contract: the registration outbox keeps every invoice in exactly one state and never loses one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from tests.support.records import D, entry

SE, NO = Market.SE, Market.NO


def _pending(wh, market=SE):
    return wh.outbox.rows_in_state([OutboxState.PENDING], market=market)


def test_enqueue_is_idempotent_and_keeps_the_payload(warehouse):
    assert warehouse.outbox.enqueue([entry("2"), entry("1"), entry("3", market=NO, creditor="demo-no")]) == {
        "new": 3, "requeued": 0, "already": 0}
    assert warehouse.outbox.enqueue([entry("1"), entry("2")]) == {"new": 0, "requeued": 0, "already": 2}
    rows = _pending(warehouse)
    assert [r.invoice_number for r in rows] == ["1", "2"], "key order, one row per invoice and market"
    assert rows[0].payload == {"invoice_number": "1", "amount": "1250.00"}
    assert rows[0].attempts == 0 and rows[0].state is OutboxState.PENDING
    assert [r.invoice_key for r in _pending(warehouse, NO)] == ["demo-no/3"]
    record = warehouse.outbox.record(SE, "demo-se/1")
    assert record.claimed_amount == D("1250.00") and record.currency == "SEK"
    assert [e.to_state for e in warehouse.outbox.events(SE, "demo-se/1")] == ["pending"]


def test_the_intent_is_recorded_before_sending(warehouse):
    warehouse.outbox.enqueue([entry("1"), entry("2")])
    rows = _pending(warehouse)
    warehouse.outbox.mark_in_flight(rows, run_id="run-1", batch_key="reg-abc")
    assert _pending(warehouse) == []
    flying = warehouse.outbox.rows_in_state([OutboxState.IN_FLIGHT], market=SE)
    assert [(r.attempts, r.batch_key) for r in flying] == [(1, "reg-abc"), (1, "reg-abc")]
    events = warehouse.outbox.events(SE, "demo-se/1")
    assert [(e.to_state, e.run_id) for e in events][-1] == ("in_flight", "run-1")


def test_a_registered_invoice_is_never_handed_out_again(warehouse, reopen):
    warehouse.outbox.enqueue([entry("1")])
    warehouse.outbox.mark_in_flight(_pending(warehouse))
    warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.REGISTERED, case_id="case-1",
                                              amili_invoice_id="inv-1", ocr_number="123", registration_id="reg-1")])
    # A changed source row after registration: still registered, nothing to send.
    assert warehouse.outbox.enqueue([entry("1", content_hash="changed")])["already"] == 1
    for states in ([OutboxState.PENDING], [OutboxState.IN_FLIGHT, OutboxState.UNKNOWN_OUTCOME]):
        assert warehouse.outbox.rows_in_state(states, market=SE) == []
    record = warehouse.outbox.record(SE, "demo-se/1")
    assert (record.state, record.case_id, record.ocr_number, record.registration_id) == (
        OutboxState.REGISTERED, "case-1", "123", "reg-1")
    assert record.registered_at is not None
    with reopen() as again:
        assert again.outbox.record(SE, "demo-se/1").state is OutboxState.REGISTERED


def test_a_rejected_invoice_is_requeued_only_when_its_source_row_changed(warehouse):
    warehouse.outbox.enqueue([entry("1")])
    warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.REJECTED, error="bad personnummer",
                                              rejection=[{"field": "customer.id_number", "message": "invalid"}])])
    record = warehouse.outbox.record(SE, "demo-se/1")
    assert record.rejection == [{"field": "customer.id_number", "message": "invalid"}]
    assert warehouse.outbox.enqueue([entry("1")]) == {"new": 0, "requeued": 0, "already": 1}
    assert warehouse.outbox.enqueue([entry("1", content_hash="fixed", amount="900.00")])["requeued"] == 1
    [row] = _pending(warehouse)
    assert row.payload["amount"] == "900.00"
    record = warehouse.outbox.record(SE, "demo-se/1")
    assert record.rejection is None and record.last_error is None and record.claimed_amount == D("900.00")


def test_an_invoice_sent_too_often_in_one_run_waits_for_the_next(warehouse):
    started = utcnow() - timedelta(seconds=1)
    warehouse.outbox.enqueue([entry("1"), entry("2")])
    for _ in range(3):
        rows = warehouse.outbox.rows_in_state([OutboxState.PENDING], market=SE, creditor="demo-se")
        one = [r for r in rows if r.invoice_number == "1"]
        warehouse.outbox.mark_in_flight(one)
        warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.PENDING, detail="not at Amili")])
    eligible = warehouse.outbox.rows_in_state([OutboxState.PENDING], market=SE, sent_since=started, max_sends=3)
    assert [r.invoice_number for r in eligible] == ["2"]
    assert len(_pending(warehouse)) == 2, "still pending, not lost"
    assert warehouse.outbox.rows_in_state([OutboxState.PENDING], market=SE, limit=1)[0].invoice_number == "1"


def test_every_case_amili_reports_is_remembered(warehouse):
    warehouse.outbox.enqueue([entry("1"), entry("2")])
    warehouse.outbox.record_outcomes([
        Outcome(SE, "demo-se/1", OutboxState.REGISTERED, case_id="c-1", seen_cases=(("c-1", "r-1"), ("c-9", "r-9"))),
        Outcome(SE, "demo-se/2", OutboxState.REGISTERED, case_id="c-2"),
    ])
    assert warehouse.outbox.invoices_with_several_cases() == [("SE", "demo-se/1", 2)]
    assert warehouse.outbox.invoices_with_several_cases(market=NO) == []


def test_norwegian_batches_are_tracked(warehouse):
    warehouse.outbox.enqueue([entry("b", market=NO, creditor="demo-no"), entry("a", market=NO, creditor="demo-no")])
    warehouse.outbox.mark_in_flight(_pending(warehouse, NO), batch_key="reg-k")
    warehouse.outbox.record_outcomes([
        Outcome(NO, "demo-no/a", OutboxState.WAITING_FOR_BATCH, batch_id="B1"),
        Outcome(NO, "demo-no/b", OutboxState.WAITING_FOR_BATCH, batch_id="B1"),
    ])
    assert [(w.creditor, w.batch_id) for w in warehouse.outbox.waiting_batches()] == [("demo-no", "B1")]
    assert [(r.invoice_key, r.state) for r in warehouse.outbox.batch_rows("B1")] == [
        ("demo-no/a", OutboxState.WAITING_FOR_BATCH), ("demo-no/b", OutboxState.WAITING_FOR_BATCH)]
    warehouse.outbox.record_outcomes([Outcome(NO, "demo-no/a", OutboxState.REGISTERED, case_id="c-a")])
    assert warehouse.outbox.known_batch_ids() == {"B1"}
    counts = warehouse.outbox.state_counts(market=NO)
    assert (counts["registered"], counts["waiting_for_batch"], counts["pending"]) == (1, 1, 0)


def test_an_invoice_a_finished_batch_lacks_goes_back_as_a_new_generation(warehouse):
    """Its resend needs a new batch IdempotencyKey (under the old one Amili returns the old batch);
    nothing else that goes back to pending starts a generation."""
    warehouse.outbox.enqueue([entry(n, market=NO, creditor="demo-no") for n in ("a", "b")])
    warehouse.outbox.mark_in_flight(_pending(warehouse, NO), batch_key="reg-k")
    warehouse.outbox.record_outcomes([Outcome(NO, "demo-no/a", OutboxState.WAITING_FOR_BATCH, batch_id="B1"),
                                      Outcome(NO, "demo-no/b", OutboxState.PENDING, detail="not sent")])
    warehouse.outbox.record_outcomes([Outcome(NO, "demo-no/a", OutboxState.PENDING, batch_id="B1")])
    assert [(r.invoice_key, r.generation) for r in _pending(warehouse, NO)] == [("demo-no/a", 1), ("demo-no/b", 0)]


def test_a_failed_transaction_leaves_nothing_behind(warehouse):
    with pytest.raises(RuntimeError), warehouse.transaction():
        warehouse.outbox.enqueue([entry("1")])
        raise RuntimeError("crash after enqueue")
    assert warehouse.outbox.record(SE, "demo-se/1") is None
    assert warehouse.outbox.state_counts()["pending"] == 0


def test_runs_working_at_once_never_get_the_same_row(warehouse):
    warehouse.outbox.enqueue([entry(str(n)) for n in range(10)])
    first = warehouse.outbox.claim([OutboxState.PENDING], market=SE, run_id="run-a", limit=4)
    second = warehouse.outbox.claim([OutboxState.PENDING], market=SE, run_id="run-b", limit=10)
    assert len(first) == 4 and len(second) == 6
    assert not {r.invoice_key for r in first} & {r.invoice_key for r in second}
    assert warehouse.outbox.claim([OutboxState.PENDING], market=SE, run_id="run-c", limit=10) == []
    assert warehouse.outbox.state_counts(market=SE, unclaimed=True)["pending"] == 0
    assert warehouse.outbox.state_counts(market=SE)["pending"] == 10
    assert warehouse.outbox.release_claims(run_id="run-a") == 4
    taken_over = warehouse.outbox.claim([OutboxState.PENDING], market=SE, run_id="run-c", limit=10)
    assert {r.invoice_key for r in taken_over} == {r.invoice_key for r in first}


def test_a_row_in_flight_for_a_live_run_is_not_unclear_to_another(warehouse):
    warehouse.outbox.enqueue([entry("1"), entry("2")])
    rows = warehouse.outbox.claim([OutboxState.PENDING], market=SE, run_id="run-a", limit=10)
    warehouse.outbox.mark_in_flight(rows, run_id="run-a")
    unclear = [OutboxState.IN_FLIGHT, OutboxState.UNKNOWN_OUTCOME]
    assert warehouse.outbox.claim(unclear, market=SE, run_id="run-b", limit=10) == [], "run-a is sending them"
    warehouse.outbox.record_outcomes([Outcome(SE, rows[0].invoice_key, OutboxState.REGISTERED, case_id="c1"),
                                      Outcome(SE, rows[1].invoice_key, OutboxState.UNKNOWN_OUTCOME, error="timeout")],
                                     run_id="run-a")
    # an outcome ends the claim: the unclear one is now any run's to look up
    [left] = warehouse.outbox.claim(unclear, market=SE, run_id="run-b", limit=10)
    assert left.invoice_key == rows[1].invoice_key and left.state is OutboxState.UNKNOWN_OUTCOME


def test_a_claim_whose_lease_passed_is_taken_over(store_location, monkeypatch):
    from amili_pipelines.warehouse import open_warehouse

    monkeypatch.setenv("AMILI_OUTBOX_LEASE_S", "0.2")
    with open_warehouse(store_location) as wh:
        wh.outbox.enqueue([entry("1")])
        rows = wh.outbox.claim([OutboxState.PENDING], market=SE, run_id="dead-run", limit=10)
        wh.outbox.mark_in_flight(rows, run_id="dead-run")  # ... and the run dies here
        assert wh.outbox.claim([OutboxState.IN_FLIGHT], market=SE, run_id="next", limit=10) == []
        import time

        time.sleep(0.3)
        [row] = wh.outbox.claim([OutboxState.IN_FLIGHT], market=SE, run_id="next", limit=10)
        assert row.invoice_key == "demo-se/1" and row.state is OutboxState.IN_FLIGHT, "looked up, never resent blindly"
