"""Swedish creditors: the configured demo creditors and the Partner API (``POST/PATCH/DELETE /creditors``).

Registrations need an active creditor of the caller's account, so the configured ones exist from the
start. A new creditor is inactive unless it is created active with everything activation needs.
Changes follow Eve's concurrency rules (reference Part C): ``If-Match`` missing → 428, stale → 412.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..dates import rfc1123
from ..eve import eve_error, eve_issues, validate
from ..ids import etag_for
from ..responses import JSON, read_json
from ..state import EmulatorState
from . import schemas
from .endpoints import account_of, bad_json, post_handler, unauthorized

DEMO_ADDRESS = {"address_line_1": "Demogatan 1", "zip_code": "11122", "city": "Stockholm"}
ACTIVATION_NEEDS = ("standard_debt_description", "sender_address", "invoice_address", "payout_details")


def seed_configured_creditors(state: EmulatorState, now: datetime) -> None:
    for c in state.config.sweden.creditors:
        _seed_creditor(state, c.model_dump(), now)


def _seed_creditor(state: EmulatorState, c: dict[str, Any], now: datetime) -> None:
    ts = rfc1123(now)
    doc = {
        "_id": c["id"],
        "account": c["account"],
        "name": c["name"],
        "organization_no": c.get("organization_no"),
        "is_active": c.get("is_active", True),
        "standard_debt_description": "Services",
        "agreement_address": dict(DEMO_ADDRESS),
        "case_config": {
            "vat_area": "sweden",
            "commission_excluded_vat": True,
            "payout_capital_by_invoice": False,
            "payout_interest_by_invoice": False,
            "letter_config": {},
        },
        "description": "",
        "default_letter_locale": "sv",
        "payout_details": {"sek": {"bankgiro": "5050-1055"}},
        "sender_address": dict(DEMO_ADDRESS),
        "invoice_address": dict(DEMO_ADDRESS),
        "always_use_standard_debt_description": False,
        "added_to_erp_system": True,
        "creditor_number": c.get("creditor_number", 1001),
        "_created": ts,
        "_updated": ts,
        "_etag": etag_for(c["id"], 0),
    }
    state.db["se"]["creditors"][c["id"]] = doc


def _creation_issues(body: Any, account: str) -> dict[str, Any]:
    issues = validate(body, schemas.CREDITOR)
    if not issues and body["account"] != account:
        issues["account"] = f"value '{body['account']}' must exist in resource 'accounts', field '_id'."
    if not issues and body.get("organization_no") and body.get("non_swedish_organization_no"):
        issues["non_swedish_organization_no"] = (
            "'non_swedish_organization_no' must not be present with 'organization_no'"
        )
    if not issues and body.get("is_active"):
        missing = [k for k in ACTIVATION_NEEDS if not body.get(k)]
        if missing:
            issues["is_active"] = f"activation requires {', '.join(missing)}"
    return issues


def create_creditor(state: EmulatorState, body: Any, account: str,
                    dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    issues = _creation_issues(body, account)
    if issues:
        return 422, eve_issues(issues)
    if dry_run:
        return 200, {"_status": "OK"}
    with state.lock:
        now = state.clock.now()
        number = 1000 + len(state.db["se"]["creditors"]) + 1
        doc = state.se_insert("creditors", {**body, "is_active": bool(body.get("is_active")),
                                            "creditor_number": number, "added_to_erp_system": False}, now)
        return 201, {k: doc[k] for k in ("_updated", "_created", "_etag", "_id")} | {"_status": "OK"}


def _patch_schema() -> dict[str, Any]:
    """A PATCH may change everything but the account and the agreement; the name must stay non-empty."""
    schema = {k: v for k, v in schemas.CREDITOR.items()}
    schema["account"] = {"type": "objectid", "readonly": True}
    schema["agreement_template"] = {"type": "string", "readonly": True}
    schema["name"] = {"type": "string", "empty": False}
    return schema


def change_creditor(state: EmulatorState, cid: str, body: Any, account: str, if_match: str | None,
                    delete: bool = False) -> tuple[int, dict[str, Any] | None]:
    """PATCH (or, with ``delete``, DELETE) a creditor, guarded by its ETag."""
    with state.lock:
        doc = state.db["se"]["creditors"].get(cid)
        if doc is None or doc["account"] != account:
            return 404, eve_error(404, "The requested URL was not found on the server.")
        if not if_match:
            return 428, eve_error(428, "To edit a document its etag must be provided using the If-Match header")
        if if_match.strip('"') != doc["_etag"]:
            return 412, eve_error(412, "Client and server etags don't match")
        now = state.clock.now()
        if delete:
            del state.db["se"]["creditors"][cid]
            state.dirty = True
            return 204, None
        issues = validate(body, _patch_schema())
        if issues:
            return 422, eve_issues(issues, "Updating failure")
        doc.update(body)
        state.se_touch(doc, now)
        return 200, {k: doc[k] for k in ("_updated", "_created", "_etag", "_id")} | {"_status": "OK"}


def routes(engine: Any) -> list[Route]:
    async def write(request: Request) -> Response:
        account = account_of(engine, request)
        if account is None:
            return unauthorized()
        delete = request.method == "DELETE"
        body: Any = None
        if not delete:
            body, ok = await read_json(request)
            if not ok:
                return bad_json()
        status, out = change_creditor(engine, request.path_params["id"], body, account,
                                      request.headers.get("if-match"), delete=delete)
        if status == 204:
            return Response(status_code=204)
        return JSON(out, status_code=status)

    return [
        Route("/creditors", post_handler(engine, partial(create_creditor, engine)), methods=["POST"]),
        Route("/creditors/{id}", write, methods=["PATCH", "DELETE"]),
    ]
