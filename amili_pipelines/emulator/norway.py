"""Norwegian Collection API v1 routes (``/collection/v1``) and the OAuth2 token endpoint (``/token``)."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
import uuid
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import JSON, problem, read_json
from .engine import Engine
from .util import parse_date

PREFIX = "/collection/v1"
ACTIONS = (
    "pause", "resume", "withdraw",
    "accept-debt-collection-list", "reject-debt-collection-list",
    "accept-eviction-request", "reject-eviction-request",
    "accept-eviction-confirmation", "reject-eviction-confirmation",
)


def _q(request: Request) -> dict[str, str]:
    """Query parameters, case-insensitive (ASP.NET binds them that way)."""
    return {k.lower(): v for k, v in request.query_params.items()}


def _page(items: list[dict[str, Any]], q: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
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
    page = items[start:start + size]
    nxt = None
    if start + size < len(items):
        nxt = base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode().rstrip("=")
    return page, nxt


def _date_filter(value: str | None, name: str) -> Any:
    if not value:
        return None
    d = parse_date(value)
    if d is None:
        raise ValueError(f"{name} is not a valid date")
    return d


def build_routes(engine: Engine) -> list[Route]:
    cfg = engine.config

    def client_secret_ok(client_id: str | None, secret: str | None) -> bool:
        return any(c.client_id == client_id and c.client_secret == secret for c in cfg.norway.clients)

    async def token(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
                form.setdefault("client_id", urllib.parse.unquote(cid))
                form.setdefault("client_secret", urllib.parse.unquote(sec))
            except (binascii.Error, UnicodeDecodeError):
                pass
        if form.get("grant_type") != "client_credentials":
            return JSON({"error": "unsupported_grant_type",
                         "error_description": "grant_type must be client_credentials"}, status_code=400)
        if not client_secret_ok(form.get("client_id"), form.get("client_secret")):
            return JSON({"error": "invalid_client", "error_description": "Client authentication failed."},
                        status_code=401)
        with engine.lock:
            access, nbf, exp = engine.no_issue_token(form["client_id"])
        return JSON({
            "access_token": access,
            "token_type": "Bearer",
            "not_before": nbf,
            "expires_in": int(cfg.norway.token_ttl_seconds),
            "expires_on": exp,
            "resource": str(uuid.uuid5(uuid.NAMESPACE_URL, "amili-collection-api")),
        })

    def authorize(request: Request, org: str | None) -> tuple[str | None, Response | None]:
        auth = request.headers.get("authorization", "")
        tok = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        client_id = engine.no_client_for_token(tok)
        if client_id is None:
            return None, problem(401, "A valid bearer token is required.",
                                 headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if org is not None:
            if engine.no_org(org) is None:
                return None, problem(404, f"Organization '{org}' was not found.")
            client = next(c for c in cfg.norway.clients if c.client_id == client_id)
            if org not in client.organizations:
                return None, problem(403, f"Client is not allowed to access organization '{org}'.")
        return client_id, None

    def base_url(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{PREFIX}"

    def make_create(kind: str, key: str) -> Callable:
        async def handler(request: Request) -> Response:
            org = request.path_params["org"]
            client_id, err = authorize(request, org)
            if err:
                return err
            body, ok = await read_json(request)
            if not ok:
                return problem(400, "The request body is not valid JSON.", errors={"$": ["Invalid JSON."]})
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                return problem(400, "One or more validation errors occurred.",
                               errors={key: [f"The {key} field is required."]})
            if not body[key]:
                return problem(400, "One or more validation errors occurred.",
                               errors={key: [f"At least one item is required in {key}."]})
            ref = engine.no_create_batch(org, client_id, kind, body[key], request.headers.get("idempotencykey"),
                                         base_url(request))
            return JSON({"summary": {"status": "SUCCESS"}, "data": ref}, status_code=202)

        return handler

    def list_handler(coll: str, filt: Callable[[dict[str, Any], dict[str, str]], bool],
                     sort_key: str = "createdAt") -> Callable:
        async def handler(request: Request) -> Response:
            org = request.path_params["org"]
            _, err = authorize(request, org)
            if err:
                return err
            q = _q(request)
            with engine.lock:
                engine.process()
                try:
                    org_field = "organizationId"
                    docs = [d for d in engine.db["no"][coll].values()
                            if (d.get(org_field) or d.get("organization", {}).get("id")) == org and filt(d, q)]
                    if q.get("sortdirection", "").upper() == "DESC":
                        docs = list(reversed(docs))
                    page, nxt = _page(docs, q)
                except ValueError as exc:
                    return problem(400, str(exc), errors={"query": [str(exc)]})
            summary: dict[str, Any] = {"status": "SUCCESS"}
            if nxt:
                summary["nextPageToken"] = nxt
            return JSON({"summary": summary, "data": page})

        return handler

    def _eq(d: dict[str, Any], q: dict[str, str], param: str, field: str) -> bool:
        v = q.get(param)
        return v is None or v == "" or str(d.get(field)) == v

    def _range(d: dict[str, Any], q: dict[str, str], lo: str, hi: str, field: str) -> bool:
        a = _date_filter(q.get(lo), lo)
        b = _date_filter(q.get(hi), hi)
        if a is None and b is None:
            return True
        v = parse_date(d.get(field) or "")
        if v is None:
            return False
        return (a is None or v >= a) and (b is None or v <= b)

    def invoice_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
        return (_eq(d, q, "status", "status") and _eq(d, q, "type", "type")
                and _eq(d, q, "invoicenumber", "invoiceNumber")
                and _eq(d, q, "uniquesourceinvoiceid", "uniqueSourceInvoiceId")
                and _eq(d, q, "customernumber", "customerNumber")
                and _range(d, q, "from", "to", "createdAt"))

    def case_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
        usid = q.get("uniquesourceinvoiceid")
        if usid and not any(i.get("uniqueSourceInvoiceId") == usid for i in d["invoices"]):
            return False
        term = (q.get("searchterm") or "").lower()
        if term:
            hay = " ".join(str(x) for x in (
                d.get("caseNumber"), d.get("description"), d.get("customerNumber"),
                *(i.get("invoiceNumber") for i in d["invoices"]),
                *(x.get("fullName") for x in d["debtors"]),
            )).lower()
            if term not in hay:
                return False
        return (_eq(d, q, "status", "status") and _eq(d, q, "type", "type")
                and _eq(d, q, "casenumber", "caseNumber") and _eq(d, q, "customernumber", "customerNumber")
                and _range(d, q, "fromcreatedat", "tocreatedat", "createdAt"))

    def batch_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
        subject = q.get("subjectid")
        if subject and not any(subject in (s.get("invoiceId"), s.get("caseId")) for s in d["succeeded"]):
            return False
        return (_eq(d, q, "state", "status") and _eq(d, q, "status", "status") and _eq(d, q, "type", "type")
                and _eq(d, q, "idempotencykey", "idempotencyKey"))

    def settlement_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
        a, b = q.get("fromdate"), q.get("todate")
        if a and _date_filter(a, "fromDate") and d["settlementDate"] < a[:10]:
            return False
        if b and _date_filter(b, "toDate") and d["settlementDate"] > b[:10]:
            return False
        return True

    def one(coll: str, id_field: str, legacy: bool = False) -> Callable:
        async def handler(request: Request) -> Response:
            org = None if legacy else request.path_params["org"]
            client_id, err = authorize(request, org)
            if err:
                return err
            with engine.lock:
                engine.process()
                doc = engine.db["no"][coll].get(request.path_params["id"])
                doc_org = doc and (doc.get("organizationId") or doc.get("organization", {}).get("id"))
                if legacy and doc is not None:
                    client = next(c for c in cfg.norway.clients if c.client_id == client_id)
                    if doc_org not in client.organizations:
                        doc = None
                if doc is None or (org is not None and doc_org != org):
                    return problem(404, f"{id_field} '{request.path_params['id']}' was not found.")
                return JSON({"summary": {"status": "SUCCESS"}, "data": doc})

        return handler

    def action(name: str, by_invoice: bool = False) -> Callable:
        async def handler(request: Request) -> Response:
            org = request.path_params["org"]
            _, err = authorize(request, org)
            if err:
                return err
            status, detail = engine.no_case_action(org, request.path_params["id"], name, by_invoice=by_invoice)
            if status == 202:
                return Response(status_code=202)
            return problem(status, detail)

        return handler

    p = PREFIX + "/orgs/{org}"
    routes = [
        Route("/token", token, methods=["POST"]),
        Route(f"{p}/invoices", make_create("INVOICE", "invoices"), methods=["POST"]),
        Route(f"{p}/payments", make_create("PAYMENT", "payments"), methods=["POST"]),
        Route(f"{p}/corrections", make_create("CORRECTION", "corrections"), methods=["POST"]),
        Route(f"{p}/invoices", list_handler("invoices", invoice_filter), methods=["GET"]),
        Route(f"{p}/invoices/{{id}}", one("invoices", "Invoice"), methods=["GET"]),
        Route(f"{p}/cases", list_handler("cases", case_filter), methods=["GET"]),
        Route(f"{p}/cases/{{id}}", one("cases", "Case"), methods=["GET"]),
        Route(f"{p}/batches", list_handler("batches", batch_filter), methods=["GET"]),
        Route(f"{p}/batches/{{id}}", one("batches", "Batch"), methods=["GET"]),
        Route(f"{PREFIX}/batches/{{id}}", one("batches", "Batch", legacy=True), methods=["GET"]),
        Route(f"{p}/settlements", list_handler("settlements", settlement_filter), methods=["GET"]),
        Route(f"{p}/settlements/{{id}}", one("settlements", "Settlement"), methods=["GET"]),
    ]
    for name in ACTIONS:
        routes.append(Route(f"{p}/cases/{{id}}/{name}", action(name), methods=["POST"]))
    for name in ("pause", "resume", "withdraw"):
        routes.append(Route(f"{p}/invoices/{{id}}/{name}", action(name, by_invoice=True), methods=["POST"]))
    return routes
