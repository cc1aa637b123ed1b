"""Client behaviour over MockTransport: Eve and page-token pagination, registration lookup, Norwegian writes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import AmiliError, ApiRejection, OutcomeUnknown
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.no.models import Claim, Debtor, InvoiceCreate
from amili_pipelines.amili.se.client import AmiliSeClient
from tests.support.amili import Recorder, json_response


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def se(handler: Any) -> tuple[AmiliSeClient, Recorder]:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return json_response(200, {"token": "t"})
        return handler(request)

    rec = Recorder(route)
    return AmiliSeClient(base_url="http://se.test", api_code=SecretStr("c"), transport=rec.transport, requests_per_second=1000), rec


def no(handler: Any, **kw: Any) -> tuple[AmiliNoClient, Recorder]:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
            return json_response(200, {"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        assert request.headers["Authorization"] == "Bearer t"
        return handler(request)

    rec = Recorder(route)
    client = AmiliNoClient(
        base_url="http://no.test/collection/v1", auth_url="http://no.test/token", client_id="c", client_secret=SecretStr("s"),
        transport=rec.transport, requests_per_second=1000, backoff_base=0.001, **kw,
    )
    return client, rec


def eve_pages(items: list[dict[str, Any]], clamp: int = 100, with_total: bool = True) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        size = min(int(request.url.params.get("max_results", 25)), clamp)
        page = int(request.url.params.get("page", 1))
        chunk = items[(page - 1) * size : page * size]
        meta = {"page": page, "max_results": size}
        if with_total:
            meta["total"] = len(items)
        return json_response(200, {"_items": chunk, "_meta": meta})

    return handler


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 250])
@pytest.mark.parametrize(("clamp", "with_total"), [(100, True), (50, True), (50, False), (100, False)])
def test_eve_pagination_terminates_and_yields_everything(n: int, clamp: int, with_total: bool) -> None:
    items = [{"_id": f"{i:024x}", "state": "invoice"} for i in range(n)]
    client, rec = se(eve_pages(items, clamp, with_total))

    async def go() -> list[str]:
        async with client:
            return [c.id async for c in client.iter_cases(where={"closed": None}, sort="-_created")]

    assert run(go()) == [i["_id"] for i in items]
    gets = [r for r in rec.requests if r.url.path == "/cases"]
    assert json.loads(gets[0].url.params["where"]) == {"closed": None} and gets[0].url.params["sort"] == "-_created"
    assert len(gets) <= n // clamp + 1 + (0 if with_total else 0) + 1


def test_eve_pagination_stops_when_server_ignores_page() -> None:
    items = [{"_id": f"{i:024x}"} for i in range(100)]
    client, _ = se(lambda r: json_response(200, {"_items": items, "_meta": {"max_results": 100}}))

    async def go() -> None:
        async with client:
            async for _ in client.iter_cases():
                pass

    with pytest.raises(AmiliError, match="does not advance"):
        run(go())


def test_find_invoice_registrations_falls_back_to_cases() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        where = json.loads(request.url.params["where"])
        if request.url.path == "/invoice--registrations":
            assert where == {"creditor": "cr", "invoice_number": "INV-1"}
            return json_response(200, {"_items": [{"_id": "r1", "creditor": "cr", "invoice_number": "INV-1"}], "_meta": {"total": 1, "max_results": 100}})
        assert request.url.path == "/cases" and where == {"creditor": "cr", "debt.invoice_number": "INV-1"}
        return json_response(200, {"_items": [{"_id": "case1", "ocr_number_ocr": "999", "debt": {"invoice_number": "INV-1"}}], "_meta": {"total": 1}})

    client, rec = se(handler)

    async def go() -> Any:
        async with client:
            return await client.find_invoice_registrations(creditor="cr", invoice_number="INV-1")

    [record] = run(go())
    assert record.id == "r1" and record.case == "case1" and record.ocr_number_ocr == "999"


def test_find_invoice_registrations_uses_case_on_record_without_extra_call() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/invoice--registrations"
        return json_response(200, {"_items": [{"_id": "r1", "_case": "c1", "_invoice": "i1", "_ocr_number_ocr": "1"}], "_meta": {"total": 1}})

    client, rec = se(handler)

    async def go() -> Any:
        async with client:
            return await client.find_invoice_registrations(creditor="cr", invoice_number="INV-1")

    [record] = run(go())
    assert (record.case, record.invoice, record.ocr_number_ocr) == ("c1", "i1", "1")
    assert rec.count("GET", "/cases") == 0


def _invoice(n: str = "1") -> InvoiceCreate:
    return InvoiceCreate(
        invoice_number=n, original_invoice_amount=100, invoice_date="2024-01-15", due_date="2024-02-15",
        debtors=[Debtor(type="PRIVATE", name="Ola Nordmann")], claims=[Claim(remaining_amount=100)],
    )


def test_no_submit_sends_idempotency_key_and_retries_5xx() -> None:
    answers = iter([json_response(500, {"title": "boom", "status": 500}), json_response(202, {"summary": {"status": "SUCCESS"}, "data": {"batchId": "b1", "batchUrl": "u"}})])
    client, rec = no(lambda r: next(answers))

    async def go() -> Any:
        async with client:
            return await client.submit_invoices(organization_id="org", invoices=[_invoice()], idempotency_key="k1")

    ref = run(go())
    posts = [r for r in rec.requests if r.url.path == "/collection/v1/orgs/org/invoices"]
    assert ref.batch_id == "b1" and len(posts) == 2
    assert all(p.headers["IdempotencyKey"] == "k1" for p in posts)
    assert json.loads(posts[0].content)["invoices"][0]["invoiceNumber"] == "1"


def test_no_submit_exhausted_on_ambiguous_failure_is_outcome_unknown_with_key() -> None:
    client, _ = no(lambda r: json_response(504, {}), max_retries=2)

    async def go() -> None:
        async with client:
            await client.submit_invoices(organization_id="org", invoices=[_invoice()], idempotency_key="k1")

    with pytest.raises(OutcomeUnknown) as info:
        run(go())
    assert info.value.idempotency_key == "k1"


def test_no_problem_json_is_rejection_with_field_paths() -> None:
    problem = {"type": "about:blank", "title": "Validation failed", "status": 422, "traceId": "abc", "errors": {"invoices[0].dueDate": ["must be after invoiceDate"]}}
    client, _ = no(lambda r: httpx.Response(422, json=problem, headers={"Content-Type": "application/problem+json"}))

    async def go() -> None:
        async with client:
            await client.submit_invoices(organization_id="org", invoices=[_invoice()], idempotency_key="k1")

    with pytest.raises(ApiRejection) as info:
        run(go())
    assert [(i.field, i.message) for i in info.value.issues] == [("invoices[0].dueDate", "must be after invoiceDate")]
    assert "traceId abc" in str(info.value)


def test_no_token_pagination_terminates() -> None:
    items = [{"settlementId": f"s{i}", "settlementDate": "2024-03-01"} for i in range(7)]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["fromDate"] == "2024-03-01"
        size = int(request.url.params["pageSize"])
        offset = int(request.url.params.get("pageToken", "0"))
        chunk = items[offset : offset + size]
        nxt = str(offset + size) if offset + size < len(items) else None
        return json_response(200, {"summary": {"status": "SUCCESS", "nextPageToken": nxt}, "data": chunk})

    client, rec = no(handler)

    async def go() -> list[str]:
        from datetime import date

        async with client:
            return [s.settlement_id async for s in client.iter_settlements(organization_id="o", from_date=date(2024, 3, 1), page_size=3)]

    assert run(go()) == [f"s{i}" for i in range(7)]
    assert rec.count("GET", "/collection/v1/orgs/o/settlements") == 3


def test_no_token_pagination_repeating_token_is_an_error() -> None:
    client, _ = no(lambda r: json_response(200, {"summary": {"nextPageToken": "same"}, "data": [{"batchId": "b"}]}))

    async def go() -> None:
        async with client:
            async for _ in client.iter_batches(organization_id="o"):
                pass

    with pytest.raises(AmiliError, match="does not advance"):
        run(go())
