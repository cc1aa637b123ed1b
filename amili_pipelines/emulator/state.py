"""Everything the emulator remembers, in one object: documents, ledgers, tokens, sequences, queues.

Both markets' resource modules work on an :class:`EmulatorState` (the :class:`~.engine.Engine` is one),
always under ``state.lock``: HTTP handlers, the background tick and in-process tests share it, and all
mutations are synchronous, so holding the lock for a whole operation makes every request atomic.

Ids come from sequences seeded by ``config.seed`` (never from ``uuid4``/``time`` alone), so the same seed
and the same calls give byte-identical documents; the determinism tests depend on the exact order in
which :meth:`oid`, :meth:`uuid` and :meth:`next_etag` are called.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import SimClock
from .config import EmulatorConfig
from .dates import iso, rfc1123
from .ids import etag_for, luhn_digit
from .ledger import DAY, Ledger

if TYPE_CHECKING:
    from .lifecycle import MarketFlow

SE_COLLECTIONS = (
    "invoice--registrations",
    "invoices",
    "case--registrations",
    "cases",
    "creditor--payments",
    "creditor--creditings",
    "creditor--cancellations",
    "finance--payouts",
    "finance--payout-specifications",
    "creditors",
    "media--files",
)
NO_COLLECTIONS = ("batches", "invoices", "cases", "payments", "corrections", "settlements")

Document = dict[str, Any]


class EmulatorState:
    """The emulator's memory. ``flows`` (market -> :class:`~.lifecycle.MarketFlow`) is filled by the engine."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.lock = threading.RLock()
        self.clock = SimClock(self.config.clock.start, self.config.clock.speed)
        self.dirty = False
        self.flows: dict[str, MarketFlow] = {}
        # the batch_item_failure_rate fault's RNG (norway/batches.py); deliberately survives reset()
        self.item_fault_rng: random.Random | None = None
        self.item_fault_seed: int | None = None
        self.reset()

    def reset(self) -> None:
        """Forget everything: empty collections, sequences back to their start, clock back to its start."""
        with self.lock:
            cfg = self.config
            self.clock = SimClock(cfg.clock.start, cfg.clock.speed)
            self.db: dict[str, dict[str, dict[str, Document]]] = {
                "se": {c: {} for c in SE_COLLECTIONS},
                "no": {c: {} for c in NO_COLLECTIONS},
            }
            self.ledgers: dict[str, Ledger] = {}
            self.se_tokens: dict[str, tuple[str, float]] = {}
            self.no_tokens: dict[str, tuple[str, float]] = {}
            self.counter = 0
            self.case_seq = 0
            self.version = 0
            self.ocr_seq = 0
            self.case_number = 100000
            self.machine = hashlib.sha1(str(cfg.seed).encode()).hexdigest()[:10]
            self.next_due = math.inf
            self.due_heap: list[tuple[float, int, str]] = []
            self.scheduled_payouts: list[tuple[float, str]] = []
            interval = cfg.lifecycle.payout_interval_days * DAY
            self.next_payout_at: float | None = (math.floor(self.clock.now_ts() / interval) + 1) * interval
            self.pending_batches: dict[str, dict[str, Any]] = {}
            self.idempotency: dict[tuple[str, str], str] = {}
            self.outbox: list[dict[str, Any]] = []  # webhook events not yet taken by the sender
            self.webhook_seq = 0
            self.announced_cases: dict[str, dict[str, Any]] = {}  # NO case -> what CASE/CASE_UPDATED last said
            self.se_by_number: dict[tuple[str, str], list[str]] = {}
            self.no_by_number: dict[tuple[str, str], list[str]] = {}
            self.dirty = True

    # ------------------------------------------------------------------ ids
    def oid(self, ts: float | None = None) -> str:
        """A MongoDB-style ObjectId (Sweden): creation second, machine, sequence."""
        self.counter += 1
        t = int(self.clock.now_ts() if ts is None else ts) & 0xFFFFFFFF
        return f"{t:08x}{self.machine}{self.counter & 0xFFFFFF:06x}"

    def uuid(self) -> str:
        """A version-4-shaped UUID (Norway), derived from the seed and the shared sequence."""
        self.counter += 1
        digest = hashlib.sha1(f"{self.config.seed}:{self.counter}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=digest, version=4))

    def webhook_id(self) -> str:
        """A UUID for webhook events from their own sequence: whether webhooks are on or off must not
        change a single id the API hands out."""
        self.webhook_seq += 1
        digest = hashlib.sha1(f"{self.config.seed}:webhook:{self.webhook_seq}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=digest, version=4))

    def ocr(self, now: datetime) -> str:
        """A Swedish OCR payment reference: year, sequence, Luhn check digit."""
        self.ocr_seq += 1
        base = f"{now.year}{self.ocr_seq:015d}"
        return base + luhn_digit(base)

    def next_etag(self, _id: str) -> str:
        self.version += 1
        return etag_for(self.machine, _id, self.version)

    # ------------------------------------------------------------------ documents
    def se_insert(self, coll: str, fields: Document, now: datetime, _id: str | None = None) -> Document:
        """Store a Swedish (Eve) document with its meta fields ``_id/_created/_updated/_etag``."""
        _id = _id or self.oid(now.timestamp())
        ts = rfc1123(now)
        doc = {"_id": _id, **fields, "_created": ts, "_updated": ts, "_etag": self.next_etag(_id)}
        self.db["se"][coll][_id] = doc
        self.dirty = True
        return doc

    def se_touch(self, doc: Document, now: datetime) -> None:
        """A Swedish document changed: new ``_updated`` and ``_etag``, so ``where _updated > x`` polls find it."""
        doc["_updated"] = rfc1123(now)
        doc["_etag"] = self.next_etag(doc["_id"])
        self.dirty = True

    def no_touch(self, doc: Document, now: datetime) -> None:
        doc["updatedAt"] = iso(now)
        self.dirty = True
