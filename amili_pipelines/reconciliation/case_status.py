"""Norway's collections actions on a case (withdraw, pause, resume), sent exactly once.

These requests carry no idempotency key and answer 202 with no body (reference F.2.6), so an
unclear outcome (a timeout, a 502, a crash after the intent was written) is settled by reading the
case before anything is sent again: a case already in the status the action leads to means it
arrived. A 202 means accepted, applied later: an unclear action whose case does not show it yet is
not sent again before ``UNCLEAR_GRACE`` has passed since it was sent (it stays unknown_outcome).
A 409 says the case's status does not allow the action; the case is read then: already in the
status the action leads to (someone else did it), the action is done. Otherwise, for a withdrawal
there is nothing left to stop (closed), for a pause or resumption it is Amili's refusal and is kept
as such.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from amili_pipelines.amili.errors import (
    ApiConflict,
    ApiRejection,
    ApiUnavailable,
    NotFound,
    OutcomeUnknown,
)
from amili_pipelines.domain.case_actions import (
    NO_STATUS_AFTER,
    ActionKind,
    ActionState,
    CaseAction,
)
from amili_pipelines.domain.dates import naive_utc, utcnow
from amili_pipelines.warehouse.actions import ActionStore

CASE_STATUS_ACTIONS = frozenset({ActionKind.CANCELLATION, ActionKind.PAUSE, ActionKind.RESUME})
_CALL = {ActionKind.CANCELLATION: "withdraw_case", ActionKind.PAUSE: "pause_case", ActionKind.RESUME: "resume_case"}
_VERB = {ActionKind.CANCELLATION: "withdrawn", ActionKind.PAUSE: "paused", ActionKind.RESUME: "resumed"}

# Withdraw, pause and resume answer 202 Accepted (reference F.2.6): Amili may apply them after it
# answered, so a case read shortly after an unclear send (a timeout, a 502, a crash) may not show
# the action yet although it arrived. Sending it again then would make two of them at Amili; until
# this long after the send the action stays unknown_outcome and the case is only read again.
UNCLEAR_GRACE = timedelta(minutes=10)


async def _arrived(store: ActionStore, no: Any, a: CaseAction, org: str, *, detail: str | None = None,
                   **columns: Any) -> bool | None:
    """Is the case already in the status the action leads to (then recorded as sent, with ``detail``
    and ``columns``)? None: Amili cannot tell us now (ask next run)."""
    target = NO_STATUS_AFTER[ActionKind(a.action)]
    try:
        case = await no.get_case(organization_id=org, case_id=a.case_id)
    except (ApiUnavailable, OutcomeUnknown, ApiRejection) as exc:
        store.note_error(a.key, f"lookup of the case failed: {exc}"[:500])
        return None
    except NotFound:
        return False
    if (case.status or "").upper() != target:
        return False
    store.set_state(a.key, ActionState.SENT, detail=detail or f"found at Amili by lookup: the case is {target}",
                    result_status=target, sent_at=utcnow(), **columns)
    return True


def _last_sent(store: ActionStore, key: str) -> datetime | None:
    """When the action last left (its newest move to in_flight, written just before the request)."""
    sends = [e.occurred_at for e in store.events(key) if e.to_state == ActionState.IN_FLIGHT]
    return naive_utc(sends[-1]) if sends else None


def _still_settling(store: ActionStore, a: CaseAction) -> bool:
    """Within UNCLEAR_GRACE of its last send: kept unknown_outcome (with why), not sent again yet."""
    sent = _last_sent(store, a.key)
    if sent is None or utcnow() - sent >= UNCLEAR_GRACE:
        return False
    kind = ActionKind(a.action)
    why = (f"outcome unknown; the case is not {NO_STATUS_AFTER[kind]} yet, but Amili applies a "
           f"{_CALL[kind].removesuffix('_case')} after answering 202: not sent again before "
           f"{sent + UNCLEAR_GRACE:%Y-%m-%d %H:%M} UTC")
    if a.state == ActionState.UNKNOWN_OUTCOME:
        store.note_error(a.key, why)
    else:
        store.set_state(a.key, ActionState.UNKNOWN_OUTCOME, detail=why, last_error=why)
    return True


async def send_case_status_action(store: ActionStore, no: Any, a: CaseAction, org: str) -> ActionState:
    """Send one withdraw / pause / resume; returns the state the action reached."""
    kind = ActionKind(a.action)
    if a.state in (ActionState.IN_FLIGHT, ActionState.UNKNOWN_OUTCOME):
        arrived = await _arrived(store, no, a, org)
        if arrived is None:
            return ActionState(a.state)
        if arrived:
            return ActionState.SENT
        if _still_settling(store, a):
            return ActionState.UNKNOWN_OUTCOME
    store.count_attempt(a.key)
    store.set_state(a.key, ActionState.IN_FLIGHT, detail=f"sending {kind.value}")
    try:
        await getattr(no, _CALL[kind])(organization_id=org, case_id=a.case_id)
    except ApiConflict as exc:
        # The case's status does not allow the action: is it already what the action leads to?
        already = f"already {NO_STATUS_AFTER[kind]} at Amili"
        if await _arrived(store, no, a, org, detail=f"{already} (it answered 409: {exc})"[:500],
                          result_json=json.dumps({"status": 409, "detail": already})):
            return ActionState.SENT
        if kind is ActionKind.CANCELLATION:  # closed: nothing left to stop
            store.set_state(a.key, ActionState.SENT, detail=f"not withdrawn: {exc}", result_status="conflict",
                            result_json=json.dumps({"status": 409, "detail": str(exc)}), sent_at=utcnow())
            return ActionState.SENT
        return _rejected(store, a, exc)
    except (ApiRejection, NotFound) as exc:
        return _rejected(store, a, exc)
    except OutcomeUnknown as exc:
        store.set_state(a.key, ActionState.UNKNOWN_OUTCOME, detail=str(exc), last_error=str(exc)[:500])
        return ActionState.UNKNOWN_OUTCOME
    except ApiUnavailable as exc:
        store.set_state(a.key, ActionState.PENDING, detail=str(exc), last_error=str(exc)[:500])
        return ActionState.PENDING
    store.set_state(a.key, ActionState.SENT, detail=f"{_VERB[kind]} (Amili answered 202 Accepted)",
                    result_status=_VERB[kind], result_json=json.dumps({"status": 202}), sent_at=utcnow())
    return ActionState.SENT


def _rejected(store: ActionStore, a: CaseAction, exc: Exception) -> ActionState:
    raw = getattr(exc, "raw", None)
    store.set_state(a.key, ActionState.REJECTED, detail=str(exc), last_error=str(exc)[:500],
                    result_status=str(getattr(exc, "status_code", None) or "rejected"),
                    result_json=json.dumps({"status": getattr(exc, "status_code", None), "detail": str(exc),
                                            "errors": raw}, default=str))
    return ActionState.REJECTED
