"""Swedish ADA API (Eve-style) routes."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import time
from typing import Any, Callable

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import JSON, eve_error_response, read_json
from .engine import SE_COLLECTIONS, Engine
from .eve import QueryError, list_response
from .util import rfc1123

READ_COLLECTIONS = tuple(c for c in SE_COLLECTIONS if c != "media--files")  # media is upload-only

MEDIA_DOMAINS = {
    "media--files": None,
    "cases": {"original_invoice", "documents"},
    "invoices": {"original_invoice", "documents"},
    "invoice--registrations": {"original_invoice"},
    "case--registrations": {"original_invoice"},
}
MEDIA_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/bmp"}


def _bad_json() -> JSON:
    return eve_error_response(400, "The browser (or proxy) sent a request that this server could not understand.")


def build_routes(engine: Engine) -> list[Route]:
    cfg = engine.config

    def account_of(request: Request) -> str | None:
        return engine.se_account_for_token(request.headers.get("x-api-key"))

    def unauthorized() -> JSON:
        return eve_error_response(401, "Please provide proper credentials")

    def token_response(account: str) -> JSON:
        with engine.lock:
            token, expires = engine.se_issue_token(account)
        return JSON({"_status": "OK", "token": token, "expires": rfc1123(expires)})

    async def auth_post(request: Request) -> Response:
        body, ok = await read_json(request)
        code = body.get("api_code") if ok and isinstance(body, dict) else None
        account = cfg.sweden.api_codes.get(code) if isinstance(code, str) else None
        if account is None:
            return unauthorized()
        return token_response(account)

    async def auth_get(request: Request) -> Response:
        token = request.headers.get("x-api-key")
        if not token:
            return unauthorized()
        claims: dict[str, Any] | None = None
        keys = cfg.sweden.jwt_public_keys
        opts = {"require": ["exp", "api_code"]}
        if keys:
            for key in keys:
                try:
                    claims = jwt.decode(token, key, algorithms=cfg.sweden.jwt_algorithms, options=opts)
                    break
                except jwt.PyJWTError:
                    continue
        else:
            try:
                header = jwt.get_unverified_header(token)
                if header.get("alg") not in cfg.sweden.jwt_algorithms:
                    raise jwt.InvalidAlgorithmError(header.get("alg"))
                claims = jwt.decode(token, options={**opts, "verify_signature": False, "verify_exp": True})
            except jwt.PyJWTError:
                claims = None
        if not claims:
            return unauthorized()
        account = cfg.sweden.api_codes.get(claims.get("api_code"))
        if account is None:
            return unauthorized()
        return token_response(account)

    def make_list(coll: str) -> Callable:
        async def handler(request: Request) -> Response:
            account = account_of(request)
            if account is None:
                return unauthorized()
            with engine.lock:
                docs = [d for d in engine.db["se"][coll].values() if d.get("account") == account]
                try:
                    body = list_response(docs, request.query_params, path=coll,
                                         default_max=cfg.max_results_default, limit=cfg.max_results_limit)
                except QueryError as exc:
                    return eve_error_response(400, str(exc))
            return JSON(body)

        return handler

    def make_item(coll: str) -> Callable:
        async def handler(request: Request) -> Response:
            account = account_of(request)
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

    def make_post(fn: Callable[[Any, str], tuple[int, dict[str, Any]]]) -> Callable:
        async def handler(request: Request) -> Response:
            account = account_of(request)
            if account is None:
                return unauthorized()
            body, ok = await read_json(request)
            if not ok:
                return _bad_json()
            if isinstance(body, list):
                return _bulk(fn, body, account)
            status, out = fn(body, account)
            headers = {"Location": f"{request.url.path}/{out['_id']}"} if status == 201 else None
            return JSON(out, status_code=status, headers=headers)

        return handler

    def _bulk(fn: Callable, bodies: list[Any], account: str) -> Response:
        """Eve bulk insert (a JSON list): all or nothing. Every document is checked first."""
        with engine.lock:
            checks = [fn(b, account, dry_run=True) for b in bodies]
            bad = sum(1 for status, _ in checks if status != 200)
            if bad or not bodies:
                items = [out if status != 200 else {"_status": "OK"} for status, out in checks]
                return JSON({"_status": "ERR", "_error": {"code": 422, "message": f"Insertion failure: {bad} "
                             "document(s) contain(s) error(s)"}, "_items": items}, status_code=422)
            results = [fn(b, account)[1] for b in bodies]
        return JSON({"_status": "OK", "_items": results}, status_code=201)

    def action(kind: str) -> Callable[..., tuple[int, dict[str, Any]]]:
        def fn(body: Any, account: str, dry_run: bool = False) -> tuple[int, dict[str, Any]]:
            return engine.se_creditor_action(kind, body, account, dry_run=dry_run)

        return fn

    async def respite(request: Request) -> Response:
        account = account_of(request)
        if account is None:
            return unauthorized()
        body, ok = await read_json(request)
        if not ok:
            return _bad_json()
        status, out = engine.se_respite(request.path_params["id"], body, account)
        return JSON(out, status_code=status)

    async def creditor_post(request: Request) -> Response:
        return await make_post(engine.se_create_creditor)(request)

    async def creditor_write(request: Request) -> Response:
        account = account_of(request)
        if account is None:
            return unauthorized()
        delete = request.method == "DELETE"
        body: Any = None
        if not delete:
            body, ok = await read_json(request)
            if not ok:
                return _bad_json()
        status, out = engine.se_patch_creditor(request.path_params["id"], body, account,
                                               request.headers.get("if-match"), delete=delete)
        if status == 204:
            return Response(status_code=204)
        return JSON(out, status_code=status)

    async def media_upload(request: Request) -> Response:
        account = account_of(request)
        if account is None:
            return unauthorized()
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return eve_error_response(400, "File is a required attribute.")
        raw = await request.body()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        fields: dict[str, str] = {}
        file_part = None
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                file_part = part
            elif name:
                fields[name] = part.get_content().strip() if part.get_content_maintype() == "text" else ""
        domain = fields.get("domain") or "media--files"
        if domain not in MEDIA_DOMAINS:
            return eve_error_response(400, f"Domain '{domain}' is not valid.")
        dotted = fields.get("dotted_path")
        if MEDIA_DOMAINS[domain] is not None:
            if not dotted:
                return eve_error_response(400, "Dotted Path Not Found in request form")
            if dotted not in MEDIA_DOMAINS[domain]:
                return eve_error_response(400, "Dotted Path is not valid")
        if file_part is None:
            return eve_error_response(400, "File is a required attribute.")
        if file_part.get_content_type() not in MEDIA_TYPES:
            return eve_error_response(400, "The provided file's content type is not allowed.")
        ref = request.path_params["reference_id"]
        with engine.lock:
            if domain != "media--files":
                doc = engine.db["se"].get(domain, {}).get(ref)
                if doc is None or doc.get("account") != account:
                    return eve_error_response(404, "Resource Document Not Found")
            filename = file_part.get_filename() or "upload"
            content = file_part.get_payload(decode=True) or b""
            now = engine.clock.now()
            media = engine.se_insert("media--files", {
                "account": account, "domain": domain, "dotted_path": dotted, "reference": ref,
                "filename": filename, "content_type": file_part.get_content_type(), "size": len(content),
                "sha1": hashlib.sha1(content).hexdigest(),
            }, now)
            if domain != "media--files" and dotted:
                doc[dotted] = media["_id"]
                engine.se_touch(doc, now)
        sig = hashlib.sha256(f"{media['_id']}:{time.time()}".encode()).hexdigest()
        url = (f"https://storage.googleapis.com/amili-emulator/{domain}/{ref}/{filename}"
               f"?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=3600&X-Goog-Signature={sig}")
        return JSON({"_status": "OK", "url": url}, status_code=201)

    routes = [
        Route("/invoice--registrations", make_post(engine.se_register_invoice), methods=["POST"]),
        Route("/authenticates/api-code", auth_post, methods=["POST"]),
        Route("/authenticates/api-code", auth_get, methods=["GET"]),
        Route("/case--registrations", make_post(engine.se_register_cases), methods=["POST"]),
        Route("/creditor--payments", make_post(action("creditor--payments")), methods=["POST"]),
        Route("/creditor--creditings", make_post(action("creditor--creditings")), methods=["POST"]),
        Route("/creditor--cancellations", make_post(action("creditor--cancellations")), methods=["POST"]),
        Route("/creditors", creditor_post, methods=["POST"]),
        Route("/creditors/{id}", creditor_write, methods=["PATCH", "DELETE"]),
        Route("/cases/{id}/respite", respite, methods=["POST"]),
        Route("/media--upload/{reference_id}", media_upload, methods=["POST"]),
    ]
    for coll in READ_COLLECTIONS:
        routes.append(Route(f"/{coll}", make_list(coll), methods=["GET"]))
        routes.append(Route(f"/{coll}/{{id}}", make_item(coll), methods=["GET"]))
    return routes
