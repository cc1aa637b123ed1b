"""Paging and id contracts against stub servers that follow the reference (A.3 Eve paging, B.2, F.3).

* Sweden: a listing sorted by ``_updated,_id`` is paged by position (keyset), so an item updated
  while we page (F.1.12: a payout set on a line later; A.11 cascades) cannot shift the next page
  past an unread item.
* Norway: only an absent or empty ``nextPageToken`` ends a listing, not an empty page.
* Ids sent as JSON numbers are read as their text; one such item does not abort the read.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import AmiliError
from amili_pipelines.amili.fields import format_rfc1123
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient

CREDITOR = "674dbeb208847b9501cc9138"
ORG = "org-1"
T0 = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)

# -- an Eve stub: where ($and/$or, $gt/$gte/$lt/$lte, equality), sort, page, max_results ----------


def _val(value: Any) -> Any:
    if isinstance(value, str) and value.endswith(" GMT"):
        return parsedate_to_datetime(value)
    return value


def _match(doc: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, cond in where.items():
        if key == "$or":
            if not any(_match(doc, c) for c in cond):
                return False
        elif key == "$and":
            if not all(_match(doc, c) for c in cond):
                return False
        elif isinstance(cond, dict):
            have = _val(doc.get(key))
            for op, arg in cond.items():
                want = _val(arg)
                if have is None or type(have) is not type(want):
                    return False
                if not {"$gt": have > want, "$gte": have >= want, "$lt": have < want, "$lte": have <= want}[op]:
                    return False
        elif _val(doc.get(key)) != _val(cond):
            return False
    return True


def _sort_key(value: Any) -> tuple[bool, str, Any]:
    """Mongo-like: missing first, then grouped by type (numbers before strings)."""
    value = _val(value)
    return (value is not None, type(value).__name__, value)


class EveStub:
    def __init__(self, docs: list[dict[str, Any]], *, max_limit: int = 100) -> None:
        self.docs = {d["_id"]: d for d in docs}
        self.max_limit = max_limit
        self.after_page: Callable[[int], None] | None = None  # runs after each list page is served
        self.wheres: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(200, json={"token": "t", "expires": format_rfc1123(datetime.now(UTC) + timedelta(hours=1))})
        params = request.url.params
        where = json.loads(params.get("where", "{}"))  # must be valid JSON
        self.wheres.append(where)
        page, size = int(params.get("page", 1)), min(int(params.get("max_results", 25)), self.max_limit)
        docs = [d for d in self.docs.values() if _match(d, where)]
        for key in reversed([k.strip() for k in params.get("sort", "").split(",") if k.strip()]):
            docs.sort(key=lambda d, k=key.lstrip("-"): _sort_key(d.get(k)), reverse=key.startswith("-"))
        items = [dict(d) for d in docs[(page - 1) * size: page * size]]
        response = httpx.Response(200, json={"_items": items, "_meta": {"page": page, "max_results": size, "total": len(docs)}})
        if self.after_page is not None:
            self.after_page(page)
        return response


def se_client(handler: Callable[[httpx.Request], httpx.Response]) -> AmiliSeClient:
    return AmiliSeClient(base_url="http://se.test", api_code=SecretStr("c"), transport=httpx.MockTransport(handler),
                         requests_per_second=1000, max_retries=0)


def spec(i: int, updated: datetime, **extra: Any) -> dict[str, Any]:
    return {"_id": f"aa{i:022x}", "_updated": format_rfc1123(updated), "creditor": CREDITOR, "amount": 100 + i,
            "payout": None, "case": f"cc{i:022x}", **extra}


def read_changed(stub: EveStub, kind: str, **kw: Any) -> list[Any]:
    async def go() -> list[Any]:
        async with se_client(stub.handler) as se:
            return [x async for x in se.iter_changed(kind, creditor=CREDITOR, **kw)]  # type: ignore[arg-type]

    return asyncio.run(go())


def update_once(stub: EveStub, doc_id: str, **fields: Any) -> None:
    """After the first page is served, Amili updates one document that page held (it moves to the end)."""
    def hook(page: int) -> None:
        if stub.after_page is hook:
            stub.after_page = None
            stub.docs[doc_id].update(fields)

    stub.after_page = hook


# -- 1. Sweden: an item updated while we page never makes us skip one ---------------------------


@pytest.mark.parametrize("kind", ["payout_specifications", "cases", "payouts"])
@pytest.mark.parametrize("start", ["all", "since", "since_after_id"])
def test_se_item_updated_between_pages_skips_nothing(kind: str, start: str) -> None:
    stub = EveStub([spec(i, T0 + timedelta(seconds=i)) for i in range(150)])
    first = f"aa{0:022x}"
    # F.1.12: line 0 is scheduled into a payout right after our first page: its _updated moves past all others.
    update_once(stub, first, payout="pp" + "0" * 22, _updated=format_rfc1123(T0 + timedelta(seconds=300)))
    kw: dict[str, Any] = {}
    if start != "all":
        kw["since"] = T0 - timedelta(seconds=1)
    if start == "since_after_id":
        kw["after_id"] = "0" * 24

    got = read_changed(stub, kind, page_size=100)

    counts = Counter(x.id for x in got)
    assert set(counts) == set(stub.docs), f"skipped: {sorted(set(stub.docs) - set(counts))}"
    assert all(n == 1 for doc_id, n in counts.items() if doc_id != first)  # nothing unchanged read twice
    # The updated item: read once before its change, and (being newer) once more at the end, never lost.
    assert counts[first] <= 2 and got[-1].id == first and got[-1].updated == T0 + timedelta(seconds=300)
    # Keyset: every later page is page 1 of "after the last item read", not page 2.
    assert len(stub.wheres) >= 2 and all("$or" in w for w in stub.wheres[1:])


def test_se_page_boundary_inside_one_second_reads_each_item_once() -> None:
    """A nightly job touches 250 objects in one second: the id breaks the tie across pages."""
    stub = EveStub([spec(i, T0) for i in range(250)])
    got = read_changed(stub, "cases", since=T0 - timedelta(seconds=1), page_size=100)
    assert Counter(x.id for x in got) == Counter(list(stub.docs))
    assert len(stub.wheres) == 3


def test_se_case_closure_on_page_two_is_not_lost() -> None:
    """The reviewer's cases scenario: case 0 is touched after page 1; case 100 (closed) must be read."""
    stub = EveStub([spec(i, T0 + timedelta(seconds=i), closed=None) for i in range(150)])
    stub.docs[f"aa{100:022x}"]["closed"] = {"date": format_rfc1123(T0), "reason": "paid"}
    update_once(stub, f"aa{0:022x}", _updated=format_rfc1123(T0 + timedelta(minutes=10)))
    got = read_changed(stub, "cases", since=T0 - timedelta(seconds=1))
    closed = [c for c in got if c.id == f"aa{100:022x}"]
    assert len(closed) == 1 and closed[0].is_closed and closed[0].closed_reason == "paid"


def test_se_keyset_where_is_valid_eve_json() -> None:
    """The caller's filter and the position: one flat object when keys differ, ``$and`` when they collide."""
    from amili_pipelines.amili.se.client import _and_where

    after = {"$or": [{"_updated": {"$gt": "x"}}]}
    assert _and_where({"creditor": CREDITOR}, after) == {"creditor": CREDITOR, **after}
    both = _and_where({"creditor": CREDITOR, "$or": [{"a": 1}, {"b": 2}]}, after)
    assert both == {"$and": [{"creditor": CREDITOR, "$or": [{"a": 1}, {"b": 2}]}, after]}
    json.loads(json.dumps(both))
    doc = {"creditor": CREDITOR, "a": 1, "_updated": "x"}
    assert not _match(doc, both)  # the stub applies $and: a (b) and the position (not after "x")


def test_se_item_without_updated_falls_back_to_page_numbers() -> None:
    stub = EveStub([{"_id": f"aa{i:022x}", "creditor": CREDITOR} for i in range(150)])
    got = read_changed(stub, "payouts")
    assert Counter(x.id for x in got) == Counter(list(stub.docs))


def test_se_server_ignoring_where_cannot_loop() -> None:
    items = [spec(i, T0 + timedelta(seconds=i)) for i in range(100)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(200, json={"token": "t"})
        return httpx.Response(200, json={"_items": items, "_meta": {"max_results": 100}})

    async def go() -> None:
        async with se_client(handler) as se:
            async for _ in se.iter_changed("cases", creditor=CREDITOR):
                pass

    with pytest.raises(AmiliError, match="does not advance"):
        asyncio.run(go())


# -- 2. Norway: an empty page that carries a token does not end the listing ------------------------


def no_client(handler: Callable[[httpx.Request], httpx.Response]) -> AmiliNoClient:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        return handler(request)

    return AmiliNoClient(base_url="http://no.test/collection/v1", auth_url="http://no.test/token", client_id="c",
                         client_secret=SecretStr("s"), transport=httpx.MockTransport(route), requests_per_second=1000,
                         max_retries=0)


def settlement(sid: Any) -> dict[str, Any]:
    return {"settlementId": sid, "settlementDate": "2026-05-01", "currency": "NOK", "payoutAmount": 10}


def filtered_pages(pages: dict[str | None, tuple[list[Any], str | None]], token_param: str) -> Any:
    """A cursor server that filters after paging: a page may be empty and still name the next one."""
    def handler(request: httpx.Request) -> httpx.Response:
        data, nxt = pages[request.url.params.get(token_param)]
        return httpx.Response(200, json={"summary": {"status": "SUCCESS", "nextPageToken": nxt}, "data": data})

    return handler


def read_settlements(handler: Any) -> list[Any]:
    async def go() -> list[Any]:
        async with no_client(handler) as no:
            return [s async for s in no.iter_settlements(organization_id=ORG)]

    return asyncio.run(go())


def test_no_empty_page_with_token_does_not_end_the_listing() -> None:
    pages = {None: ([settlement("e0"), settlement("e1")], "p2"), "p2": ([], "p3"),
             "p3": ([settlement(f"e{i}") for i in range(2, 6)], None)}
    got = read_settlements(filtered_pages(pages, "pageToken"))
    assert Counter(s.settlement_id for s in got) == Counter(f"e{i}" for i in range(6))


def test_no_empty_first_pages_then_items_on_cases() -> None:
    pages = {None: ([], "a"), "a": ([], "b"), "b": ([{"caseId": "c1"}, {"caseId": "c2"}], "")}

    async def go() -> list[str]:
        async with no_client(filtered_pages(pages, "PageToken")) as no:
            return [c.case_id async for c in no.iter_cases(organization_id=ORG)]

    assert asyncio.run(go()) == ["c1", "c2"]


def test_no_empty_pages_repeating_a_token_cannot_loop() -> None:
    handler = filtered_pages({None: ([], "same"), "same": ([], "same")}, "pageToken")
    with pytest.raises(AmiliError, match="does not advance"):
        read_settlements(handler)


# -- 3. Ids sent as JSON numbers ---------------------------------------------------------------


def test_no_numeric_ids_do_not_abort_the_read() -> None:
    pages = {None: ([settlement("s-ok"), settlement(4711), {"id": 4712.0, "customerReference": 99}], None)}
    got = read_settlements(filtered_pages(pages, "pageToken"))
    assert [s.settlement_id for s in got] == ["s-ok", "4711", "4712"] and got[2].customer_reference == "99"

    case = {"caseId": 12345, "organizationId": 7, "invoices": [987, {"invoiceId": 654, "batchId": 3}],
            "debtors": [{"debtorId": 1, "customerNumber": 42}]}

    async def go() -> list[Any]:
        async with no_client(filtered_pages({None: ([case], None)}, "PageToken")) as no:
            return [c async for c in no.iter_cases(organization_id=ORG)]

    (c,) = asyncio.run(go())
    assert (c.case_id, c.organization_id, c.debtors[0].customer_number) == ("12345", "7", "42")
    assert c.invoices[0] == "987" and c.invoices[1].invoice_id == "654"  # type: ignore[union-attr]


def test_se_numeric_ids_do_not_abort_the_read() -> None:
    docs = [spec(i, T0 + timedelta(seconds=i)) for i in range(3)]
    docs[1]["_id"] = 4711
    stub = EveStub(docs)
    got = read_changed(stub, "payout_specifications")
    assert [x.id for x in got] == [docs[0]["_id"], "4711", docs[2]["_id"]]

    case = {"_id": 4712, "_updated": format_rfc1123(T0), "creditor": CREDITOR, "customer": 5, "reference_number": 5001,
            "invoice_registration": 77, "debt": {"invoice_number": 1001, "debt_reference": 8}}
    (c,) = read_changed(EveStub([case]), "cases")
    assert (c.id, c.customer, c.reference_number, c.invoice_registration) == ("4712", "5", "5001", "77")
    assert c.debt is not None and (c.debt.invoice_number, c.debt.debt_reference) == ("1001", "8")


def test_se_numeric_ids_keep_keyset_paging_going() -> None:
    """Numeric ``_id``s across a page boundary: the position is sent back as the number it was."""
    stub = EveStub([{"_id": i, "_updated": format_rfc1123(T0), "creditor": CREDITOR} for i in range(1, 151)])
    got = read_changed(stub, "payouts", page_size=100)
    assert [x.id for x in got] == [str(i) for i in range(1, 151)]
