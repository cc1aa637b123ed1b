"""The state file (``--state PATH``): everything the emulator remembers, as JSON, across restarts.

Saved when something changed (every ``save_interval_seconds``) and on shutdown, by atomic replace, so a
killed emulator leaves the last complete state. Tokens are not saved (clients log in again) and the
simulated clock never goes back. Indexes and queues are not saved either: they are rebuilt from the
documents and ledgers on load.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import lifecycle
from .compact_json import dumps
from .dates import rfc1123
from .ledger import DAY, Ledger
from .norway import cases as no_cases
from .norway import invoices as no_invoices
from .state import EmulatorState
from .sweden import cases as se_cases
from .sweden import finance as se_finance


def snapshot(state: EmulatorState) -> dict[str, Any]:
    """A deep copy of every document (both markets), safe to keep while the emulator runs on."""
    with state.lock:
        return json.loads(json.dumps({"se": state.db["se"], "no": state.db["no"]}, default=str))


def state_dump(state: EmulatorState) -> dict[str, Any]:
    """What ``GET /_emulator/state`` shows: the simulated time and every document per collection."""
    with state.lock:
        return {
            "now": rfc1123(state.clock.now()),
            "se": {c: list(d.values()) for c, d in state.db["se"].items()},
            "no": {c: list(d.values()) for c, d in state.db["no"].items()},
        }


def to_json(state: EmulatorState) -> dict[str, Any]:
    with state.lock:
        return {
            "version": 1,
            "now": state.clock.now_ts(),
            "counter": state.counter,
            "case_seq": state.case_seq,
            "version_no": state.version,
            "ocr_seq": state.ocr_seq,
            "case_number": state.case_number,
            "next_payout_at": state.next_payout_at,
            "db": state.db,
            "ledgers": [asdict(led) | {"_posting": led._posting} for led in state.ledgers.values()],
            "pending_batches": state.pending_batches,
            "idempotency": [[o, k, b] for (o, k), b in state.idempotency.items()],
            # webhook event ids (and so IdempotencyKeys) must not repeat after a restart
            "webhook_seq": state.webhook_seq,
        }


def load_json(state: EmulatorState, data: dict[str, Any]) -> None:
    with state.lock:
        state.clock.restore(float(data.get("now", 0)))
        state.counter = data.get("counter", 0)
        state.case_seq = data.get("case_seq", 0)
        state.version = data.get("version_no", 0)
        state.ocr_seq = data.get("ocr_seq", 0)
        state.case_number = data.get("case_number", 100000)
        state.next_payout_at = data.get("next_payout_at")
        for market in ("se", "no"):
            for coll, docs in data.get("db", {}).get(market, {}).items():
                state.db[market].setdefault(coll, {}).update(docs)
        state.ledgers = {}
        for raw in data.get("ledgers", []):
            posting = raw.pop("_posting", DAY * 30)
            led = Ledger(**raw)
            led._posting = posting
            state.ledgers[led.case_id] = led
        state.pending_batches = data.get("pending_batches", {})
        state.idempotency = {(o, k): b for o, k, b in data.get("idempotency", [])}
        state.webhook_seq = data.get("webhook_seq", 0)
        se_cases.rebuild_number_index(state)
        no_invoices.rebuild_number_index(state)
        no_cases.rebuild_announced(state)
        lifecycle.reschedule(state)
        se_finance.rebuild_payout_schedule(state)
        state.dirty = False


def write_state_file(state: EmulatorState, path: Path, force: bool = False) -> bool:
    """Save when dirty (or forced); returns whether it wrote. The lock is held only to serialise."""
    if not (state.dirty or force):
        return False
    with state.lock:
        data = dumps(to_json(state))
        state.dirty = False
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True
