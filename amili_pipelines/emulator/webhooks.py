"""Norwegian webhook events (reference B.9): what happened, queued the moment it happened.

The engine calls :func:`enqueue_event` inside the operation that caused the event, under the state lock,
so the queue (``state.outbox``) is in the order things happened. Nothing is sent from here: the running
server's sender (``webhook_delivery.py``) takes the queue, signs and delivers it off the request path.
Events are queued only while delivery is on (``norway.webhooks.url`` set) and the event is selected
(``norway.webhooks.events``); events that happen while it is off are never sent later.

Envelopes follow the documentation's quirk: ``BATCH_COMPLETED`` and ``SETTLEMENT_CREATED`` name the
event in ``type``, the case events ``CASE`` and ``CASE_UPDATED`` in ``eventType``.
"""

from __future__ import annotations

import uuid
from typing import Any

from .dates import iso
from .state import EmulatorState

BATCH_COMPLETED = "BATCH_COMPLETED"
SETTLEMENT_CREATED = "SETTLEMENT_CREATED"
CASE = "CASE"
CASE_UPDATED = "CASE_UPDATED"
CASE_EVENTS = frozenset({CASE, CASE_UPDATED})


def is_on(state: EmulatorState, event: str) -> bool:
    wh = state.config.norway.webhooks
    return bool(wh.url) and event in wh.events


def event_name(envelope: dict[str, Any]) -> str:
    return envelope.get("type") or envelope["eventType"]


def delivery_key(event_id: str) -> str:
    """The ``IdempotencyKey`` of an event's delivery: stable, so every retry and duplicate carries it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"amili-emulator:webhook-delivery:{event_id}"))


def enqueue_event(state: EmulatorState, event: str, data: dict[str, Any]) -> None:
    if not is_on(state, event):
        return
    name_key = "eventType" if event in CASE_EVENTS else "type"
    state.outbox.append({
        "id": state.webhook_id(),
        name_key: event,
        "source": "COLLECTION",
        "timeStamp": iso(state.clock.now()),
        "data": data,
    })
