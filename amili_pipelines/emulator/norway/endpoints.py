"""The Norwegian API's HTTP plumbing, shared by the resource modules: the ``{summary, data}`` envelope,
cursor paging, query filters and the generic list and item handlers (reference B.2).

Query names are matched case-insensitively, as ASP.NET binds them. ``PageToken`` is an opaque cursor
(base64 of an offset), ``PageSize`` 1..1000 (default 25); ``summary.nextPageToken`` is absent on the last
page. Reads run due work first, so a batch whose delay has passed is finished before it is read.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..dates import parse_date
from ..problems import problem
from ..responses import JSON
from .auth import authorize, client_organizations

PREFIX = "/collection/v1"
ORG_PREFIX = PREFIX + "/orgs/{org}"

Filter = Callable[[dict[str, Any], dict[str, str]], bool]


def query(request: Request) -> dict[str, str]:
    """Query parameters, case-insensitive (ASP.NET binds them that way)."""
    return {k.lower(): v for k, v in request.query_params.items()}


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{PREFIX}"


def page(items: list[dict[str, Any]], q: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
    token = q.get("pagetoken")
    size_raw = q.get("pagesize")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode() + b"==").decode().split(":", 1)[1])
        except (ValueError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("PageToken is not valid") from exc
    try:
        size = int(size_raw) if size_raw else 25
    except ValueError as exc:
        raise ValueError("PageSize must be an integer") from exc
    if size < 1 or size > 1000:
        raise ValueError("PageSize must be between 1 and 1000")
    items_page = items[start:start + size]
    nxt = None
    if start + size < len(items):
        nxt = base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode().rstrip("=")
    return items_page, nxt


def date_filter(value: str | None, name: str) -> Any:
    if not value:
        return None
    d = parse_date(value)
    if d is None:
        raise ValueError(f"{name} is not a valid date")
    return d


def equals(d: dict[str, Any], q: dict[str, str], param: str, field: str) -> bool:
    """An exact-match filter; an absent or empty parameter matches everything."""
    v = q.get(param)
    return v is None or v == "" or str(d.get(field)) == v


def in_date_range(d: dict[str, Any], q: dict[str, str], lo: str, hi: str, field: str) -> bool:
    a = date_filter(q.get(lo), lo)
    b = date_filter(q.get(hi), hi)
    if a is None and b is None:
        return True
    v = parse_date(d.get(field) or "")
    if v is None:
        return False
    return (a is None or v >= a) and (b is None or v <= b)


def owner_of(doc: dict[str, Any]) -> str | None:
    """The organization a document belongs to (invoices nest it, everything else has ``organizationId``)."""
    return doc.get("organizationId") or doc.get("organization", {}).get("id")


def list_handler(engine: Any, coll: str, filt: Filter) -> Callable:
    async def handler(request: Request) -> Response:
        org = request.path_params["org"]
        _, err = authorize(engine, request, org)
        if err:
            return err
        q = query(request)
        with engine.lock:
            engine.process()
            try:
                docs = [d for d in engine.db["no"][coll].values() if owner_of(d) == org and filt(d, q)]
                if q.get("sortdirection", "").upper() == "DESC":
                    docs = list(reversed(docs))
                items, nxt = page(docs, q)
            except ValueError as exc:
                return problem(400, str(exc), errors={"query": [str(exc)]})
        summary: dict[str, Any] = {"status": "SUCCESS"}
        if nxt:
            summary["nextPageToken"] = nxt
        return JSON({"summary": summary, "data": items})

    return handler


def item_handler(engine: Any, coll: str, id_field: str, legacy: bool = False) -> Callable:
    """One document; ``legacy``: the org-less path (``/batches/{id}``), limited to the client's orgs."""
    async def handler(request: Request) -> Response:
        org = None if legacy else request.path_params["org"]
        client_id, err = authorize(engine, request, org)
        if err:
            return err
        with engine.lock:
            engine.process()
            doc = engine.db["no"][coll].get(request.path_params["id"])
            doc_org = doc and owner_of(doc)
            if legacy and doc is not None and doc_org not in client_organizations(engine, client_id):
                doc = None
            if doc is None or (org is not None and doc_org != org):
                return problem(404, f"{id_field} '{request.path_params['id']}' was not found.")
            return JSON({"summary": {"status": "SUCCESS"}, "data": doc})

    return handler
