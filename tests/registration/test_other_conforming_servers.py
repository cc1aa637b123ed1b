"""Answers the public contract allows but the emulator never gives (issue: build to the contract).

A server may answer a duplicate with 409, a key still being processed with 409, a busy resource with
423, bad credentials at the token endpoint with 400 (OAuth2 ``invalid_client``), and may keep a
registration without naming its case. None of these may send an invoice twice, and none may mark an
invoice rejected for something that is not wrong with it. MockTransport: the emulator does not
produce these answers (amili-api.md F lists what it assumes instead).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import AuthenticationFailed
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxRow, OutboxState
from amili_pipelines.registration.norway import NorwayRoute
from amili_pipelines.registration.routes import SwedenRoute, registration_payload
from tests.support.invoices import make_invoices

NO_TOKEN = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}
SE_TOKEN = {"_status": "OK", "token": "t", "expires": "Fri, 01 Jan 2100 00:00:00 GMT"}
SE_ERROR = {"_status": "ERR", "_error": {"code": 0, "message": ""}}


def _no_rows(creditors, n: int, prefix: str) -> list[OutboxRow]:
    creditor = creditors.creditor("demo-no")
    return [OutboxRow(Market.NO, i.invoice_key, "demo-no", i.invoice_number, f"k{n}", OutboxState.IN_FLIGHT,
                      registration_payload(i, creditor), 1, None, None)
            for n, i in enumerate(make_invoices(Market.NO, n, prefix=prefix))]


def _se_row(state: OutboxState = OutboxState.IN_FLIGHT) -> OutboxRow:
    return OutboxRow(Market.SE, "demo-se/INV-1", "demo-se", "INV-1", "k", state, None, 1, None, None,
                     body=b'{"invoice_number": "INV-1"}')


def _norway(handle, creditors, call):
    async def run():
        async with AmiliNoClient(base_url="http://amili.test/collection/v1", auth_url="http://amili.test/token",
                                 client_id="c", client_secret=SecretStr("s"), transport=httpx.MockTransport(handle),
                                 max_retries=2, backoff_base=0.0) as no:
            return await call(NorwayRoute(no, creditors))
    return asyncio.run(run())


def _sweden(handle, creditors, call):
    async def run():
        async with AmiliSeClient(base_url="http://amili.test", api_code=SecretStr("code"),
                                 transport=httpx.MockTransport(handle), max_retries=2, backoff_base=0.0) as se:
            return await call(SwedenRoute(se, creditors))
    return asyncio.run(run())


def test_a_409_for_a_key_still_being_processed_is_never_sent_again_under_another_key(creditors):
    rows = _no_rows(creditors, 6, "CONFLICT")
    keys: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=NO_TOKEN)
        keys.append(request.headers["IdempotencyKey"])
        if len(keys) == 1:  # the original request: the server is still working on this key
            return httpx.Response(409, json={"title": "Conflict", "status": 409, "detail": "key in use"},
                                  headers={"content-type": "application/problem+json"})
        return httpx.Response(202, json={"data": {"batchId": f"b-{len(keys)}", "batchUrl": "x"}})

    outcomes = _norway(handle, creditors, lambda route: route.send(rows))
    assert len(keys) == 1, "no part of the batch was sent again under a key of its own"
    assert {o.state for o in outcomes} == {OutboxState.UNKNOWN_OUTCOME}
    assert {o.batch_key for o in outcomes} == {keys[0]}, "left to the lookup under the original key"
    assert all("409" in o.detail for o in outcomes)


def test_a_locked_resource_is_waited_for_not_taken_for_a_refusal(creditors):
    rows = _no_rows(creditors, 3, "LOCKED")
    answers = iter([423, 423, 202])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=NO_TOKEN)
        status = next(answers)
        if status == 423:
            return httpx.Response(423, json={"title": "Locked", "status": 423})
        return httpx.Response(202, json={"data": {"batchId": "b-1", "batchUrl": "x"}})

    outcomes = _norway(handle, creditors, lambda route: route.send(rows))
    assert {o.state for o in outcomes} == {OutboxState.WAITING_FOR_BATCH}
    assert {o.batch_id for o in outcomes} == {"b-1"}

    still_locked = _norway(lambda r: httpx.Response(200, json=NO_TOKEN) if r.url.path.endswith("/token")
                           else httpx.Response(423, json={"title": "Locked", "status": 423}),
                           creditors, lambda route: route.send(rows))
    assert {o.state for o in still_locked} == {OutboxState.UNKNOWN_OUTCOME}, "settled by its key later, not rejected"


@pytest.mark.parametrize("market", ["NO", "SE"])
def test_a_token_endpoint_refusing_with_400_or_422_fails_the_run_and_rejects_no_invoice(creditors, market):
    invoice_posts: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):  # OAuth2's answer to a wrong client secret
            return httpx.Response(400, json={"error": "invalid_client", "error_description": "bad secret"})
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(422, json={**SE_ERROR, "_issues": {"api_code": "required field"}})
        invoice_posts.append(request.url.path)
        return httpx.Response(500)

    with pytest.raises(AuthenticationFailed, match="the token endpoint refused"):
        if market == "NO":
            _norway(handle, creditors, lambda route: route.send(_no_rows(creditors, 2, "TOKEN")))
        else:
            _sweden(handle, creditors, lambda route: route.send_one(_se_row()))
    assert invoice_posts == []


@pytest.mark.parametrize("status, body", [
    (409, {"_status": "ERR", "_error": {"code": 409, "message": "Duplicate key: invoice_number INV-1"}}),
    (422, {"_status": "ERR", "_issues": {"invoice_number": "value 'INV-1' already exists"},
           "_error": {"code": 422, "message": "Insertion failure: 1 document(s) contain(s) error(s)"}}),
])
def test_a_duplicate_answered_in_another_wording_is_looked_up_not_rejected(creditors, status, body):
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(200, json=SE_TOKEN)
        return httpx.Response(status, json=body)

    [outcome] = _sweden(handle, creditors, lambda route: route.send([_se_row()]))
    assert outcome.state is OutboxState.UNKNOWN_OUTCOME and "look it up" in outcome.detail


def _already_exists_then(creditors, found: list[dict]) -> tuple[list, list[str]]:
    """POST answered 422 "already exists"; the lookup lists ``found``."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(200, json=SE_TOKEN)
        asked.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(422, json={"_status": "ERR", "_issues": {"invoice_number": "value 'INV-1' already exists"},
                                             "_error": {"code": 422, "message": "Insertion failure"}})
        return httpx.Response(200, json={"_items": found, "_meta": {"total": len(found), "max_results": 100, "page": 1}})

    return _sweden(handle, creditors, lambda route: route.send([_se_row()])), asked


def test_an_invoice_amili_already_holds_is_found_in_the_same_send(creditors):
    registration = {"_id": "68678ed98d8dc95ece12793f", "_case": "68678ed98d8dc95ece127940",
                    "creditor": creditors.creditor("demo-se").creditor_id, "invoice_number": "INV-1"}
    [outcome], asked = _already_exists_then(creditors, [registration])
    assert outcome.state is OutboxState.REGISTERED and outcome.case_id == "68678ed98d8dc95ece127940"
    assert asked == ["POST /invoice--registrations", "GET /invoice--registrations"]


def test_already_exists_but_not_found_is_rejected_for_a_person_never_sent_again_and_again(creditors):
    # Before: unclear -> looked up, not found -> pending -> sent -> "already exists" -> ... every run.
    [outcome], asked = _already_exists_then(creditors, [])
    assert outcome.state is OutboxState.REJECTED
    assert "already exists" in outcome.error and "no registration of it was found" in outcome.error
    assert outcome.rejection == [{"field": "invoice_number", "message": "value 'INV-1' already exists", "code": None}]
    assert asked.count("POST /invoice--registrations") == 1


def test_a_registration_found_without_its_case_is_not_sent_again(creditors):
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(200, json=SE_TOKEN)
        asked.append(f"{request.method} {request.url.path} {request.url.params.get('where')}")
        items = []
        if request.url.path == "/invoice--registrations":  # which fields are kept is not documented (A.6)
            items = [{"_id": "68678ed98d8dc95ece12793f", "_created": "Fri, 04 Jul 2025 08:20:41 GMT",
                      "creditor": creditors.creditor("demo-se").creditor_id, "invoice_number": "INV-1"}]
        return httpx.Response(200, json={"_items": items, "_meta": {"total": len(items), "max_results": 100,
                                                                      "page": 1}})

    [outcome] = _sweden(handle, creditors, lambda route: route.lookup([_se_row(OutboxState.UNKNOWN_OUTCOME)]))
    assert outcome.state is OutboxState.UNKNOWN_OUTCOME, "a pending row would be registered a second time"
    assert "without a case yet" in outcome.detail
    assert [a.split()[1] for a in asked] == ["/invoice--registrations", "/cases"]
    assert json.loads(asked[0].split(" ", 2)[2])["invoice_number"] == "INV-1"


@pytest.mark.parametrize("listed", [
    [{"batchId": "b-other-1", "status": "SUCCESS", "idempotencyKey": "reg-someone-else"}],
    [{"batchId": "b-other-1", "status": "SUCCESS"}, {"batchId": "b-other-2", "status": "QUEUED"}],
])
def test_a_batch_lookup_that_ignores_the_key_does_not_tie_our_invoices_to_a_strangers_batch(creditors, listed):
    rows = [dataclasses.replace(r, state=OutboxState.UNKNOWN_OUTCOME, batch_key="reg-ours")
            for r in _no_rows(creditors, 2, "IGNOREDKEY")]
    posted: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=NO_TOKEN)
        if request.method == "GET":  # the IdempotencyKey filter is not applied: other batches come back
            return httpx.Response(200, json={"summary": {"nextPageToken": None}, "data": listed})
        posted.append(request.headers["IdempotencyKey"])
        return httpx.Response(202, json={"data": {"batchId": "b-ours", "batchUrl": "x"}})

    outcomes = _norway(handle, creditors, lambda route: route.lookup(rows))
    assert posted == ["reg-ours"], "settled by the replay under our own key (Amili returns the original batch)"
    assert {(o.state, o.batch_id) for o in outcomes} == {(OutboxState.WAITING_FOR_BATCH, "b-ours")}
