"""The inbox de-duplicates on the envelope id as well as on the IdempotencyKey, and stays crash-safe:
a receiver dying between any two steps never loses a delivery and never lets one in twice.

A crash is simulated by an exception out of the inbox's hard link into ``events/`` (after the
envelope id was taken, before the delivery counts as stored under its key).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from amili_pipelines.warehouse import spool
from amili_pipelines.warehouse.inbox import Claim
from amili_pipelines.warehouse.spool import open_inbox

T0 = datetime(2026, 6, 1, 12, 0)


class _Died(BaseException):
    """The process died here (not an error the inbox could handle)."""


def _body(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "type": "BATCH_COMPLETED", "data": {"batchId": f"b-{event_id}"}}).encode()


def _accept(inbox, event_id: str | None, key: str | None, n: int = 0) -> bool:
    return inbox.accept(idempotency_key=key, event="BATCH_COMPLETED", event_id=event_id,
                        body=_body(event_id or "none"), received_at=T0 + timedelta(seconds=n))


@pytest.fixture()
def dies_before_storing_under_the_key(monkeypatch):
    real_link = os.link

    def link(src, dst, *args, **kwargs):
        if Path(dst).parent.name == "events":
            raise _Died()
        return real_link(src, dst, *args, **kwargs)

    def crash(inbox, event_id: str, key: str) -> None:
        monkeypatch.setattr(spool.os, "link", link)
        try:
            with pytest.raises(_Died):
                _accept(inbox, event_id, key)
        finally:
            monkeypatch.setattr(spool.os, "link", real_link)
    return crash


def test_one_envelope_under_several_keys_is_stored_once(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    assert _accept(inbox, "e1", "k1", 1) is True
    assert _accept(inbox, "e1", "k2", 2) is False, "Amili's retry under a new delivery key"
    assert _accept(inbox, "e1", None, 3) is False, "the same envelope without a key"
    assert _accept(inbox, "e2", None, 4) is True
    assert _accept(inbox, "e2", None, 5) is False
    assert _accept(inbox, "e2", "k3", 6) is False
    assert [(e.idempotency_key, e.event_id) for e in inbox.new_events(limit=10)] == [("k1", "e1"), (None, "e2")]
    assert os.listdir(tmp_path / "inbox" / "tmp") == []
    with pytest.raises(ValueError, match="neither"):
        _accept(inbox, None, None)


def test_died_after_taking_the_envelope_id_the_redelivery_under_a_new_key_stores_it(
        tmp_path, dies_before_storing_under_the_key):
    inbox = open_inbox(tmp_path / "inbox")
    dies_before_storing_under_the_key(inbox, "e1", "k1")
    assert inbox.new_events(limit=10) == [], "not answered 2xx: not stored yet"
    assert _accept(inbox, "e1", "k2") is True, "stored by this delivery: the first was never answered"
    [event] = inbox.new_events(limit=10)
    assert event.event_id == "e1", "the delivery is stored (under the key of its first attempt)"
    assert _accept(inbox, "e1", "k1") is False and _accept(inbox, "e1", "k2") is False
    assert _accept(inbox, "e1", "k9") is False
    assert len(inbox.new_events(limit=10)) == 1, "once"


def test_died_after_taking_the_envelope_id_the_same_key_or_the_start_stores_it(
        tmp_path, dies_before_storing_under_the_key):
    root = tmp_path / "inbox"
    inbox = open_inbox(root)
    dies_before_storing_under_the_key(inbox, "e1", "k1")
    assert _accept(inbox, "e1", "k1") is True, "Amili delivers again under the same key"
    dies_before_storing_under_the_key(inbox, "e2", "k2")
    assert open_inbox(root).repair() == 1, "or the receiver's start stores and queues it"
    assert sorted(e.event_id for e in inbox.new_events(limit=10)) == ["e1", "e2"]
    assert _accept(inbox, "e2", "k2") is False and _accept(inbox, "e2", "k-new") is False
    assert open_inbox(root).repair() == 0


def test_an_envelope_whose_key_another_envelope_took_meanwhile_is_still_stored_later(
        tmp_path, dies_before_storing_under_the_key):
    inbox = open_inbox(tmp_path / "inbox")
    dies_before_storing_under_the_key(inbox, "e2", "same-key")
    assert _accept(inbox, "e1", "same-key") is True
    assert _accept(inbox, "e2", "same-key") is False, "a repeated key is a duplicate (as before)"
    assert _accept(inbox, "e2", "other-key") is True, "e2 itself was never stored: not lost"
    assert _accept(inbox, "e2", "third-key") is False
    assert sorted(e.event_id for e in inbox.new_events(limit=10)) == ["e1", "e2"]
    assert open_inbox(tmp_path / "inbox").repair() == 0


def _race(path: str, n: int, out) -> None:  # noqa: ANN001
    out.put(_accept(open_inbox(path), "same-envelope", f"key-{n}", n))


def test_receivers_racing_with_one_envelope_under_different_keys_store_it_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path / "inbox"), n, out)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    assert sorted(out.get(timeout=5) for _ in procs) == [False, False, False, True]
    assert open_inbox(tmp_path / "inbox").counts()["new"] == 1


def test_an_inbox_written_before_the_envelope_index_is_indexed_at_start(tmp_path):
    root = tmp_path / "inbox"
    inbox = open_inbox(root)
    assert _accept(inbox, "e1", "k1") is True
    for p in (root / "ids").iterdir():  # as an inbox written by the receiver before this index existed
        p.unlink()
    assert open_inbox(root).repair() == 0, "nothing to queue"
    assert _accept(inbox, "e1", "k2") is False


def test_a_forgotten_event_forgets_its_envelope_id_too(tmp_path):
    root = tmp_path / "inbox"
    inbox = open_inbox(root)
    assert _accept(inbox, "e1", "k1") is True
    [event] = inbox.new_events(limit=10)
    inbox.claim(Claim("batch_results-z", "batch_results", (event.key_hash,), T0))
    inbox.complete("batch_results-z")
    stamp = datetime.now().timestamp() - 40 * 86400
    os.utime(root / "processed" / event.key_hash, (stamp, stamp))
    assert inbox.prune(received_before=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=30)) == 1
    assert list((root / "ids").iterdir()) == []
    assert _accept(inbox, "e1", "k2") is True, "taken as new, as a forgotten key is"
