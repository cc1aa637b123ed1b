"""The receiver is tolerant where the contract (reference B.9) leaves room, strict where it must be:

* a delivery without an ``IdempotencyKey`` header is de-duplicated on the signed envelope's ``id``
  (refused only when it has neither);
* a signed body posted again under a new ``IdempotencyKey`` (a retry by Amili, or a replay) is a
  duplicate: stored once, one run;
* an event named only in the ``X-Amili-Event`` header is taken as that event; a header that
  contradicts the signed body is refused.

In-process (the real ASGI app and the real inbox), so each case is a few milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
from pydantic import SecretStr

from amili_pipelines.reconciliation.webhooks import BATCH_RESULTS, plan_runs
from amili_pipelines.warehouse.spool import open_inbox
from amili_pipelines.webhooks.app import ReceiverConfig, create_app
from amili_pipelines.webhooks.signature import sign

ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"
SECRET = "tolerant-test-secret-91c2"


def _body(event_id: str | None = "ev-1", *, name: str | None = "BATCH_COMPLETED", batch: str = "b-1") -> bytes:
    doc: dict = {"source": "COLLECTION", "timeStamp": "2026-01-05T08:00:00Z",
                 "data": {"batchId": batch, "organizationId": ORG, "status": "SUCCESS"}}
    if event_id is not None:
        doc["id"] = event_id
    if name is not None:
        doc["type"] = name
    return json.dumps(doc).encode()


def _post(app, body: bytes, *, key: str | None = None, event: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": sign(SECRET.encode(), body)}
    if key is not None:
        headers["IdempotencyKey"] = key
    if event is not None:
        headers["X-Amili-Event"] = event

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as c:
            return await c.post("/webhooks/amili-no", content=body, headers=headers)
    return asyncio.run(go())


def _receiver(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    return create_app(ReceiverConfig(secret=SecretStr(SECRET)), inbox), inbox


def _stored(inbox) -> int:
    counts = inbox.counts()
    return counts["new"] + counts["claimed"] + counts["processed"]


# -- 1. no IdempotencyKey -------------------------------------------------------------------------------


def test_a_delivery_without_an_idempotency_key_is_stored_once_by_its_envelope_id(tmp_path):
    app, inbox = _receiver(tmp_path)
    first = _post(app, _body("ev-nokey"))
    assert (first.status_code, first.json()) == (200, {"status": "stored"}), first.text
    again = _post(app, _body("ev-nokey"))
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    later_with_key = _post(app, _body("ev-nokey"), key="k-later")
    assert (later_with_key.status_code, later_with_key.json()) == (200, {"status": "duplicate"})
    [event] = inbox.new_events(limit=10)
    assert (event.idempotency_key, event.event_id, event.event) == (None, "ev-nokey", "BATCH_COMPLETED")
    assert event.body == _body("ev-nokey").decode()


def test_a_delivery_with_neither_an_idempotency_key_nor_an_envelope_id_is_refused_by_name(tmp_path):
    app, inbox = _receiver(tmp_path)
    r = _post(app, _body(None))
    assert r.status_code == 400 and r.json()["status"] == "refused"
    assert "IdempotencyKey" in r.json()["detail"] and "envelope 'id'" in r.json()["detail"], r.text
    assert _stored(inbox) == 0
    assert _post(app, _body(None), key="k-only").status_code == 200, "a key alone is enough, as before"


# -- 2. the same envelope under a new key ----------------------------------------------------------------


def test_a_signed_body_posted_again_under_a_new_key_is_a_duplicate_and_runs_once(tmp_path):
    app, inbox = _receiver(tmp_path)
    body = _body("ev-replay")
    assert _post(app, body, key="k-1").json() == {"status": "stored"}
    for key in ("k-2", "k-3", "k-1"):
        r = _post(app, body, key=key)
        assert (r.status_code, r.json()) == (200, {"status": "duplicate"}), key
    other = _post(app, _body("ev-other", batch="b-2"), key="k-1")
    assert other.json() == {"status": "duplicate"}, "a repeated key is a duplicate whatever it carries (as before)"
    events = inbox.new_events(limit=10)
    assert [(e.idempotency_key, e.event_id) for e in events] == [("k-1", "ev-replay")]
    [planned] = plan_runs(events, organization_ids={ORG})
    assert planned.kind == BATCH_RESULTS and len(planned.event_hashes) == 1


# -- 3. the event's name in the X-Amili-Event header ---------------------------------------------------


def test_an_event_named_only_in_the_header_is_stored_and_planned_as_that_event(tmp_path):
    app, inbox = _receiver(tmp_path)
    r = _post(app, _body("ev-hdr", name=None), key="k-hdr", event="BATCH_COMPLETED")
    assert (r.status_code, r.json()) == (200, {"status": "stored"}), r.text
    [event] = inbox.new_events(limit=10)
    assert event.event == "BATCH_COMPLETED"
    [planned] = plan_runs([event], organization_ids={ORG})
    assert planned.kind == BATCH_RESULTS, planned.notes
    assert planned.config["batch_results"]["batches"] == [
        {"organization_id": ORG, "batch_id": "b-1", "status": "SUCCESS", "type": ""}]


def test_a_header_that_contradicts_the_signed_body_is_refused_naming_both(tmp_path, caplog):
    app, inbox = _receiver(tmp_path)
    with caplog.at_level(logging.INFO, logger="amili_pipelines.webhooks"):
        r = _post(app, _body("ev-clash"), key="k-clash", event="CASE_UPDATED")
    assert r.status_code == 400 and r.json()["status"] == "refused"
    detail = r.json()["detail"]
    assert "X-Amili-Event" in detail and "CASE_UPDATED" in detail and "BATCH_COMPLETED" in detail, detail
    assert _stored(inbox) == 0
    assert SECRET not in caplog.text and SECRET not in r.text


def test_a_header_that_agrees_with_the_body_in_other_letter_case_is_fine(tmp_path):
    app, inbox = _receiver(tmp_path)
    assert _post(app, _body("ev-case"), key="k-case", event=" batch_completed ").json() == {"status": "stored"}
    assert [e.event for e in inbox.new_events(limit=10)] == ["BATCH_COMPLETED"]


def test_a_header_that_is_not_an_event_name_does_not_name_the_event(tmp_path):
    app, inbox = _receiver(tmp_path)
    r = _post(app, _body("ev-odd", name=None), key="k-odd", event="BATCH COMPLETED; drop")
    assert r.status_code == 400 and "X-Amili-Event" in r.json()["detail"], r.text
    assert _post(app, _body("ev-none", name=None), key="k-none").status_code == 400, "no name anywhere"
    assert _stored(inbox) == 0
