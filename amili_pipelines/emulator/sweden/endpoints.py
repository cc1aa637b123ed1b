"""The Swedish API's HTTP plumbing, shared by every resource module: the ``X-API-Key`` check and
Eve's list, item and POST (including bulk insert) handlers.

Every Swedish document belongs to an account; a token only ever sees its own account's documents, so a
foreign id answers 404 exactly like a missing one.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..eve import QueryError, eve_error_response, list_response
from ..responses import JSON, read_json
from ..state import SE_COLLECTIONS

READ_COLLECTIONS = tuple(c for c in SE_COLLECTIONS if c != "media--files")  # media is upload-only

# A document write: (body, account, dry_run=False) -> (status, response body). ``dry_run`` validates only,
# answering 200 when the document would be accepted (used by bulk inserts).
Writer = Callable[..., tuple[int, dict[str, Any]]]


def account_of(engine: Any, request: Request) -> str | None:
    return engine.se_account_for_token(request.headers.get("x-api-key"))


def unauthorized() -> JSON:
    return eve_error_response(401, "Please provide proper credentials")


def bad_json() -> JSON:
    return eve_error_response(400, "The browser (or proxy) sent a request that this server could not understand.")


def json_payload(request: Request) -> bool:
    """The body is declared JSON. Every Swedish write is documented with ``Content-Type: application/json``
    (A.2, seed invoice-registration page); Eve reads the body by its declared type and refuses anything
    else (``Unknown or no payload format``) rather than guessing."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


def unknown_payload(request: Request) -> JSON:
    declared = request.headers.get("content-type", "").split(";")[0].strip()
    return eve_error_response(400, f"Unknown or no payload format: '{declared}'")


def post_handler(engine: Any, write: Writer) -> Callable:
    """POST a document (201 + ``Location``) or a JSON list of them (Eve bulk insert)."""
    async def handler(request: Request) -> Response:
        account = account_of(engine, request)
        if account is None:
            return unauthorized()
        if not json_payload(request):
            return unknown_payload(request)
        body, ok = await read_json(request)
        if not ok:
            return bad_json()
        if isinstance(body, list):
            return bulk_insert(engine, write, body, account)
        status, out = write(body, account)
        headers = {"Location": f"{request.url.path}/{out['_id']}"} if status == 201 else None
        return JSON(out, status_code=status, headers=headers)

    return handler


def bulk_insert(engine: Any, write: Writer, bodies: list[Any], account: str) -> Response:
    """Eve bulk insert (a JSON list): all or nothing. Every document is checked first."""
    with engine.lock:
        checks = [write(b, account, dry_run=True) for b in bodies]
        bad = sum(1 for status, _ in checks if status != 200)
        if bad or not bodies:
            items = [out if status != 200 else {"_status": "OK"} for status, out in checks]
            return JSON({"_status": "ERR", "_error": {"code": 422, "message": f"Insertion failure: {bad} "
                         "document(s) contain(s) error(s)"}, "_items": items}, status_code=422)
        results = [write(b, account)[1] for b in bodies]
    return JSON({"_status": "OK", "_items": results}, status_code=201)


def list_handler(engine: Any, coll: str) -> Callable:
    async def handler(request: Request) -> Response:
        account = account_of(engine, request)
        if account is None:
            return unauthorized()
        cfg = engine.config
        with engine.lock:
            docs = [d for d in engine.db["se"][coll].values() if d.get("account") == account]
            try:
                body = list_response(docs, request.query_params, path=coll,
                                     default_max=cfg.max_results_default, limit=cfg.max_results_limit)
            except QueryError as exc:
                return eve_error_response(400, str(exc))
        return JSON(body)

    return handler


def item_handler(engine: Any, coll: str) -> Callable:
    """One document, with ``ETag``/``Last-Modified`` and 304 on a matching ``If-None-Match``."""
    async def handler(request: Request) -> Response:
        account = account_of(engine, request)
        if account is None:
            return unauthorized()
        doc = engine.db["se"][coll].get(request.path_params["id"])
        if doc is None or doc.get("account") != account:
            return eve_error_response(404)
        inm = request.headers.get("if-none-match")
        if inm and inm.strip('"') == doc["_etag"]:
            return Response(status_code=304)
        return JSON(doc, headers={"ETag": f'"{doc["_etag"]}"', "Last-Modified": doc["_updated"]})

    return handler


def read_routes(engine: Any) -> list[Route]:
    """``GET /{collection}`` and ``GET /{collection}/{id}`` for every readable collection."""
    routes = []
    for coll in READ_COLLECTIONS:
        routes.append(Route(f"/{coll}", list_handler(engine, coll), methods=["GET"]))
        routes.append(Route(f"/{coll}/{{id}}", item_handler(engine, coll), methods=["GET"]))
    return routes
