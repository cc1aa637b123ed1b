"""The receiver's ASGI app: ``POST /webhooks/amili-no``, one endpoint for every organization.

In order, for every delivery: refuse a body over the size limit (413) without reading it all; check
the signature over the raw bytes (401 when missing or wrong; nothing stored); require a body that
is a webhook event, named by its ``type``/``eventType`` or else by the ``X-Amili-Event`` header, and
not contradicted by that header (400); require something to de-duplicate it on, the
``IdempotencyKey`` header or else the signed envelope's ``id`` (400 when neither); store it durably
in the inbox and only then answer 200. A delivery whose key, or whose envelope id, was stored before
answers 200 as well (Amili stops sending it) and stores nothing new: Amili's retry under a new key
and a replayed body start no second run. When the inbox cannot be written the answer is 503, so
Amili delivers again later. Logs name the event and a hash of its name in the inbox; never the
body, never the secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.webhooks import ConflictingEventName, MalformedEvent, parse_event
from amili_pipelines.settings import Settings
from amili_pipelines.warehouse.inbox import WebhookInbox
from amili_pipelines.warehouse.spool import delivery_hash, key_hash
from amili_pipelines.webhooks.signature import ALGORITHMS, signature_matches

PATH = "/webhooks/amili-no"
IDEMPOTENCY_HEADER = "IdempotencyKey"
EVENT_HEADER = "X-Amili-Event"
MAX_KEY_CHARS = 512
log = logging.getLogger("amili_pipelines.webhooks")


class ReceiverMisconfigured(ValueError):
    """The receiver cannot start as configured (no secret, an unknown hash)."""


@dataclass(frozen=True)
class ReceiverConfig:
    secret: SecretStr
    signature_header: str = "X-Webhook-Signature"
    algorithm: str = "sha256"
    max_body_bytes: int = 262_144

    def __post_init__(self) -> None:
        if not self.secret.get_secret_value():
            raise ReceiverMisconfigured(
                "AMILI_NO_WEBHOOK_SECRET is not set: the receiver verifies every delivery with the secret shared "
                "with Amili and does not start without it")
        if self.algorithm not in ALGORITHMS:
            raise ReceiverMisconfigured(f"AMILI_NO_WEBHOOK_SIGNATURE_ALGORITHM must be one of {sorted(ALGORITHMS)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverConfig:
        return cls(secret=settings.no_webhook_secret or SecretStr(""),
                   signature_header=settings.no_webhook_signature_header,
                   algorithm=settings.no_webhook_signature_algorithm, max_body_bytes=settings.no_webhook_max_bytes)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "refused" if status < 500 else "error", "detail": message}, status_code=status)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than ``limit`` (a missing Content-Length included)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(config: ReceiverConfig, inbox: WebhookInbox, *, clock: Callable[[], datetime] = utcnow,
               after_store: Callable[[], None] | None = None) -> Starlette:
    """The receiver. ``after_store`` runs between storing and answering (tests kill the process there)."""
    secret = config.secret.get_secret_value().encode("utf-8")

    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                return _answer(400, "Content-Length is not a number")
            if int(declared) > config.max_body_bytes:
                log.warning("refused a delivery of %s bytes (limit %d)", declared, config.max_body_bytes)
                return _answer(413, f"body larger than {config.max_body_bytes} bytes")
        body = await _read_capped(request, config.max_body_bytes)
        if body is None:
            log.warning("refused a delivery over %d bytes", config.max_body_bytes)
            return _answer(413, f"body larger than {config.max_body_bytes} bytes")
        given = request.headers.get(config.signature_header)
        if not signature_matches(secret, body, given, config.algorithm):
            log.warning("refused a delivery from %s: %s", request.client.host if request.client else "?",
                        "no signature" if not given else "signature does not match")
            return _answer(401, "missing signature" if not given else "signature does not match")
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
        if len(key) > MAX_KEY_CHARS:
            return _answer(400, f"the {IDEMPOTENCY_HEADER} header is longer than {MAX_KEY_CHARS} characters")
        shown = key_hash(key)[:12] if key else "none"
        try:
            # Parsed as the text the inbox stores (and the sensor parses again later), so both agree;
            # a leading byte order mark is skipped there. The signature was checked over the raw bytes.
            event = parse_event(body.decode("utf-8"), header_event=request.headers.get(EVENT_HEADER))
        except (MalformedEvent, UnicodeDecodeError) as exc:
            log.warning("refused a signed delivery (key %s…): %s", shown, exc)
            if isinstance(exc, ConflictingEventName):
                return _answer(400, f"{exc}: refused, the header is not covered by the signature")
            return _answer(400, f"not a webhook event: {exc}" if isinstance(exc, MalformedEvent) else "not UTF-8")
        if not key and not event.event_id:
            log.warning("refused a signed delivery of %s: no %s header and no envelope id", event.subject(),
                        IDEMPOTENCY_HEADER)
            return _answer(400, f"neither an {IDEMPOTENCY_HEADER} header nor an envelope 'id' in the body: "
                                "nothing to recognise a redelivery by")
        # Without the header the signed envelope id de-duplicates (the body was verified above); the
        # inbox de-duplicates on the envelope id in any case, so a retry under a new key runs once.
        name = delivery_hash(key or None, event.event_id)[:12]
        try:
            stored = await run_in_threadpool(inbox.accept, idempotency_key=key or None, event=event.event,
                                             event_id=event.event_id, body=body, received_at=clock())
        except OSError as exc:
            log.error("could not store %s (delivery %s…): %s", event.event, name, type(exc).__name__)
            return _answer(503, "the inbox cannot be written; deliver again later")
        if after_store is not None:
            after_store()
        log.info("%s %s (delivery %s…)", "stored" if stored else "duplicate of a stored delivery:",
                 event.subject(), name)
        return JSONResponse({"status": "stored" if stored else "duplicate"}, status_code=200)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"]), Route("/health", health, methods=["GET"])])
