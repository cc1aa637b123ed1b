"""Swedish login: ``POST``/``GET /authenticates/api-code`` and the opaque ``X-API-Key`` tokens they issue.

``POST`` takes ``{"api_code"}``; ``GET`` takes a JWT carrying ``api_code`` and ``exp`` in ``X-API-Key``,
checked against ``sweden.jwt_public_keys`` (with none configured, any well-formed unexpired JWT with a
known code passes). Tokens live on the wall clock, and ``faults.token_actual_ttl_seconds`` can make
them die before the lifetime they announce, to exercise client re-login (reference F.1.1).
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import SwedenConfig
from ..dates import UTC, rfc1123
from ..responses import JSON, read_json
from ..state import EmulatorState
from .endpoints import json_payload, unauthorized


def issue_token(state: EmulatorState, account: str) -> tuple[str, datetime]:
    """A new token for ``account`` and the expiry it announces."""
    token = secrets.token_urlsafe(24)
    ttl = state.config.sweden.token_ttl_seconds
    announced = datetime.fromtimestamp(time.time() + ttl, UTC)
    actual = state.config.faults.token_actual_ttl_seconds
    real_expiry = time.time() + (min(actual, ttl) if actual is not None else ttl)
    state.se_tokens[token] = (account, real_expiry)
    return token, announced


def account_for_token(state: EmulatorState, token: str | None) -> str | None:
    if not token:
        return None
    entry = state.se_tokens.get(token)
    if entry is None:
        return None
    if time.time() >= entry[1]:
        state.se_tokens.pop(token, None)
        return None
    return entry[0]


def jwt_claims(cfg: SwedenConfig, token: str) -> dict[str, Any] | None:
    """The claims of a login JWT, or None when it does not verify (or lacks ``exp``/``api_code``)."""
    opts = {"require": ["exp", "api_code"]}
    if cfg.jwt_public_keys:
        for key in cfg.jwt_public_keys:
            try:
                return jwt.decode(token, key, algorithms=cfg.jwt_algorithms, options=opts)
            except jwt.PyJWTError:
                continue
        return None
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in cfg.jwt_algorithms:
            raise jwt.InvalidAlgorithmError(header.get("alg"))
        return jwt.decode(token, options={**opts, "verify_signature": False, "verify_exp": True})
    except jwt.PyJWTError:
        return None


def routes(engine: Any) -> list[Route]:
    cfg = engine.config

    def token_response(account: str) -> JSON:
        # through the engine, not issue_token(): tests wrap engine.se_issue_token to see every token
        with engine.lock:
            token, expires = engine.se_issue_token(account)
        return JSON({"_status": "OK", "token": token, "expires": rfc1123(expires)})

    async def login_with_api_code(request: Request) -> Response:
        if not json_payload(request):
            # A.2: the code is POSTed as JSON (Content-Type: application/json). A body declared as
            # anything else is not read, so the code is missing: 401, as F.1.2 says for a missing code.
            return unauthorized()
        body, ok = await read_json(request)
        code = body.get("api_code") if ok and isinstance(body, dict) else None
        account = cfg.sweden.api_codes.get(code) if isinstance(code, str) else None
        if account is None:
            return unauthorized()
        return token_response(account)

    async def login_with_jwt(request: Request) -> Response:
        token = request.headers.get("x-api-key")
        if not token:
            return unauthorized()
        claims = jwt_claims(cfg.sweden, token)
        if not claims:
            return unauthorized()
        account = cfg.sweden.api_codes.get(claims.get("api_code"))
        if account is None:
            return unauthorized()
        return token_response(account)

    return [
        Route("/authenticates/api-code", login_with_api_code, methods=["POST"]),
        Route("/authenticates/api-code", login_with_jwt, methods=["GET"]),
    ]
