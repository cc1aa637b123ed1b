"""Norwegian access: the OAuth2 client-credentials token endpoint (``POST /token``, reference B.1) and
the bearer/organization check every ``/collection/v1`` call makes.

The token answer has the Azure AD v1 shape the documentation shows. A client may act only for the
organizations configured for it: an unknown organization is 404, someone else's 403. Scopes are not
checked (F.2.11). Tokens live on the wall clock; ``faults.token_actual_ttl_seconds`` can kill them early.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import urllib.parse
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..problems import problem
from ..responses import JSON
from ..state import EmulatorState

TOKEN_RESOURCE = str(uuid.uuid5(uuid.NAMESPACE_URL, "amili-collection-api"))


def issue_token(state: EmulatorState, client_id: str) -> tuple[str, int, int]:
    """(access token, not_before, expires_on); the token looks like a JWT but is opaque."""
    token = "eyJ" + secrets.token_urlsafe(40)
    ttl = state.config.norway.token_ttl_seconds
    now = time.time()
    actual = state.config.faults.token_actual_ttl_seconds
    real_expiry = now + (min(actual, ttl) if actual is not None else ttl)
    state.no_tokens[token] = (client_id, real_expiry)
    return token, int(now), int(now + ttl)


def client_for_token(state: EmulatorState, token: str | None) -> str | None:
    if not token:
        return None
    entry = state.no_tokens.get(token)
    if entry is None:
        return None
    if time.time() >= entry[1]:
        state.no_tokens.pop(token, None)
        return None
    return entry[0]


def organization(state: EmulatorState, org: str) -> dict[str, Any] | None:
    """The configured organization (creditor) with this id."""
    for o in state.config.norway.organizations:
        if o.id == org:
            return o.model_dump()
    return None


def client_organizations(state: EmulatorState, client_id: str) -> list[str]:
    return next(c for c in state.config.norway.clients if c.client_id == client_id).organizations


def authorize(engine: Any, request: Request, org: str | None) -> tuple[str | None, Response | None]:
    """(client id, None) when the bearer token is valid and may act for ``org``; else (None, problem)."""
    auth = request.headers.get("authorization", "")
    tok = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    client_id = engine.no_client_for_token(tok)
    if client_id is None:
        return None, problem(401, "A valid bearer token is required.",
                             headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if org is not None:
        if engine.no_org(org) is None:
            return None, problem(404, f"Organization '{org}' was not found.")
        if org not in client_organizations(engine, client_id):
            return None, problem(403, f"Client is not allowed to access organization '{org}'.")
    return client_id, None


def _token_form(raw: str, authorization: str) -> dict[str, str]:
    """The form fields, with HTTP Basic credentials filling in a missing client id/secret."""
    form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
    if authorization.lower().startswith("basic "):
        try:
            cid, _, sec = base64.b64decode(authorization[6:]).decode().partition(":")
            form.setdefault("client_id", urllib.parse.unquote(cid))
            form.setdefault("client_secret", urllib.parse.unquote(sec))
        except (binascii.Error, UnicodeDecodeError):
            pass
    return form


def routes(engine: Any) -> list[Route]:
    cfg = engine.config

    def client_secret_ok(client_id: str | None, secret: str | None) -> bool:
        return any(c.client_id == client_id and c.client_secret == secret for c in cfg.norway.clients)

    async def token(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        form = _token_form(raw, request.headers.get("authorization", ""))
        if form.get("grant_type") != "client_credentials":
            return JSON({"error": "unsupported_grant_type",
                         "error_description": "grant_type must be client_credentials"}, status_code=400)
        if not client_secret_ok(form.get("client_id"), form.get("client_secret")):
            return JSON({"error": "invalid_client", "error_description": "Client authentication failed."},
                        status_code=401)
        # through the engine, not issue_token(): tests wrap engine.no_issue_token to see every token
        with engine.lock:
            access, nbf, exp = engine.no_issue_token(form["client_id"])
        return JSON({
            "access_token": access,
            "token_type": "Bearer",
            "not_before": nbf,
            "expires_in": int(cfg.norway.token_ttl_seconds),
            "expires_on": exp,
            "resource": TOKEN_RESOURCE,
        })

    return [Route("/token", token, methods=["POST"])]
