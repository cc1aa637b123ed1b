"""Amili Norway's webhook events (reference B.9) as the pipeline reads them.

The documentation names the event in ``type`` for ``BATCH_COMPLETED`` and ``SETTLEMENT_CREATED``
but in ``eventType`` for ``CASE`` and ``CASE_UPDATED``; both are accepted for every event. The
organization comes from the event (``organizationId``, or ``orgId`` in case events), so one
endpoint serves every organization. Unknown events and fields are kept, never refused: Amili would
only deliver them again.

The ``X-Amili-Event`` header names the event too, but outside the signature: it names the event
only when the signed body does not, and a header that contradicts the body refuses the delivery.
Such a disagreement means one of them was changed on the way, or a signed body is replayed under
another name; letting the body win silently would hide that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

BATCH_COMPLETED = "BATCH_COMPLETED"
SETTLEMENT_CREATED = "SETTLEMENT_CREATED"
CASE = "CASE"
CASE_UPDATED = "CASE_UPDATED"
KNOWN_EVENTS = frozenset({BATCH_COMPLETED, SETTLEMENT_CREATED, CASE, CASE_UPDATED})
# What an unsigned header may put into the inbox, the logs and the runs' tags as an event's name.
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


class MalformedEvent(ValueError):
    """A body that is not a webhook event: not JSON, not an object, or without an event name."""


class ConflictingEventName(MalformedEvent):
    """The ``X-Amili-Event`` header names another event than the signed body."""


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


def _event_name(doc: dict[str, Any], header_event: str | None) -> str:
    named = doc.get("type") or doc.get("eventType")
    if named is not None and not isinstance(named, str):
        raise MalformedEvent("the body's event name ('type' or 'eventType') is not a string")
    body_name = (named or "").strip().upper()
    header = (header_event or "").strip()
    if not body_name:
        if not header:
            raise MalformedEvent("body names no event (neither 'type' nor 'eventType') and no X-Amili-Event header does")
        if not _HEADER_NAME.fullmatch(header):
            raise MalformedEvent(f"the X-Amili-Event header {header[:64]!r} is not an event name")
        return header.upper()
    if header and header.upper() != body_name:
        raise ConflictingEventName(f"the X-Amili-Event header names {header[:64]!r} but the signed body names "
                                   f"{body_name[:64]!r}")
    return body_name


def parse_event(body: bytes | str, *, header_event: str | None = None) -> NorwayEvent:
    """The event in a delivery's body; :class:`MalformedEvent` when it is not one.

    ``header_event`` is the ``X-Amili-Event`` header (or, read back from the inbox, the name the
    receiver stored): it names the event when the body does not, and must agree when both do
    (:class:`ConflictingEventName`). Names compare without letter case or surrounding blanks.

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
    name = _event_name(doc, header_event)
    data = doc.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MalformedEvent("'data' is not a JSON object")
    event_id = _text(doc.get("id"))
    return NorwayEvent(event=name, event_id=event_id if event_id and event_id.strip() else None,
                       timestamp=_text(doc.get("timeStamp") or doc.get("timestamp")), data=data)
