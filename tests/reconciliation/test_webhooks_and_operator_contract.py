"""Review findings on the webhook path and the operator's case commands, each against the real code:

* a delivery with a UTF-8 byte order mark is stored and later planned as the event it is (the real
  ASGI receiver, the real inbox, the real planner);
* an organization id spelled in other letter case than the creditors file is still that organization;
* pause / resume decide from the case as Amili has it now, not from our own last action (emulator);
* a 409 for an action whose goal status the case already has is done, not refused (emulator);
* an unclear withdrawal is not sent again while Amili may still be applying it (202 Accepted).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import OutcomeUnknown
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import NOTHING_TO_DO, OperatorAction
from amili_pipelines.reconciliation import case_status
from amili_pipelines.reconciliation.case_commands import command_cases
from amili_pipelines.reconciliation.webhooks import (
    BATCH_RESULTS,
    CASES,
    NOTHING,
    plan_runs,
)
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.inbox import InboxEvent
from amili_pipelines.warehouse.spool import open_inbox
from amili_pipelines.webhooks.app import ReceiverConfig, create_app
from amili_pipelines.webhooks.signature import sign
from tests.support import followup as fs
from tests.support.operator import OPS, clients

ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"
SECRET = "s3cret"
NO_CASE = "/collection/v1/orgs/{org}/cases/{id}"
BOM = b"\xef\xbb\xbf"


# -- 1. a byte order mark: stored and planned alike ---------------------------------------------------


def _deliver(app, body: bytes, key: str, signature: str) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as c:
            return await c.post("/webhooks/amili-no", content=body,
                                headers={"IdempotencyKey": key, "X-Webhook-Signature": signature,
                                         "Content-Type": "application/json"})
    return asyncio.run(go())


def test_a_delivery_with_a_byte_order_mark_is_stored_and_planned_not_lost(tmp_path):
    inbox = open_inbox(tmp_path / "inbox")
    app = create_app(ReceiverConfig(secret=SecretStr(SECRET)), inbox)
    event = json.dumps({"id": "e1", "type": "BATCH_COMPLETED", "source": "COLLECTION",
                        "timeStamp": "2026-01-05T08:00:00Z",
                        "data": {"batchId": "b-bom", "organizationId": ORG, "status": "SUCCESS"}}).encode()
    body = BOM + event
    # The signature is over the raw bytes as received, the mark included.
    refused = _deliver(app, body, "k-bom", sign(SECRET.encode(), event))
    assert refused.status_code == 401 and inbox.counts()["new"] == 0
    stored = _deliver(app, body, "k-bom", sign(SECRET.encode(), body))
    assert (stored.status_code, stored.json()) == (200, {"status": "stored"})
    [kept] = inbox.new_events(limit=10)
    assert kept.body.encode("utf-8") == body, "the inbox keeps the body as delivered"
    [planned] = plan_runs([kept], organization_ids={ORG})
    assert planned.kind == BATCH_RESULTS, planned.description()
    assert planned.config["batch_results"]["batches"] == [
        {"organization_id": ORG, "batch_id": "b-bom", "status": "SUCCESS", "type": ""}]


# -- 2. organization ids are UUIDs: letter case does not matter -----------------------------------------


def test_an_organization_id_in_other_letter_case_is_the_configured_organization():
    def event(n, name_key, name, data):
        return InboxEvent(f"h{n}", f"k{n}", utcnow(), name, f"e{n}", json.dumps({"id": f"e{n}", name_key: name,
                                                                                 "data": data}))
    events = [event(1, "eventType", "CASE_UPDATED", {"orgId": ORG.upper(), "caseId": "c-1", "status": "PAUSED"}),
              event(2, "type", "BATCH_COMPLETED", {"organizationId": ORG.upper(), "batchId": "b-1", "status": "SUCCESS"})]
    plans = {p.kind: p for p in plan_runs(events, organization_ids={ORG})}
    assert NOTHING not in plans, plans[NOTHING].notes if NOTHING in plans else None
    # The runs name the organization as the creditors file spells it (creditors are looked up by it).
    assert plans[CASES].config == {"cases": {"norway_cases": [{"organization_id": ORG, "case_id": "c-1"}]}}
    assert plans[BATCH_RESULTS].config["batch_results"]["batches"][0]["organization_id"] == ORG
    upper_file = {p.kind: p for p in plan_runs(events[:1], organization_ids={ORG.upper()})}
    assert upper_file[CASES].config["cases"]["norway_cases"] == [{"organization_id": ORG.upper(), "case_id": "c-1"}]


# -- 3 and 4. pause / resume / withdraw against the emulator --------------------------------------------


def _run(env, wh, command, key, reason="review: the contract", **kw):
    return command_cases(wh, command=command, invoice_keys=[key], actor=OPS, reason=reason,
                         creditors=env.creditors, clients=kw.pop("clients", None) or clients(env))


def _other_party(emu, case_id: str, action: str) -> None:
    """Someone at Amili (staff, the portal) acting on the case: not through us."""
    r = httpx.post(f"{emu.no_base_url}/orgs/{emu.no_org}/cases/{case_id}/{action}", headers=emu.no_headers(),
                   timeout=10)
    assert r.status_code == 202, r.text


def _status(emu, case_id: str) -> str:
    r = httpx.get(f"{emu.no_base_url}/orgs/{emu.no_org}/cases/{case_id}", headers=emu.no_headers(), timeout=10)
    return r.json()["data"]["status"]


def _posts(emu, action: str) -> int:
    return emu.admin.stats()["requests"].get(f"POST {NO_CASE}/{action}", 0)


@pytest.mark.integration
def test_pause_and_resume_decide_from_the_case_at_amili_not_from_our_last_action(followup):
    emu = followup.emulator
    invs = fs.make_invoices(Market.NO, 2, prefix="OC")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, invs)
        # We paused; someone at Amili resumed it since: a new pause is needed and sent.
        key = invs[0].invoice_key
        case_id = wh.outbox.record(Market.NO, key).case_id
        assert _run(followup, wh, OperatorAction.PAUSE, key).items[0].outcome == "sent"
        _other_party(emu, case_id, "resume")
        again = _run(followup, wh, OperatorAction.PAUSE, key)
        assert (again.items[0].outcome, again.open_items) == ("sent", []), again.items[0].answer
        assert _status(emu, case_id) == "PAUSED" and _posts(emu, "pause") == 2
        # We paused; someone resumed it: our resume has nothing to do (and is not sent to be refused).
        other = invs[1].invoice_key
        other_case = wh.outbox.record(Market.NO, other).case_id
        assert _run(followup, wh, OperatorAction.PAUSE, other).items[0].outcome == "sent"
        _other_party(emu, other_case, "resume")
        resumes = _posts(emu, "resume")
        resumed = _run(followup, wh, OperatorAction.RESUME, other)
        assert (resumed.items[0].outcome, resumed.items[0].answer) == (NOTHING_TO_DO, "the case is not paused")
        assert _posts(emu, "resume") == resumes and _status(emu, other_case) == "OPEN"


@pytest.mark.integration
@pytest.mark.parametrize(("command", "call", "goal"), [(OperatorAction.PAUSE, "pause", "PAUSED"),
                                                       (OperatorAction.WITHDRAW, "withdraw", "WITHDRAWN")])
def test_a_409_when_the_case_already_is_what_the_action_leads_to_is_done_not_refused(followup, command, call, goal):
    emu = followup.emulator
    [inv] = fs.make_invoices(Market.NO, 1, prefix=f"C{call[:2].upper()}")
    key = inv.invoice_key
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
        case_id = wh.outbox.record(Market.NO, key).case_id
        # Our action does not get through (503, nothing applied): it stays pending.
        emu.admin.set_faults(error_rates={503: 1.0}, path_prefixes=["/collection/v1/orgs"], methods=["POST"])
        no_retry = {Market.SE: fs.se_client(emu), Market.NO: fs.no_client(emu, max_retries=0)}
        first = _run(followup, wh, command, key, clients=no_retry)
        emu.admin.clear_faults()
        assert first.items[0].outcome == "pending"
        # Meanwhile someone at Amili does the same; the repeated command drives ours: Amili answers 409.
        _other_party(emu, case_id, call)
        posts = _posts(emu, call)
        again = _run(followup, wh, command, key, reason="try again")
        assert _posts(emu, call) == posts + 1, "sent, and answered 409"
        [item] = again.items
        assert (item.outcome, item.action_key, again.open_items) == ("sent", first.items[0].action_key, [])
        assert f"already {goal} at Amili" in item.answer
        [action] = wh.actions.for_invoice(key)
        assert (action.state, action.result_status) == ("sent", goal)
        assert f"already {goal} at Amili" in wh.actions.events(action.key)[-1].detail
        assert [e.outcome for e in wh.audit.for_invoice(key)] == ["pending", "sent"]


# -- 5. an unclear withdrawal: Amili answers 202 and applies it later -----------------------------------


class _AnswerLost:
    """The real client, but the first withdrawal's answer is lost (a read timeout after sending).

    Amili accepted it and applies it later (202 Accepted, F.2.6); here it has not applied it yet, so the
    case still reads OPEN at the emulator. ``calls`` is shared by every command's client.
    """

    def __init__(self, real, calls: list[str]) -> None:
        self.real, self.calls = real, calls

    async def __aenter__(self):
        await self.real.__aenter__()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.real.__aexit__(*exc_info)

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    async def withdraw_case(self, **kw) -> None:
        self.calls.append("withdraw")
        if len(self.calls) == 1:
            raise OutcomeUnknown("POST withdraw: ReadTimeout after the request was sent; it may have been applied",
                                 method="POST")
        await self.real.withdraw_case(**kw)


@pytest.mark.integration
def test_an_unclear_withdrawal_is_not_sent_again_within_the_grace_period(followup, monkeypatch):
    emu = followup.emulator
    [inv] = fs.make_invoices(Market.NO, 1, prefix="GR")
    key = inv.invoice_key
    calls: list[str] = []

    def lossy():
        return {Market.SE: fs.se_client(emu), Market.NO: _AnswerLost(fs.no_client(emu), calls)}

    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
        case_id = wh.outbox.record(Market.NO, key).case_id
        first = _run(followup, wh, OperatorAction.WITHDRAW, key, clients=lossy())
        assert (first.items[0].outcome, calls) == ("unknown_outcome", ["withdraw"])
        # Right after: the case does not show it yet, but it may be on its way at Amili: not sent again.
        again = _run(followup, wh, OperatorAction.WITHDRAW, key, reason="settle the timeout", clients=lossy())
        [item] = again.items
        assert (item.outcome, item.action_key, calls) == ("unknown_outcome", first.items[0].action_key, ["withdraw"])
        assert "not sent again before" in item.answer and again.open_items
        # Past the grace period with the case still not withdrawn: it never arrived, so it is sent again.
        later = utcnow() + case_status.UNCLEAR_GRACE + timedelta(minutes=1)
        monkeypatch.setattr(case_status, "utcnow", lambda: later)
        last = _run(followup, wh, OperatorAction.WITHDRAW, key, reason="still open", clients=lossy())
        assert (last.items[0].outcome, calls) == ("sent", ["withdraw", "withdraw"])
        assert _status(emu, case_id) == "WITHDRAWN"
        [action] = wh.actions.for_invoice(key)
        assert action.state == "sent" and action.attempts == 2
