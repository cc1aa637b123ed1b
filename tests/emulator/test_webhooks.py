"""Norwegian webhooks against a real local receiver: runtime settings, signatures, retries, delivery faults,
case events, and that none of it touches the API's determinism (reference B.9, F.2.7, F.2.8)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import httpx
import pytest

from amili_pipelines.emulator.config import EmulatorConfig
from amili_pipelines.emulator.engine import Engine
from amili_pipelines.emulator.testing import free_port, running_emulator
from tests.support.emulator import NO_ORG, make_config, no_invoice

FAST = {"backoff_seconds": 0.02, "out_of_order_hold_seconds": 0.1}


@dataclass
class Hit:
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int
    at: float  # monotonic

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers["idempotencykey"]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every POST and answers ``answer(key, nth time seen)``."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.answer: Callable[[str, int], int] = lambda key, n: 200
        self.delay = 0.0
        self._seen: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                time.sleep(receiver.delay)
                with receiver._lock:
                    receiver._seen[headers["idempotencykey"]] += 1
                    status = receiver.answer(headers["idempotencykey"], receiver._seen[headers["idempotencykey"]])
                    receiver.hits.append(Hit(headers, body, status, time.monotonic()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/amili-webhook"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.hits) < count:
            time.sleep(0.01)
        return list(self.hits)

    def by_key(self) -> dict[str, list[Hit]]:
        out: dict[str, list[Hit]] = defaultdict(list)
        for hit in self.hits:
            out[hit.key].append(hit)
        return dict(out)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _name(event: dict[str, Any]) -> str:
    return event.get("type") or event["eventType"]


def _invoices(no: httpx.Client, n: int = 1) -> dict[str, Any]:
    r = no.post("/invoices", json={"invoices": [no_invoice() for _ in range(n)]})
    assert r.status_code == 202
    return no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]


def _settled(emu, timeout: float = 5.0) -> dict[str, Any]:
    """The admin view once nothing is pending any more."""
    deadline = time.monotonic() + timeout
    view = emu.admin.webhooks()
    while time.monotonic() < deadline and (view["pending"] or any(
            d["state"] not in ("delivered", "failed", "cancelled") for d in view["deliveries"])):
        time.sleep(0.02)
        view = emu.admin.webhooks()
    return view


# ---------------------------------------------------------------- settings

def test_webhook_settings_at_run_time(emu, no, receiver):
    cfg = emu.admin.webhook_config()
    assert cfg["url"] is None and cfg["max_attempts"] == 3 and cfg["backoff_seconds"] == 0.2
    assert cfg["events"] == ["BATCH_COMPLETED", "SETTLEMENT_CREATED", "CASE", "CASE_UPDATED"]
    out = emu.admin.set_webhooks(url=receiver.url, secret="s1", max_attempts=5)
    assert (out["url"], out["secret"], out["max_attempts"]) == (receiver.url, "s1", 5)
    out = emu.admin.set_webhooks(backoff_seconds=0.5, timeout_seconds=2, out_of_order=True)  # PUT merges
    assert out["url"] == receiver.url and out["max_attempts"] == 5 and out["out_of_order"] == 1.0
    assert emu.admin.webhook_config() == out
    assert httpx.get(f"{emu.base_url}/_emulator/config").json()["norway"]["webhooks"] == out
    for bad in ({"max_attempts": 0}, {"duplicate_rate": 2}, {"events": ["NOPE"]}, {"no_such_field": 1}):
        r = httpx.put(f"{emu.base_url}/_emulator/webhooks/config", json=bad)
        assert r.status_code == 422, bad
    assert emu.admin.set_webhooks(url=None)["url"] is None  # off: events are not even queued
    _invoices(no)
    time.sleep(0.2)
    assert receiver.hits == [] and emu.admin.webhooks() == {"deliveries": [], "attempts": [], "pending": 0}
    emu.admin.set_webhooks(url=receiver.url)
    emu.admin.reset()  # reset goes back to the configured settings
    assert emu.admin.webhook_config()["url"] is None


def test_settings_from_the_config_file(tmp_path):
    p = tmp_path / "emu.yaml"
    p.write_text("norway:\n  webhooks:\n    url: http://127.0.0.1:9/hook\n    max_attempts: 5\n"
                 "    backoff_seconds: 0.5\n    duplicate_rate: 0.1\n    out_of_order: true\n"
                 "    drop_first_attempt_rate: 0.2\n")
    wh = EmulatorConfig.from_file(p).norway.webhooks
    assert (wh.max_attempts, wh.backoff_seconds, wh.duplicate_rate, wh.out_of_order, wh.drop_first_attempt_rate) \
        == (5, 0.5, 0.1, 1.0, 0.2)


# ---------------------------------------------------------------- what arrives

def test_deliveries_are_signed_and_case_events_use_event_type(emu, no, receiver):
    emu.admin.set_webhooks(url=receiver.url, secret="topsecret")
    batch = _invoices(no)
    case_event, batch_event = [h.event for h in receiver.wait_for(2)]
    for hit in receiver.hits:
        expected = hmac.new(b"topsecret", hit.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hit.headers["x-webhook-signature"], expected)
        assert hit.headers["x-amili-event"] == _name(hit.event)
        assert hit.headers["x-amili-request-id"] == hit.event["id"]
        assert hit.headers["content-type"] == "application/json"
    assert len({h.key for h in receiver.hits}) == 2
    assert set(case_event) == {"id", "eventType", "source", "timeStamp", "data"} and case_event["eventType"] == "CASE"
    ref = batch["succeeded"][0]
    case = no.get(f"/cases/{ref['caseId']}").json()["data"]
    assert case_event["data"] == {"orgId": NO_ORG, "caseId": ref["caseId"], "caseNumber": case["caseNumber"],
                                  "type": "NOTICE", "status": "OPEN", "invoices": [ref["invoiceId"]]}
    assert set(batch_event) == {"id", "type", "source", "timeStamp", "data"} and batch_event["type"] == "BATCH_COMPLETED"
    assert batch_event["data"]["batchId"] == batch["batchId"] and batch_event["source"] == "COLLECTION"


def test_case_updated_names_the_changed_fields():
    with running_emulator(make_config(lifecycle={"pay_share": 0.0})) as emu, \
            httpx.Client(base_url=f"{emu.no_base_url}/orgs/{NO_ORG}", headers=emu.no_headers()) as no:
        receiver = Receiver()
        try:
            emu.admin.set_webhooks(url=receiver.url, events=["CASE", "CASE_UPDATED"])
            ref = _invoices(no)["succeeded"][0]
            no.post(f"/cases/{ref['caseId']}/pause")
            no.post(f"/cases/{ref['caseId']}/resume")
            no.post("/payments", json={"payments": [{"invoiceId": ref["invoiceId"], "amount": 100, "currency": "NOK"}]})
            emu.admin.advance(days=31)  # NOTICE -> PAYMENT_REMINDER, with its fee
            no.post(f"/cases/{ref['caseId']}/withdraw")
            events = [h.event for h in receiver.wait_for(6)]
        finally:
            receiver.close()
    assert [e["eventType"] for e in events] == ["CASE"] + ["CASE_UPDATED"] * 5
    assert all("type" not in e for e in events)
    updates = [(e["data"]["fields"], e["data"]["status"], e["data"]["type"]) for e in events[1:]]
    assert updates == [(["status"], "PAUSED", "NOTICE"), (["status"], "OPEN", "NOTICE"),
                       (["amounts"], "OPEN", "NOTICE"), (["amounts", "type"], "OPEN", "PAYMENT_REMINDER"),
                       (["amounts", "status"], "WITHDRAWN", "PAYMENT_REMINDER")]
    assert all(e["data"]["invoices"] == [ref["invoiceId"]] for e in events)


# ---------------------------------------------------------------- retries

def test_a_failed_attempt_is_retried_with_the_same_key_body_and_signature(emu, no, receiver):
    receiver.answer = lambda key, n: 500 if n == 1 else 200
    emu.admin.set_webhooks(url=receiver.url, backoff_seconds=0.05)
    _invoices(no)
    receiver.wait_for(4)
    view = _settled(emu)
    groups = receiver.by_key()
    assert len(groups) == 2
    for first, second in groups.values():
        assert (first.status, second.status) == (500, 200)
        assert first.body == second.body
        assert first.headers["x-webhook-signature"] == second.headers["x-webhook-signature"]
        assert second.at - first.at >= 0.04  # the backoff
    attempts = {(a["idempotencyKey"], a["attempt"]): a for a in view["attempts"]}
    for key in groups:
        assert attempts[(key, 1)]["status"] == 500 and attempts[(key, 1)]["outcome"] == "retry"
        assert attempts[(key, 1)]["retryAt"] and attempts[(key, 1)]["startedAt"] <= attempts[(key, 1)]["finishedAt"]
        assert attempts[(key, 2)]["status"] == 200 and attempts[(key, 2)]["outcome"] == "delivered"
    assert {(d["state"], d["attempts"]) for d in view["deliveries"]} == {("delivered", 2)}


def test_connection_errors_are_retried_until_max_attempts(emu, no):
    emu.admin.set_webhooks(url=f"http://127.0.0.1:{free_port()}/nobody-listens", max_attempts=3,
                           events=["BATCH_COMPLETED"], **FAST)
    _invoices(no)
    view = _settled(emu)
    (delivery,) = view["deliveries"]
    assert delivery["state"] == "failed" and delivery["attempts"] == 3
    assert [(a["attempt"], a["status"], a["outcome"]) for a in view["attempts"]] == [
        (1, None, "retry"), (2, None, "retry"), (3, None, "failed")]
    assert all("ConnectError" in a["error"] for a in view["attempts"])


def test_switching_delivery_off_cancels_pending_retries(emu, no, receiver):
    receiver.answer = lambda key, n: 503
    emu.admin.set_webhooks(url=receiver.url, backoff_seconds=0.3, max_attempts=5, events=["BATCH_COMPLETED"])
    _invoices(no)
    receiver.wait_for(1)
    emu.admin.set_webhooks(url=None)
    view = _settled(emu)
    assert [(a["attempt"], a["status"], a["outcome"]) for a in view["attempts"]] == [
        (1, 503, "retry"), (2, None, "cancelled")]
    assert view["deliveries"][0]["state"] == "cancelled" and len(receiver.hits) == 1


# ---------------------------------------------------------------- delivery faults

def test_duplicate_rate_one_delivers_everything_twice_under_one_key(emu, no, receiver):
    emu.admin.set_webhooks(url=receiver.url, duplicate_rate=1, events=["CASE", "BATCH_COMPLETED"], **FAST)
    _invoices(no, 2)
    receiver.wait_for(6)
    view = _settled(emu)
    groups = receiver.by_key()
    assert len(groups) == 3 and all(len(hits) == 2 for hits in groups.values())
    assert all(a.body == b.body and a.headers == b.headers for a, b in groups.values())
    assert sorted(d["copy"] for d in view["deliveries"]) == [1, 1, 1, 2, 2, 2]


def test_out_of_order_lets_later_events_arrive_first(emu, no, receiver):
    emu.admin.set_webhooks(url=receiver.url, out_of_order=True, events=["CASE", "BATCH_COMPLETED"], **FAST)
    _invoices(no, 2)
    arrived = [h.event["id"] for h in receiver.wait_for(3)]
    queued = [d["eventId"] for d in _settled(emu)["deliveries"]]  # in the order the events happened
    assert sorted(arrived) == sorted(queued)
    assert arrived == [queued[1], queued[0], queued[2]]  # swapped pair; the last one waited out its hold


def test_dropped_first_attempts_never_reach_the_receiver(emu, no, receiver):
    emu.admin.set_webhooks(url=receiver.url, drop_first_attempt_rate=1, events=["BATCH_COMPLETED"], **FAST)
    _invoices(no)
    view = _settled(emu)
    assert len(receiver.wait_for(1)) == 1
    assert [(a["attempt"], a["status"], a["outcome"]) for a in view["attempts"]] == [
        (1, None, "retry"), (2, 200, "delivered")]
    assert "drop_first_attempt_rate" in view["attempts"][0]["error"]


# ---------------------------------------------------------------- isolation from the API

def _api_story(emu) -> list[Any]:
    """A fixed sequence of API calls (with request faults on) and what each answered, minus trace ids."""
    headers = emu.no_headers()
    emu.admin.set_faults(error_rates={"503": 0.2}, seed=9)
    out: list[Any] = []
    with httpx.Client(base_url=f"{emu.no_base_url}/orgs/{NO_ORG}", headers=headers) as no:
        for i in range(6):
            r = no.post("/invoices", json={"invoices": [no_invoice(invoiceNumber=f"D-{i}", uniqueSourceInvoiceId=f"U-{i}")]})
            out.append((r.status_code, r.json().get("data")))
        for path in ("/invoices", "/cases", "/batches"):
            r = no.get(path, params={"PageSize": 100})
            out.append((r.status_code, r.json().get("data")))
    emu.admin.clear_faults()
    emu.admin.advance(days=60)
    state = emu.admin.state()
    state.pop("now")
    out.append(state)
    return json.loads(json.dumps(out).replace(emu.base_url, "<emulator>"))  # each emulator has its own port


def test_webhooks_and_their_faults_change_no_api_response():
    cfg = make_config(lifecycle={"pay_share": 1.0, "pay_within_days": 20})
    with running_emulator(cfg) as emu:
        quiet = _api_story(emu)
    receiver = Receiver()
    receiver.answer = lambda key, n: 500 if n % 2 else 200
    try:
        with running_emulator(cfg) as emu:
            emu.admin.set_webhooks(url=receiver.url, duplicate_rate=0.5, out_of_order=0.5,
                                   drop_first_attempt_rate=0.5, **FAST)
            loud = _api_story(emu)
            assert receiver.wait_for(10) and _settled(emu)["deliveries"]
    finally:
        receiver.close()
    assert loud == quiet


@pytest.mark.serial
def test_a_slow_receiver_does_not_slow_the_api():
    with running_emulator(make_config()) as emu, \
            httpx.Client(base_url=f"{emu.no_base_url}/orgs/{NO_ORG}", headers=emu.no_headers()) as no:
        receiver = Receiver()
        receiver.delay = 1.0
        try:
            emu.admin.set_webhooks(url=receiver.url)
            started = time.monotonic()
            for _ in range(5):
                assert no.post("/invoices", json={"invoices": [no_invoice()]}).status_code == 202
                assert no.get("/cases").status_code == 200
            elapsed = time.monotonic() - started
            assert receiver.wait_for(1, timeout=3)  # deliveries do happen, at the receiver's pace
        finally:
            receiver.close()
    # ten deliveries of a second each were due meanwhile; on the request path they would add >= 5 s
    assert elapsed < 2.5, elapsed


def test_webhook_ids_survive_a_restart():
    cfg = make_config(norway={"webhooks": {"url": "http://127.0.0.1:9/hook"}})
    eng = Engine(cfg)
    eng.no_create_batch(NO_ORG, "demo-client", "INVOICE", [no_invoice()], None, "http://x")
    first = [e["id"] for e in eng.outbox]
    again = Engine(cfg)
    again.load_json(json.loads(json.dumps(eng.to_json())))
    again.no_create_batch(NO_ORG, "demo-client", "INVOICE", [no_invoice()], None, "http://x")
    assert len(first) == 2 and not set(first) & {e["id"] for e in again.outbox}
