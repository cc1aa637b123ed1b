"""Norway (Collection API v1): token, batches, invoices, cases, payments, corrections, actions,
settlements, webhooks, problem+json errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from amili_pipelines.emulator.engine import Engine
from amili_pipelines.emulator.norway.validation import UnknownEnumValues
from amili_pipelines.emulator.testing import running_emulator
from tests.support.emulator import NO_INVOICE, NO_ORG, make_config, no_invoice

PROBLEM_KEYS = {"type", "title", "status", "detail", "traceId"}


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    return body


# ---------------------------------------------------------------- token

def test_token_endpoint_azure_style(emu):
    r = httpx.post(emu.no_auth_url, data={"grant_type": "client_credentials", "client_id": "demo-client",
                                          "client_secret": "demo-secret"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "not_before", "expires_in", "expires_on", "resource"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["expires_on"] - body["not_before"] == 3600


def test_token_endpoint_errors(emu):
    r = httpx.post(emu.no_auth_url, data={"grant_type": "client_credentials", "client_id": "demo-client",
                                          "client_secret": "wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(emu.no_auth_url, data={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_bearer_required(emu):
    url = f"{emu.no_base_url}/orgs/{NO_ORG}/invoices"
    _problem(httpx.get(url), 401)
    _problem(httpx.get(url, headers={"Authorization": "Bearer nope"}), 401)
    assert "errors" not in httpx.get(url).json()


def test_unknown_org_is_404(emu, no):
    r = httpx.get(f"{emu.no_base_url}/orgs/00000000-0000-0000-0000-000000000000/invoices",
                  headers=no.headers)
    _problem(r, 404)


# ---------------------------------------------------------------- invoices + batches

def test_create_invoices_202_and_batch_success(emu, no):
    r = no.post("/invoices", json={"invoices": [NO_INVOICE]})
    assert r.status_code == 202
    body = r.json()
    assert body["summary"] == {"status": "SUCCESS"}
    assert set(body["data"]) == {"batchId", "batchUrl"}
    assert body["data"]["batchUrl"] == f"{emu.no_base_url}/batches/{body['data']['batchId']}"
    batch = httpx.get(body["data"]["batchUrl"], headers=no.headers).json()
    assert batch["summary"]["status"] == "SUCCESS"
    data = batch["data"]
    assert data["status"] == "SUCCESS" and data["type"] == "INVOICE" and data["failed"] == []
    assert set(data["succeeded"][0]) == {"invoiceId", "invoiceNumber", "caseId"}
    assert {"batchId", "type", "status", "createdAt", "finishedAt", "organizationId", "createdBy"} <= set(data)
    same = no.get(f"/batches/{data['batchId']}").json()["data"]
    assert same == data
    inv = no.get(f"/invoices/{data['succeeded'][0]['invoiceId']}").json()["data"]
    assert inv["invoiceNumber"] == "NO-1" and inv["status"] == "OPEN" and inv["type"] == "NOTICE"
    assert inv["organization"]["id"] == NO_ORG and inv["remainingAmount"] == 1000
    case = no.get(f"/cases/{data['succeeded'][0]['caseId']}").json()["data"]
    assert case["status"] == "OPEN" and case["type"] == "NOTICE" and case["subStatus"] is None
    assert {"caseId", "caseNumber", "organizationId", "creditorId", "registeredAt", "closedAt", "invoices",
            "debtors"} <= set(case)
    assert case["debtors"][0]["firstName"] == "Ola"


def test_per_item_validation_partial_and_failed(no):
    # missing fields (unlike unknown enum values, F.2.9) fail only their item, inside the batch (F.2.3)
    bad = {**NO_INVOICE, "type": None, "invoiceNumber": "BAD-1", "claims": [], "dueDate": "someday"}
    r = no.post("/invoices", json={"invoices": [no_invoice(), bad, no_invoice()]})
    assert r.status_code == 202
    batch = no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]
    assert batch["status"] == "PARTIAL"
    assert len(batch["succeeded"]) == 2
    (failed,) = batch["failed"]
    assert failed["index"] == 1 and failed["invoiceNumber"] == "BAD-1"
    assert failed["uniqueSourceInvoiceId"] == NO_INVOICE["uniqueSourceInvoiceId"]
    assert {e["field"] for e in failed["errors"]} >= {"type", "claims", "dueDate"}
    assert {e["code"] for e in failed["errors"]} == {"REQUIRED", "INVALID_VALUE"}
    assert all(set(e) == {"code", "message", "field"} for e in failed["errors"])
    r = no.post("/invoices", json={"invoices": [bad]})
    assert no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]["status"] == "FAILED"


# ---------------------------------------------------------------- unknown enum values (F.2.9)

def _nothing_stored(emu) -> None:
    state = emu.admin.state()["no"]
    assert {coll: docs for coll, docs in state.items() if docs} == {}


def test_unknown_enums_refuse_the_whole_request_with_422(emu, no):
    alien_debtor = no_invoice(debtors=[{**NO_INVOICE["debtors"][0], "type": "ALIEN"}])
    two_bad = no_invoice(type="WHATEVER", claims=[{"type": "PRINCIPAL", "remainingAmount": 10},
                                                  {"type": "BONUS", "remainingAmount": 5}])
    r = no.post("/invoices", json={"invoices": [no_invoice(), alien_debtor, two_bad]},
                headers={"IdempotencyKey": "enum-key"})
    body = _problem(r, 422)
    assert body["title"] == "Unprocessable Entity" and body["type"].endswith("/422")
    assert body["errors"] == {
        "invoices[1].debtors[0].type": ["'ALIEN' is not a valid debtor type. Allowed values: PRIVATE, COMPANY."],
        "invoices[2].type": ["'WHATEVER' is not a valid invoice type. Allowed values: NOTICE, PAYMENT_REMINDER, "
                             "COLLECTION_NOTICE."],
        "invoices[2].claims[1].type": ["'BONUS' is not a valid claim type. Allowed values: PRINCIPAL, FEE, "
                                       "INTEREST."],
    }
    _nothing_stored(emu)  # not even the valid first invoice
    assert no.get("/batches", params={"IdempotencyKey": "enum-key"}).json()["data"] == []
    # the refused request did not consume its idempotency key
    r = no.post("/invoices", json={"invoices": [no_invoice()]}, headers={"IdempotencyKey": "enum-key"})
    assert r.status_code == 202
    (batch,) = no.get("/batches", params={"IdempotencyKey": "enum-key"}).json()["data"]
    assert batch["batchId"] == r.json()["data"]["batchId"] and batch["status"] == "SUCCESS"


def test_unknown_payment_type_refuses_the_request(emu, no):
    ref = _one_invoice(no)
    before = no.get(f"/invoices/{ref['invoiceId']}").json()["data"]
    r = no.post("/payments", json={"payments": [
        {"invoiceId": ref["invoiceId"], "type": "DIRECT_PAYMENT", "amount": 100, "currency": "NOK"},
        {"invoiceId": ref["invoiceId"], "type": "CARD", "amount": 100, "currency": "NOK"}]})
    assert _problem(r, 422)["errors"] == {
        "payments[1].type": ["'CARD' is not a valid payment type. Allowed values: DIRECT_PAYMENT."]}
    assert [b["type"] for b in no.get("/batches").json()["data"]] == ["INVOICE"]
    assert emu.admin.state()["no"]["payments"] == []
    assert no.get(f"/invoices/{ref['invoiceId']}").json()["data"] == before
    # without a type a payment is a DIRECT_PAYMENT; corrections carry no enum at all
    r = no.post("/payments", json={"payments": [{"invoiceId": ref["invoiceId"], "amount": 100, "currency": "NOK"}]})
    assert no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]["status"] == "SUCCESS"
    r = no.post("/corrections", json={"corrections": [{"invoiceId": ref["invoiceId"], "amount": 50,
                                                        "currency": "NOK", "type": "ANYTHING"}]})
    assert no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]["status"] == "SUCCESS"


def test_enum_refusal_is_in_the_engine_too():
    eng = Engine(make_config())
    with pytest.raises(UnknownEnumValues) as err:
        eng.no_create_batch(NO_ORG, "demo-client", "INVOICE", [no_invoice(), no_invoice(type="OTHER")], "k",
                            "http://x")
    assert list(err.value.errors) == ["invoices[1].type"]
    assert eng.db["no"]["batches"] == {} and eng.idempotency == {} and eng.counter == 0


def test_request_level_errors_are_problem_json(no):
    body = _problem(no.post("/invoices", json={"nope": []}), 400)
    assert "invoices" in body["errors"]
    _problem(no.post("/invoices", content=b"{bad", headers={"Content-Type": "application/json"}), 400)
    _problem(no.post("/invoices", json={"invoices": []}), 400)


def test_idempotency_key(no):
    h = {"IdempotencyKey": "key-1"}
    a = no.post("/invoices", json={"invoices": [no_invoice()]}, headers=h).json()["data"]
    b = no.post("/invoices", json={"invoices": [no_invoice(), no_invoice()]}, headers=h).json()["data"]
    assert a == b
    assert len(no.get("/invoices").json()["data"]) == 1
    found = no.get("/batches", params={"IdempotencyKey": "key-1"}).json()["data"]
    assert [x["batchId"] for x in found] == [a["batchId"]]
    assert no.get("/batches", params={"IdempotencyKey": "other"}).json()["data"] == []


def test_batch_delay_queued_then_done():
    cfg = make_config(norway={"batch_delay_seconds": 1.0})
    with running_emulator(cfg) as emu:
        h = emu.no_headers()
        r = httpx.post(f"{emu.no_base_url}/orgs/{NO_ORG}/invoices", json={"invoices": [no_invoice()]}, headers=h)
        url = r.json()["data"]["batchUrl"]
        assert httpx.get(url, headers=h).json()["data"]["status"] == "QUEUED"
        time.sleep(1.2)
        assert httpx.get(url, headers=h).json()["data"]["status"] == "SUCCESS"


def test_batch_delay_on_emulator_clock():
    cfg = make_config(norway={"batch_delay_seconds": 3600, "batch_delay_clock": "emulator"})
    with running_emulator(cfg) as emu:
        h = emu.no_headers()
        r = httpx.post(f"{emu.no_base_url}/orgs/{NO_ORG}/invoices", json={"invoices": [no_invoice()]}, headers=h)
        url = r.json()["data"]["batchUrl"]
        assert httpx.get(url, headers=h).json()["data"]["status"] == "QUEUED"
        emu.admin.advance(seconds=3600)
        assert httpx.get(url, headers=h).json()["data"]["status"] == "SUCCESS"


# ---------------------------------------------------------------- lists and paging

def test_invoice_and_case_lists_filters_and_paging(no):
    for i in range(7):
        no.post("/invoices", json={"invoices": [no_invoice(uniqueSourceInvoiceId=f"U-{i}", invoiceNumber=f"IN-{i}")]})
    page1 = no.get("/invoices", params={"PageSize": 3}).json()
    assert len(page1["data"]) == 3 and page1["summary"]["nextPageToken"]
    page2 = no.get("/invoices", params={"PageSize": 3, "PageToken": page1["summary"]["nextPageToken"]}).json()
    page3 = no.get("/invoices", params={"PageSize": 3, "PageToken": page2["summary"]["nextPageToken"]}).json()
    assert len(page3["data"]) == 1 and "nextPageToken" not in page3["summary"]
    ids = [x["invoiceId"] for p in (page1, page2, page3) for x in p["data"]]
    assert len(set(ids)) == 7
    one = no.get("/invoices", params={"UniqueSourceInvoiceId": "U-3"}).json()["data"]
    assert [x["invoiceNumber"] for x in one] == ["IN-3"]
    assert len(no.get("/invoices", params={"InvoiceNumber": "IN-5"}).json()["data"]) == 1
    assert len(no.get("/invoices", params={"Status": "OPEN"}).json()["data"]) == 7
    cases = no.get("/cases", params={"UniqueSourceInvoiceId": "U-4"}).json()["data"]
    assert len(cases) == 1 and cases[0]["invoices"][0]["invoiceNumber"] == "IN-4"
    assert len(no.get("/cases", params={"SearchTerm": "in-6"}).json()["data"]) == 1
    assert len(no.get("/cases", params={"PageSize": 100}).json()["data"]) == 7
    _problem(no.get("/invoices", params={"PageToken": "%%%"}), 400)


# ---------------------------------------------------------------- payments, corrections, actions

def _one_invoice(no) -> dict:
    r = no.post("/invoices", json={"invoices": [no_invoice()]})
    return no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]["succeeded"][0]


def test_payments_and_corrections(no):
    ref = _one_invoice(no)
    r = no.post("/payments", json={"payments": [
        {"invoiceId": ref["invoiceId"], "type": "DIRECT_PAYMENT", "amount": 300, "currency": "NOK"},
        {"invoiceId": "00000000-0000-4000-8000-000000000000", "type": "DIRECT_PAYMENT", "amount": 1,
         "currency": "NOK"},
    ]})
    assert r.status_code == 202
    batch = no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]
    assert batch["type"] == "PAYMENT" and batch["status"] == "PARTIAL"
    assert batch["failed"][0]["invoiceNumber"] is None and batch["failed"][0]["errors"][0]["code"] == "NOT_FOUND"
    inv = no.get(f"/invoices/{ref['invoiceId']}").json()["data"]
    assert inv["remainingAmount"] == 700 and inv["paidAmount"] == 300
    r = no.post("/corrections", json={"corrections": [
        {"invoiceId": ref["invoiceId"], "amount": 700, "currency": "NOK", "date": "2026-01-10T00:00:00Z",
         "description": "credit note"}]})
    batch = no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]
    assert batch["type"] == "CORRECTION" and batch["status"] == "SUCCESS"
    inv = no.get(f"/invoices/{ref['invoiceId']}").json()["data"]
    assert inv["remainingAmount"] == 0 and inv["creditedAmount"] == 700 and inv["status"] == "CLOSED"
    assert no.get(f"/cases/{ref['caseId']}").json()["data"]["closedAt"]
    types = {b["type"] for b in no.get("/batches").json()["data"]}
    assert types == {"INVOICE", "PAYMENT", "CORRECTION"}
    assert len(no.get("/batches", params={"Type": "PAYMENT"}).json()["data"]) == 1


def test_pause_resume_withdraw(no):
    ref = _one_invoice(no)
    base = f"/cases/{ref['caseId']}"
    r = no.post(f"{base}/pause")
    assert r.status_code == 202 and r.content == b""
    assert no.get(base).json()["data"]["status"] == "PAUSED"
    _problem(no.post(f"{base}/pause"), 409)
    assert no.post(f"{base}/resume").status_code == 202
    assert no.get(base).json()["data"]["status"] == "OPEN"
    _problem(no.post(f"{base}/resume"), 409)
    assert no.post(f"{base}/withdraw").status_code == 202
    assert no.get(base).json()["data"]["status"] == "WITHDRAWN"
    _problem(no.post(f"{base}/withdraw"), 409)
    _problem(no.post("/cases/00000000-0000-4000-8000-000000000000/pause"), 404)
    assert no.post(f"{base}/accept-debt-collection-list").status_code == 202
    ref2 = _one_invoice(no)
    assert no.post(f"/invoices/{ref2['invoiceId']}/pause").status_code == 202
    assert no.get(f"/invoices/{ref2['invoiceId']}").json()["data"]["status"] == "PAUSED"


# ---------------------------------------------------------------- settlements + webhooks

class _Sink(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Sink.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def sink():
    _Sink.received = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", _Sink.received
    srv.shutdown()


def test_settlements_and_webhooks(sink):
    url, received = sink
    cfg = make_config(norway={"webhooks": {"url": url, "secret": "s3cret"}},
                      lifecycle={"pay_share": 1.0, "partial_share": 0.0, "pay_within_days": 5})
    with running_emulator(cfg) as emu:
        h = emu.no_headers()
        base = f"{emu.no_base_url}/orgs/{NO_ORG}"
        httpx.post(f"{base}/invoices", json={"invoices": [no_invoice() for _ in range(3)]}, headers=h)
        emu.admin.advance(days=10)
        settlements = httpx.get(f"{base}/settlements", headers=h).json()
        assert settlements["summary"]["status"] == "SUCCESS"
        items = settlements["data"]
        assert len(items) == 3
        s = items[0]
        for key in ("settlementId", "settlementDate", "invoiceId", "invoiceNumber", "caseNumber",
                    "uniqueSourceInvoiceId", "currency", "principalAmount", "interestAmount", "feeAmount",
                    "commissionAmount", "vatAmount", "payoutAmount", "collectionType", "customerReference",
                    "exchangeRate"):
            assert key in s
        assert s["payoutAmount"] == round(s["principalAmount"] + s["interestAmount"] - s["commissionAmount"]
                                          - s["vatAmount"], 2)
        one = httpx.get(f"{base}/settlements/{s['settlementId']}", headers=h).json()
        assert one["data"] == s
        day = s["settlementDate"]
        assert len(httpx.get(f"{base}/settlements", params={"fromDate": day, "toDate": day},
                             headers=h).json()["data"]) >= 1
        assert httpx.get(f"{base}/settlements", params={"fromDate": "2099-01-01"}, headers=h).json()["data"] == []
        paged = httpx.get(f"{base}/settlements", params={"pageSize": 2}, headers=h).json()
        assert len(paged["data"]) == 2 and paged["summary"]["nextPageToken"]
        deadline = time.time() + 5
        while time.time() < deadline and sum(b"SETTLEMENT_CREATED" in b for _, b in received) < 3:
            time.sleep(0.05)
    events = [json.loads(b) for _, b in received]
    kinds = [e.get("type") or e["eventType"] for e in events]  # case events name themselves in eventType
    assert kinds.count("BATCH_COMPLETED") == 1 and kinds.count("SETTLEMENT_CREATED") == 3
    assert kinds.count("CASE") == 3
    for headers, body in received:
        h = {k.lower(): v for k, v in headers.items()}
        assert {"x-amili-event", "idempotencykey", "x-amili-request-id", "x-webhook-signature"} <= set(h)
        expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(h["x-webhook-signature"], expected)
    batch_event = next(e for e in events if e.get("type") == "BATCH_COMPLETED")
    assert batch_event["source"] == "COLLECTION" and batch_event["data"]["status"] == "SUCCESS"
    assert {"id", "type", "source", "timeStamp", "data"} <= set(batch_event)


def test_optional_processing_step():
    cfg = make_config(norway={"batch_delay_seconds": 1.6, "batch_processing_step": True})
    with running_emulator(cfg) as emu:
        h = emu.no_headers()
        r = httpx.post(f"{emu.no_base_url}/orgs/{NO_ORG}/invoices", json={"invoices": [no_invoice()]}, headers=h)
        url = r.json()["data"]["batchUrl"]
        seen = set()
        deadline = time.time() + 5
        while time.time() < deadline:
            status = httpx.get(url, headers=h).json()["data"]["status"]
            seen.add(status)
            if status == "SUCCESS":
                break
            time.sleep(0.05)
        assert seen == {"QUEUED", "PROCESSING", "SUCCESS"}


def test_unknown_route_is_problem_json(no):
    _problem(no.get("/no-such-thing"), 404)


def test_org_not_allowed_for_client_is_403():
    other = "11111111-2222-4333-8444-555555555555"
    cfg = make_config(norway={"organizations": [{"id": NO_ORG}, {"id": other}],
                              "clients": [{"client_id": "demo-client", "client_secret": "demo-secret",
                                           "organizations": [NO_ORG]}]})
    with running_emulator(cfg) as emu:
        r = httpx.get(f"{emu.no_base_url}/orgs/{other}/invoices", headers=emu.no_headers())
        _problem(r, 403)
