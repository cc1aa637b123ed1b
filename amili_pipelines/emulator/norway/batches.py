"""Norwegian batches: every write (``POST /orgs/{org}/invoices|payments|corrections``) is a batch.

A request with an unknown enum value in any item is refused as a whole (422, F.2.9, see
``validation.py``). Otherwise the POST answers 202 with a batch reference at once; the batch stays
``QUEUED`` (optionally ``PROCESSING``, F.2.4) for ``norway.batch_delay_seconds`` (+ the
``batch_extra_delay_seconds`` fault), then every item is processed on its own: it succeeds (an invoice
and its case are created, or money is applied) or fails with ``{index, invoiceNumber,
uniqueSourceInvoiceId, errors}`` (F.2.3), and the batch ends ``SUCCESS``, ``PARTIAL`` or ``FAILED``. An
``IdempotencyKey`` header returns the first batch with that key again (F.2.2). A finished batch emits
``BATCH_COMPLETED``.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import webhooks
from ..dates import iso
from ..problems import problem
from ..responses import JSON, read_json
from ..state import EmulatorState
from . import invoices, payments, validation
from .auth import authorize
from .endpoints import ORG_PREFIX, PREFIX, base_url, equals, item_handler, list_handler

Item = Any
ItemError = dict[str, Any]

# batch type -> the body key holding its items
WRITES = {"INVOICE": "invoices", "PAYMENT": "payments", "CORRECTION": "corrections"}


def create_batch(state: EmulatorState, org: str, client_id: str, kind: str, items: list[Item],
                 idem_key: str | None, base: str) -> dict[str, Any]:
    """Queue a batch (or find the one with this idempotency key); returns ``{batchId, batchUrl}``.

    Raises :class:`~.validation.UnknownEnumValues` (F.2.9) before anything else, the idempotency lookup
    included: a request that can never succeed creates nothing and leaves its key unused.
    """
    validation.check_enums(kind, items, WRITES[kind])
    with state.lock:
        if idem_key:
            existing = state.idempotency.get((org, idem_key))
            if existing:
                return {"batchId": existing, "batchUrl": f"{base}/batches/{existing}"}
        batch_id = _store_batch(state, org, client_id, kind, len(items), idem_key)
        _queue(state, batch_id, items)
        return {"batchId": batch_id, "batchUrl": f"{base}/batches/{batch_id}"}


def _store_batch(state: EmulatorState, org: str, client_id: str, kind: str, count: int,
                 idem_key: str | None) -> str:
    now = state.clock.now()
    batch_id = state.uuid()
    state.db["no"]["batches"][batch_id] = {
        "batchId": batch_id,
        "type": kind,
        "status": "QUEUED",
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "finishedAt": None,
        "organizationId": org,
        "createdBy": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client:{client_id}")),
        "idempotencyKey": idem_key,
        "itemCount": count,
        "succeeded": [],
        "failed": [],
    }
    if idem_key:
        state.idempotency[(org, idem_key)] = batch_id
    return batch_id


def _queue(state: EmulatorState, batch_id: str, items: list[Item]) -> None:
    ncfg = state.config.norway
    delay = ncfg.batch_delay_seconds + state.config.faults.batch_extra_delay_seconds
    if ncfg.batch_delay_clock == "emulator":
        due, clock = state.clock.now_ts() + delay, "emulator"
    else:
        due, clock = time.time() + delay, "wall"
    state.pending_batches[batch_id] = {"items": items, "due": due, "clock": clock, "delay": delay}
    state.dirty = True
    if delay <= 0:
        process_pending_batches(state)


def process_pending_batches(state: EmulatorState) -> None:
    """Run every batch whose delay has passed; show ``PROCESSING`` halfway when that step is on."""
    if not state.pending_batches:
        return
    wall, sim = time.time(), state.clock.now_ts()
    for batch_id in list(state.pending_batches):
        p = state.pending_batches[batch_id]
        t = wall if p["clock"] == "wall" else sim
        doc = state.db["no"]["batches"][batch_id]
        if t >= p["due"]:
            del state.pending_batches[batch_id]
            run_batch(state, doc, p["items"])
        elif state.config.norway.batch_processing_step and t >= p["due"] - p["delay"] / 2 \
                and doc["status"] == "QUEUED":
            doc["status"] = "PROCESSING"
            state.no_touch(doc, state.clock.now())


# ------------------------------------------------------------------ the item-failure fault

def _fault_seed(state: EmulatorState) -> int:
    f = state.config.faults
    return f.seed if f.seed is not None else state.config.seed


def item_fault_rng(state: EmulatorState) -> random.Random:
    """Its own RNG (not the request fault RNG), re-seeded when the fault seed changes."""
    seed = _fault_seed(state)
    if state.item_fault_rng is None or state.item_fault_seed != seed:
        state.item_fault_seed = seed
        state.item_fault_rng = random.Random(f"batch:{seed}")
    return state.item_fault_rng


def reset_item_fault_rng(state: EmulatorState) -> None:
    state.item_fault_seed = None


# ------------------------------------------------------------------ running a batch

def run_batch(state: EmulatorState, doc: dict[str, Any], items: list[Item]) -> None:
    now = state.clock.now()
    org = doc["organizationId"]
    for index, item in enumerate(items):
        errors, ref = item_errors(state, doc["type"], org, item)
        if errors:
            doc["failed"].append(_failure(doc["type"], index, item, ref, errors))
            continue
        if doc["type"] == "INVOICE":
            inv = invoices.register_invoice(state, org, item, doc["batchId"], now)
        else:
            inv = payments.apply_money(state, doc["type"], ref, item, now)
        doc["succeeded"].append({"invoiceId": inv["invoiceId"], "invoiceNumber": inv["invoiceNumber"],
                                 "caseId": inv["caseId"]})
    if not doc["failed"]:
        doc["status"] = "SUCCESS"
    elif not doc["succeeded"]:
        doc["status"] = "FAILED"
    else:
        doc["status"] = "PARTIAL"
    doc["finishedAt"] = iso(now)
    state.no_touch(doc, now)
    webhooks.enqueue_event(state, "BATCH_COMPLETED", {"batchId": doc["batchId"], "organizationId": org,
                                                      "status": doc["status"], "type": doc["type"]})


def item_errors(state: EmulatorState, kind: str, org: str,
                item: Item) -> tuple[list[ItemError], dict[str, Any] | None]:
    """Why one item fails (empty: it succeeds) and, for money items, the invoice it refers to."""
    errors = validation.validate_item(kind, item)
    ref = None
    if not errors and kind != "INVOICE":
        ref = state.db["no"]["invoices"].get(item.get("invoiceId"))
        if ref is None or ref["organization"]["id"] != org:
            ref = None
            errors = [{"code": "NOT_FOUND", "message": f"Invoice '{item.get('invoiceId')}' was not found",
                       "field": "invoiceId"}]
    if not errors and kind == "INVOICE" and state.config.faults.unique_invoice_numbers:
        if state.no_by_number.get((org, item["invoiceNumber"])):
            errors = [{"code": "DUPLICATE", "message": f"Invoice number '{item['invoiceNumber']}' already exists",
                       "field": "invoiceNumber"}]
    fail_rate = state.config.faults.batch_item_failure_rate
    if not errors and fail_rate > 0 and item_fault_rng(state).random() < fail_rate:
        errors = [{"code": "EMULATOR_FAULT", "message": "Injected item failure (fault batch_item_failure_rate)",
                   "field": None}]
    return errors, ref


def _failure(kind: str, index: int, item: Item, ref: dict[str, Any] | None,
             errors: list[ItemError]) -> dict[str, Any]:
    """A ``failed`` entry; money items name the invoice they refer to (null when it does not exist)."""
    if kind == "INVOICE":
        number = item.get("invoiceNumber") if isinstance(item, dict) else None
        usid = item.get("uniqueSourceInvoiceId") if isinstance(item, dict) else None
    else:
        number = ref["invoiceNumber"] if ref else None
        usid = ref.get("uniqueSourceInvoiceId") if ref else None
    return {"index": index, "invoiceNumber": number, "uniqueSourceInvoiceId": usid, "errors": errors}


# ------------------------------------------------------------------ routes

def create_handler(engine: Any, kind: str) -> Callable:
    key = WRITES[kind]

    async def handler(request: Request) -> Response:
        org = request.path_params["org"]
        client_id, err = authorize(engine, request, org)
        if err:
            return err
        if not json_media_type(request.headers.get("content-type", "")):
            # "Body Params application/json Required" (seed CreateInvoices page): ASP.NET's [FromBody]
            # answers any other declared type with 415 before reading the body.
            return problem(415, "The request body must be sent as application/json.")
        body, ok = await read_json(request)
        if not ok:
            return problem(400, "The request body is not valid JSON.", errors={"$": ["Invalid JSON."]})
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            return problem(400, "One or more validation errors occurred.",
                           errors={key: [f"The {key} field is required."]})
        if not body[key]:
            return problem(400, "One or more validation errors occurred.",
                           errors={key: [f"At least one item is required in {key}."]})
        try:
            ref = create_batch(engine, org, client_id, kind, body[key], request.headers.get("idempotencykey"),
                               base_url(request))
        except validation.UnknownEnumValues as exc:
            return problem(422, exc.detail, errors=exc.errors)
        return JSON({"summary": {"status": "SUCCESS"}, "data": ref}, status_code=202)

    return handler


def json_media_type(content_type: str) -> bool:
    """The JSON media types ASP.NET Core's JSON input formatter reads: application/json, text/json and
    application/*+json (parameters such as charset allowed)."""
    media = content_type.split(";")[0].strip().lower()
    return media in ("application/json", "text/json") or (media.startswith("application/") and media.endswith("+json"))


def batch_filter(d: dict[str, Any], q: dict[str, str]) -> bool:
    subject = q.get("subjectid")
    if subject and not any(subject in (s.get("invoiceId"), s.get("caseId")) for s in d["succeeded"]):
        return False
    return (equals(d, q, "state", "status") and equals(d, q, "status", "status") and equals(d, q, "type", "type")
            and equals(d, q, "idempotencykey", "idempotencyKey"))


def write_routes(engine: Any) -> list[Route]:
    return [Route(f"{ORG_PREFIX}/{key}", create_handler(engine, kind), methods=["POST"])
            for kind, key in WRITES.items()]


def read_routes(engine: Any) -> list[Route]:
    return [
        Route(f"{ORG_PREFIX}/batches", list_handler(engine, "batches", batch_filter), methods=["GET"]),
        Route(f"{ORG_PREFIX}/batches/{{id}}", item_handler(engine, "batches", "Batch"), methods=["GET"]),
        Route(f"{PREFIX}/batches/{{id}}", item_handler(engine, "batches", "Batch", legacy=True), methods=["GET"]),
    ]
