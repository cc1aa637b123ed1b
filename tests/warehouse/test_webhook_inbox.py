"""The webhook inbox (a spool directory): durable, de-duplicated by IdempotencyKey, one state per event."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta

from amili_pipelines.warehouse.inbox import Claim
from amili_pipelines.warehouse.spool import key_hash, open_inbox

T0 = datetime(2026, 6, 1, 12, 0)


def _body(n: int) -> bytes:
    return json.dumps({"id": f"e{n}", "type": "BATCH_COMPLETED", "data": {"batchId": f"b{n}"}}).encode()


def _accept(inbox, n: int, key: str | None = None) -> bool:
    return inbox.accept(idempotency_key=key or f"key-{n}", event="BATCH_COMPLETED", event_id=f"e{n}",
                        body=_body(n), received_at=T0 + timedelta(seconds=n))


def test_a_delivery_is_stored_once_whatever_its_key_holds(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    assert _accept(inbox, 1) is True
    assert _accept(inbox, 1) is False, "a redelivery stores nothing new"
    assert _accept(inbox, 2, key="../../etc/passwd\x00 ü") is True, "any key is a safe file name"
    assert inbox.counts() == {"new": 2, "claimed": 0, "processed": 0, "open_claims": 0}
    first, second = inbox.new_events(limit=10)
    assert (first.idempotency_key, first.event, first.received_at) == ("key-1", "BATCH_COMPLETED", T0 + timedelta(seconds=1))
    assert first.body == _body(1).decode(), "the raw body, as the signature covered it"
    assert os.listdir(tmp_path / "inbox" / "tmp") == []


def test_a_claim_holds_its_events_until_its_run_succeeded(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    for n in range(3):
        _accept(inbox, n)
    events = inbox.new_events(limit=2)
    claim = inbox.claim(Claim("batch_results-x", "batch_results", tuple(e.key_hash for e in events), T0,
                              run_config={"batches": []}))
    assert [e.event_id for e in inbox.new_events(limit=10)] == ["e2"]
    assert inbox.counts()["claimed"] == 2
    failed = inbox.failed(claim.claim_id, at=T0)
    assert failed.attempt == 1 and inbox.open_claims() == [failed], "a failed run keeps its events claimed"
    assert _accept(inbox, 0) is False, "a redelivery of a claimed event stores nothing"
    inbox.complete(claim.claim_id)
    inbox.complete(claim.claim_id)  # twice: nothing more happens
    assert inbox.open_claims() == [] and inbox.counts()["processed"] == 2
    assert all(inbox.is_processed(e.key_hash) for e in events)
    assert _accept(inbox, 1) is False, "processed events stay known: a late redelivery is a duplicate"
    assert inbox.counts()["new"] == 1


def test_a_claim_written_before_its_events_moved_still_holds_them(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    _accept(inbox, 1)
    [event] = inbox.new_events(limit=5)
    claim = Claim("cases-y", "cases", (event.key_hash,), T0)
    inbox._write_claim(claim)  # the sensor died between the claim and moving the marker
    assert inbox.new_events(limit=5) == [], "not claimed twice"
    inbox.complete("cases-y")
    assert inbox.is_processed(event.key_hash)


def test_an_event_stored_but_not_queued_is_queued_by_its_redelivery_or_at_start(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    _accept(inbox, 1)
    _accept(inbox, 2)
    # The receiver died between storing the event and queueing it.
    for n in (1, 2):
        os.unlink(tmp_path / "inbox" / "new" / key_hash(f"key-{n}"))
    assert inbox.new_events(limit=5) == []
    assert _accept(inbox, 1) is False, "the redelivery is a duplicate..."
    assert [e.event_id for e in inbox.new_events(limit=5)] == ["e1"], "...that gets the event queued"
    assert open_inbox(tmp_path / "inbox").repair() == 1, "the rest is queued when the receiver starts"
    assert len(inbox.new_events(limit=5)) == 2


def _race(path: str, n: int, out) -> None:  # noqa: ANN001
    out.put(_accept(open_inbox(path), n, key="same-key"))


def test_two_receivers_racing_with_one_key_store_it_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path / "inbox"), n, out)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    results = sorted(out.get(timeout=5) for _ in procs)
    assert results == [False, False, False, True]
    assert open_inbox(tmp_path / "inbox").counts()["new"] == 1


def _age(inbox_root, n: int, days: float) -> None:
    """Make delivery n look accepted ``days`` ago (its marker's mtime is when it was accepted)."""
    for state in ("new", "claimed", "processed"):
        marker = inbox_root / state / key_hash(f"key-{n}")
        if marker.exists():
            stamp = datetime.now().timestamp() - days * 86400
            os.utime(marker, (stamp, stamp))


def test_processed_events_older_than_the_window_are_forgotten_and_nothing_else(tmp_path):
    root = tmp_path / "inbox"
    inbox = open_inbox(root)
    for n in range(1, 6):
        _accept(inbox, n)
    done = inbox.claim(Claim("batch_results-old", "batch_results", (key_hash("key-1"), key_hash("key-2")), T0))
    inbox.complete(done.claim_id)
    inbox.claim(Claim("cases-open", "cases", (key_hash("key-3"),), T0))
    for n in (1, 3, 4):  # processed, claimed and new: all accepted 40 days ago; 2 (processed) yesterday
        _age(root, n, 40)
    _age(root, 2, 1)
    cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=30)

    assert inbox.prune(received_before=cutoff) == 1
    assert not (root / "events" / f"{key_hash('key-1')}.json").exists() and not inbox.is_processed(key_hash("key-1"))
    assert inbox.counts() == {"new": 2, "claimed": 1, "processed": 1, "open_claims": 1}, \
        "a claimed or new event is kept whatever its age; a recent processed one too"
    assert [e.event_id for e in inbox.events([key_hash(f"key-{n}") for n in (2, 3, 4, 5)])] == ["e2", "e3", "e4", "e5"]
    assert inbox.prune(received_before=cutoff) == 0
    assert _accept(inbox, 2) is False, "a processed event inside the window is still a duplicate"
    assert _accept(inbox, 1) is True, "a forgotten one is taken as new (its run, a read, runs once more)"
