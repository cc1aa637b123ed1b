"""Amili Norway's webhook events (reference B.9) as the pipeline reads them.

The documentation names the event in ``type`` for ``BATCH_COMPLETED`` and ``SETTLEMENT_CREATED``
but in ``eventType`` for ``CASE`` and ``CASE_UPDATED``; both are accepted for every event. The
organization comes from the event (``organizationId``, or ``orgId`` in case events), so one
endpoint serves every organization. Unknown events and fields are kept, never refused: Amili would
only deliver them again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

BATCH_COMPLETED = "BATCH_COMPLETED"
SETTLEMENT_CREATED = "SETTLEMENT_CREATED"
CASE = "CASE"
CASE_UPDATED = "CASE_UPDATED"
KNOWN_EVENTS = frozenset({BATCH_COMPLETED, SETTLEMENT_CREATED, CASE, CASE_UPDATED})


class MalformedEvent(ValueError):
    """A body that is not a webhook event: not JSON, not an object, or without an event name."""


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


@dataclass(frozen=True, slots=True)
class NorwayEvent:
    event: str  # BATCH_COMPLETED | SETTLEMENT_CREATED | CASE | CASE_UPDATED | anything newer
    event_id: str | None
    timestamp: str | None
    data: dict[str, Any]

    @property
    def known(self) -> bool:
        return self.event in KNOWN_EVENTS

    @property
    def organization_id(self) -> str | None:
        return _text(self.data.get("organizationId") or self.data.get("orgId"))

    @property
    def batch_id(self) -> str | None:
        return _text(self.data.get("batchId"))

    @property
    def batch_status(self) -> str:
        return (_text(self.data.get("status")) or "").upper()

    @property
    def batch_type(self) -> str:
        return _text(self.data.get("type")) or ""

    @property
    def settlement_id(self) -> str | None:
        return _text(self.data.get("settlementId"))

    @property
    def case_id(self) -> str | None:
        return _text(self.data.get("caseId"))

    @property
    def case_number(self) -> str | None:
        return _text(self.data.get("caseNumber"))

    def subject(self) -> str:
        """What the event is about, for logs and the run's tags (ids only, never personal data)."""
        ident = self.batch_id or self.settlement_id or self.case_id or "?"
        return f"{self.event} {ident}"


def parse_event(body: bytes | str) -> NorwayEvent:
    """The event in a delivery's body; :class:`MalformedEvent` when it is not one.

    The receiver checks the raw bytes and the inbox stores them as UTF-8 text, which is read here
    again later: bytes and text parse the same way, so what was accepted is never found malformed
    afterwards. A leading byte order mark (U+FEFF) is skipped in both (``json.loads`` skips it in
    bytes but refuses it in text), and bytes are UTF-8 only (no guessing of UTF-16 or UTF-32).
    """
    try:
        text = bytes(body).decode("utf-8") if isinstance(body, bytes | bytearray) else body
    except UnicodeDecodeError:
        raise MalformedEvent("body is not UTF-8") from None
    try:
        doc = json.loads(text.removeprefix("\ufeff"))
    except ValueError as exc:
        raise MalformedEvent(f"body is not JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise MalformedEvent("body is not a JSON object")
    name = doc.get("type") or doc.get("eventType")
    if not isinstance(name, str) or not name.strip():
        raise MalformedEvent("body names no event (neither 'type' nor 'eventType')")
    data = doc.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MalformedEvent("'data' is not a JSON object")
    return NorwayEvent(event=name.strip().upper(), event_id=_text(doc.get("id")),
                       timestamp=_text(doc.get("timeStamp") or doc.get("timestamp")), data=data)
