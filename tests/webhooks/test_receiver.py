"""The webhook receiver (``amili-pipelines webhooks``) over real HTTP: what it refuses, with which status,
what it stores, and that its output never holds the secret or a body's identity numbers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from amili_pipelines.warehouse.spool import open_inbox
from amili_pipelines.webhooks.signature import sign, signature_matches
from tests.support.webhooks import SECRET, receiver_process

NO_ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"
PIN = "01019012345"  # a Norwegian fødselsnummer (valid date): must never be printed


def _event(n: int = 1, *, name_key: str = "type", event: str = "BATCH_COMPLETED") -> bytes:
    return json.dumps({"id": f"ev-{n}", name_key: event, "source": "COLLECTION", "timeStamp": "2026-01-05T08:00:00Z",
                       "data": {"batchId": f"b-{n}", "organizationId": NO_ORG, "status": "SUCCESS",
                                "note": f"debtor {PIN}"}}).encode()


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("receiver") / "inbox"
    with receiver_process(inbox, env={"AMILI_NO_WEBHOOK_MAX_BYTES": "4096"}) as r:
        r.inbox = inbox
        yield r


def _stored(receiver) -> int:
    counts = open_inbox(receiver.inbox).counts()
    return counts["new"] + counts["claimed"] + counts["processed"]


def test_a_signed_event_is_stored_once_and_a_redelivery_answers_2xx(receiver):
    before = _stored(receiver)
    body = _event(1)
    first = receiver.post(body, key="dup-1")
    assert (first.status_code, first.json()) == (200, {"status": "stored"})
    again = receiver.post(body, key="dup-1")
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert _stored(receiver) == before + 1
    [event] = [e for e in open_inbox(receiver.inbox).new_events(limit=100) if e.idempotency_key == "dup-1"]
    assert event.body == body.decode() and event.event == "BATCH_COMPLETED" and event.event_id == "ev-1"


def test_both_envelopes_are_accepted(receiver):
    assert receiver.post(_event(2, name_key="eventType", event="CASE"), key="env-case").status_code == 200
    assert receiver.post(_event(3, name_key="type", event="SETTLEMENT_CREATED"), key="env-settle").status_code == 200
    names = {e.idempotency_key: e.event for e in open_inbox(receiver.inbox).new_events(limit=100)}
    assert (names["env-case"], names["env-settle"]) == ("CASE", "SETTLEMENT_CREATED")


@pytest.mark.parametrize("case, expected", [
    ("unsigned", 401), ("wrong secret", 401), ("signature of another body", 401), ("tampered body", 401),
    ("oversized", 413), ("oversized without length", 413), ("not json", 400), ("json but no event", 400),
    ("neither IdempotencyKey nor envelope id", 400), ("header contradicts the body", 400), ("data not an object", 400),
])
def test_refused_deliveries_store_nothing(receiver, case, expected):
    before = _stored(receiver)
    body = _event(10)
    if case == "unsigned":
        r = httpx.post(receiver.url, content=body, headers={"IdempotencyKey": "x-unsigned"}, timeout=10)
    elif case == "wrong secret":
        r = receiver.post(body, key="x-wrong", secret="not-the-secret")
    elif case == "signature of another body":
        r = receiver.post(body, key="x-other", signature=sign(SECRET.encode(), _event(11)))
    elif case == "tampered body":
        r = receiver.post(body.replace(b"SUCCESS", b"FAILED"), key="x-tamper", signature=sign(SECRET.encode(), body))
    elif case == "oversized":
        big = json.dumps({"type": "CASE", "data": {"pad": "x" * 5000}}).encode()
        r = receiver.post(big, key="x-big")
    elif case == "oversized without length":
        big = json.dumps({"type": "CASE", "data": {"pad": "x" * 5000}}).encode()
        r = httpx.post(receiver.url, content=iter([big[:2000], big[2000:]]), timeout=10,
                       headers={"IdempotencyKey": "x-chunked", "X-Webhook-Signature": sign(SECRET.encode(), big)})
    elif case == "not json":
        r = receiver.post(b"<xml/>", key="x-xml")
    elif case == "json but no event":
        r = receiver.post(b'{"data": {}}', key="x-noevent")
    elif case == "neither IdempotencyKey nor envelope id":
        r = receiver.post(json.dumps({k: v for k, v in json.loads(body).items() if k != "id"}).encode(), key=None)
    elif case == "header contradicts the body":
        r = receiver.post(body, key="x-clash", headers={"X-Amili-Event": "CASE_UPDATED"})
    else:
        r = receiver.post(b'{"type": "CASE", "data": [1]}', key="x-list")
    assert r.status_code == expected, r.text
    assert r.json()["status"] == "refused"
    assert _stored(receiver) == before


def test_only_post_on_the_one_endpoint(receiver):
    assert httpx.get(receiver.url, timeout=5).status_code == 405
    assert httpx.post(receiver.url.replace("amili-no", "amili-se"), content=b"{}", timeout=5).status_code == 404


def test_nothing_secret_or_personal_in_what_the_receiver_prints(receiver):
    receiver.post(_event(20), key="leak-check")
    receiver.post(_event(21), key="leak-check-bad", secret="wrong")
    out = receiver.output()
    assert "ready at" in out and "stored BATCH_COMPLETED b-20" in out and "signature does not match" in out
    assert SECRET not in out and PIN not in out and "debtor" not in out


def test_header_and_hash_are_configurable(tmp_path):
    body = _event(30)
    with receiver_process(tmp_path / "inbox", env={"AMILI_NO_WEBHOOK_SIGNATURE_HEADER": "X-Amili-Signature",
                                                   "AMILI_NO_WEBHOOK_SIGNATURE_ALGORITHM": "sha512"}) as r:
        assert r.post(body, key="k").status_code == 401, "sha256 in the default header: not what is configured"
        good = sign(SECRET.encode(), body, "sha512")
        assert r.post(body, key="k", headers={"X-Amili-Signature": f"sha512={good}"}).status_code == 200
    assert signature_matches(b"s", b"b", sign(b"s", b"b").upper())
    assert not signature_matches(b"s", b"b", "sha1=" + sign(b"s", b"b"))


def test_the_receiver_does_not_start_without_a_secret(tmp_path):
    exe = Path(sys.executable).with_name("amili-pipelines")
    env = {"PATH": "/usr/bin:/bin", "AMILI_WEBHOOK_INBOX": str(tmp_path / "inbox"), "HOME": str(tmp_path)}
    proc = subprocess.run([str(exe), "webhooks", "--port", "0"], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "AMILI_NO_WEBHOOK_SECRET is not set" in proc.stdout + proc.stderr


def test_a_port_another_process_holds_is_named_and_the_receiver_exits_2(tmp_path):
    exe = Path(sys.executable).with_name("amili-pipelines")
    env = {"PATH": "/usr/bin:/bin", "AMILI_WEBHOOK_INBOX": str(tmp_path / "inbox"), "HOME": str(tmp_path),
           "AMILI_NO_WEBHOOK_SECRET": "a-secret"}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = subprocess.run([str(exe), "webhooks", "--port", str(port)], env=env, capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, said
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in said and "Traceback" not in said
