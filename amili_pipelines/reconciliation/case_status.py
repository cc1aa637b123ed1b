"""Norway's collections actions on a case (withdraw, pause, resume), sent exactly once.

These requests carry no idempotency key and answer 202 with no body (reference F.2.6), so an
unclear outcome (a timeout, a 502, a crash after the intent was written) is settled by reading the
case before anything is sent again: a case already in the status the action leads to means it
arrived. A 409 says the case's status does not allow the action: for a withdrawal that means there
is nothing left to stop (already withdrawn or closed), for a pause or resumption it is Amili's
refusal and is kept as such.
"""

from __future__ import annotations

import json
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
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.warehouse.actions import ActionStore

CASE_STATUS_ACTIONS = frozenset({ActionKind.CANCELLATION, ActionKind.PAUSE, ActionKind.RESUME})
_CALL = {ActionKind.CANCELLATION: "withdraw_case", ActionKind.PAUSE: "pause_case", ActionKind.RESUME: "resume_case"}
_VERB = {ActionKind.CANCELLATION: "withdrawn", ActionKind.PAUSE: "paused", ActionKind.RESUME: "resumed"}


async def _arrived(store: ActionStore, no: Any, a: CaseAction, org: str) -> bool | None:
    """Did an earlier, unclear send take effect? None: Amili cannot tell us now (ask next run)."""
    target = NO_STATUS_AFTER[ActionKind(a.action)]
    try:
        case = await no.get_case(organization_id=org, case_id=a.case_id)
    except (ApiUnavailable, OutcomeUnknown) as exc:
        store.note_error(a.key, f"lookup before resending failed: {exc}")
        return None
    except NotFound:
        return False
    if (case.status or "").upper() != target:
        return False
    store.set_state(a.key, ActionState.SENT, detail=f"found at Amili by lookup: the case is {target}",
                    result_status=target, sent_at=utcnow())
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
    store.count_attempt(a.key)
    store.set_state(a.key, ActionState.IN_FLIGHT, detail=f"sending {kind.value}")
    try:
        await getattr(no, _CALL[kind])(organization_id=org, case_id=a.case_id)
    except ApiConflict as exc:
        if kind is ActionKind.CANCELLATION:  # already withdrawn or closed: nothing left to stop
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
