"""Contract (issue 15): the outbox keeps a request body byte for byte, counts sends per row, and an
outbox queued before migration 011 still sends."""

from __future__ import annotations

from datetime import timedelta

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxEntry, OutboxState, Outcome
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.duckdb import connection as duckdb_connection
from amili_pipelines.warehouse.postgres import connection as pg_connection
from tests.support.records import entry

SE = Market.SE
PENDING = [OutboxState.PENDING]
# Not what json.dumps would write: the store must keep these bytes, not re-encode a parsed value.
BODY = '{"invoice_number":"1","customer":{"name":"Åsa Öberg"},"amount":1250.5,"z":[],"a":null}'.encode()


def _with_body(number: str, body: bytes = BODY, **kw) -> OutboxEntry:
    e = entry(number, **kw)
    return OutboxEntry(market=e.market, invoice_key=e.invoice_key, creditor=e.creditor, invoice_number=e.invoice_number,
                       idempotency_key=e.idempotency_key, content_hash=e.content_hash, payload=None,
                       claimed_amount=e.claimed_amount, currency=e.currency, body=body)


def test_a_stored_request_body_comes_back_byte_for_byte(warehouse):
    warehouse.outbox.enqueue([_with_body("1"), entry("2")])
    by_number = {r.invoice_number: r for r in warehouse.outbox.rows_in_state(PENDING, market=SE)}
    assert by_number["1"].body == BODY and by_number["1"].payload is None
    assert by_number["2"].body is None and by_number["2"].payload == {"invoice_number": "2", "amount": "1250.00"}
    [claimed] = warehouse.outbox.claim(PENDING, market=SE, run_id="run-1", limit=1)
    assert claimed.body == BODY


def test_a_fixed_rejected_invoice_is_requeued_with_its_new_body(warehouse):
    warehouse.outbox.enqueue([_with_body("1")])
    warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.REJECTED, error="bad")])
    fixed = BODY.replace(b"1250.5", b"900")
    assert warehouse.outbox.enqueue([_with_body("1", fixed, content_hash="fixed")])["requeued"] == 1
    [row] = warehouse.outbox.rows_in_state(PENDING, market=SE)
    assert row.body == fixed


def test_the_send_counter_counts_within_a_window_and_starts_again_in_the_next(warehouse):
    first = utcnow() - timedelta(seconds=1)
    warehouse.outbox.enqueue([_with_body("1"), _with_body("2")])
    for _ in range(3):
        [row] = [r for r in warehouse.outbox.claim(PENDING, market=SE, run_id="run-1", limit=10, sent_since=first,
                                                   max_sends=3) if r.invoice_number == "1"]
        warehouse.outbox.mark_in_flight([row], run_id="run-1")
        warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.PENDING, detail="not at Amili")])
        warehouse.outbox.release_claims(run_id="run-1")
    assert [r.invoice_number for r in warehouse.outbox.claim(PENDING, market=SE, run_id="run-1", limit=10,
                                                             sent_since=first, max_sends=3)] == ["2"]
    warehouse.outbox.release_claims(run_id="run-1")
    # The next run's window starts after those sends: the invoice may go again, and counts from 0.
    second = utcnow() + timedelta(microseconds=1)
    while utcnow() <= second:
        pass
    for n in range(3):
        rows = warehouse.outbox.claim(PENDING, market=SE, run_id="run-2", limit=10, sent_since=second, max_sends=3)
        assert "1" in [r.invoice_number for r in rows], f"send {n + 1} of 3 in the new window"
        warehouse.outbox.mark_in_flight([r for r in rows if r.invoice_number == "1"], run_id="run-2")
        warehouse.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.PENDING, detail="not at Amili")])
        warehouse.outbox.release_claims(run_id="run-2")
    assert [r.invoice_number for r in warehouse.outbox.rows_in_state(PENDING, market=SE, sent_since=second,
                                                                     max_sends=3)] == ["2"]
    assert warehouse.outbox.record(SE, "demo-se/1").attempts == 6


def test_an_outbox_queued_before_migration_011_still_sends(store_location, monkeypatch):
    for module in (duckdb_connection, pg_connection):
        monkeypatch.setattr(module, "_migrations", lambda m=module._migrations: [x for x in m() if x[0] < 11])
    now = utcnow()
    with open_warehouse(store_location) as old:
        old.outbox.db.execute(
            "INSERT INTO registration_outbox (market, invoice_key, creditor, invoice_number, idempotency_key, state,"
            " content_hash, payload_json, claimed_amount, currency, attempts, created_at, updated_at)"
            " VALUES ('SE', 'demo-se/1', 'demo-se', '1', 'idem-1', 'pending', 'h-1', CAST(? AS JSON), 1250, 'SEK',"
            " 0, ?, ?)", ['{"invoice_number": "1", "amount": "1250.00"}', now, now])
    monkeypatch.undo()
    with open_warehouse(store_location) as wh:
        [row] = wh.outbox.claim(PENDING, market=SE, run_id="run-1", limit=10, sent_since=now, max_sends=3)
        assert row.body is None and row.payload == {"invoice_number": "1", "amount": "1250.00"}
        wh.outbox.mark_in_flight([row], run_id="run-1")
        wh.outbox.record_outcomes([Outcome(SE, "demo-se/1", OutboxState.REGISTERED, case_id="c-1")])
        assert wh.outbox.record(SE, "demo-se/1").state is OutboxState.REGISTERED
