"""An operator's withdraw, pause and resume against the real emulator: sent once through the case-actions
outbox (a repeated command sends nothing), unclear outcomes settled by reading the case, audit rows kept."""

from __future__ import annotations

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import NOTHING_TO_DO, OperatorAction, OperatorInputError
from amili_pipelines.reconciliation.case_commands import command_cases
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs
from tests.support.operator import OPS, clients

pytestmark = pytest.mark.integration
CANCEL = "/creditor--cancellations"
NO_CASE = "/collection/v1/orgs/{org}/cases/{id}"


def _docs(coll):
    return list(coll.values()) if isinstance(coll, dict) else list(coll or [])


def _no_case(emu, case_id):
    return next(c for c in _docs(emu.admin.state()["no"]["cases"]) if c["caseId"] == case_id)


def _run(followup, wh, command, keys, reason="debtor disputes the claim"):
    return command_cases(wh, command=command, invoice_keys=keys, actor=OPS, reason=reason,
                         creditors=followup.creditors, clients=clients(followup))


def test_withdrawing_a_swedish_case_cancels_it_once(followup):
    emu = followup.emulator
    [inv] = fs.make_invoices(Market.SE, 1, prefix="WD")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
        case_id = wh.outbox.record(Market.SE, inv.invoice_key).case_id
        result = _run(followup, wh, OperatorAction.WITHDRAW, [inv.invoice_key], reason="registered by mistake")
        [item] = result.items
        assert (item.outcome, item.case_id) == ("sent", case_id) and not result.open_items
        assert emu.admin.count("POST", CANCEL) == 1
        cancellations = _docs(emu.admin.state()["se"]["creditor--cancellations"])
        assert [c["case"] for c in cancellations] == [case_id]
        [entry] = wh.audit.for_invoice(inv.invoice_key)
        assert (entry.action, entry.actor, entry.reason, entry.outcome, entry.case_id) == (
            "withdraw", "ops-tester", "registered by mistake", "sent", case_id)
        assert "completed" in entry.answer and entry.subject_key == item.action_key

        again = _run(followup, wh, OperatorAction.WITHDRAW, [inv.invoice_key], reason="clicked twice")
        assert again.items[0].outcome == NOTHING_TO_DO and "already withdrawn" in again.items[0].answer
        assert emu.admin.count("POST", CANCEL) == 1, "a repeated command is not sent twice"
        assert [e.outcome for e in wh.audit.for_invoice(inv.invoice_key)] == ["sent", NOTHING_TO_DO]
        with pytest.raises(OperatorInputError, match="has no pause"):
            _run(followup, wh, OperatorAction.PAUSE, [inv.invoice_key])


def test_norway_pause_resume_withdraw_each_once(followup):
    emu = followup.emulator
    [inv] = fs.make_invoices(Market.NO, 1, prefix="PR")
    key = inv.invoice_key
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
        case_id = wh.outbox.record(Market.NO, key).case_id
        assert _run(followup, wh, OperatorAction.PAUSE, [key]).items[0].outcome == "sent"
        assert _no_case(emu, case_id)["status"] == "PAUSED"
        assert _run(followup, wh, OperatorAction.PAUSE, [key]).items[0].outcome == NOTHING_TO_DO
        assert _run(followup, wh, OperatorAction.RESUME, [key]).items[0].outcome == "sent"
        assert _no_case(emu, case_id)["status"] == "OPEN"
        assert _run(followup, wh, OperatorAction.RESUME, [key]).items[0].answer == "the case is not paused"
        assert _run(followup, wh, OperatorAction.PAUSE, [key]).items[0].outcome == "sent", "a second pause is new"
        assert _run(followup, wh, OperatorAction.WITHDRAW, [key]).items[0].outcome == "sent"
        assert _no_case(emu, case_id)["status"] == "WITHDRAWN"
        assert _run(followup, wh, OperatorAction.RESUME, [key]).items[0].outcome == NOTHING_TO_DO
        stats = emu.admin.stats()["requests"]
        assert [stats.get(f"POST {NO_CASE}/{a}", 0) for a in ("pause", "resume", "withdraw")] == [2, 1, 1]
        actions = wh.actions.for_invoice(key)
        assert [a.purpose for a in actions] == ["operator:pause:1", "operator:resume:1", "operator:pause:2",
                                                "operator:withdraw:1"]
        assert [e.outcome for e in wh.audit.for_invoice(key)] == [
            "sent", NOTHING_TO_DO, "sent", NOTHING_TO_DO, "sent", "sent", NOTHING_TO_DO]


def test_an_unclear_withdrawal_is_settled_by_reading_the_case_not_by_sending_again(followup):
    emu = followup.emulator
    [inv] = fs.make_invoices(Market.NO, 1, prefix="UW")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
        case_id = wh.outbox.record(Market.NO, inv.invoice_key).case_id
        # Amili applies the withdrawal but the answer is lost (502 after commit).
        emu.admin.set_faults(committed_then_failed_rate=1.0, committed_then_failed_mode="502",
                             path_prefixes=["/collection/v1/orgs"], methods=["POST"])
        first = _run(followup, wh, OperatorAction.WITHDRAW, [inv.invoice_key])
        emu.admin.clear_faults()
        assert first.items[0].outcome == "unknown_outcome" and first.open_items
        assert _no_case(emu, case_id)["status"] == "WITHDRAWN"
        posts = emu.admin.stats()["requests"].get(f"POST {NO_CASE}/withdraw", 0)
        # The same command again drives the unclear one: the case is read first, found withdrawn, nothing sent.
        again = _run(followup, wh, OperatorAction.WITHDRAW, [inv.invoice_key], reason="settle the 502")
        assert (again.items[0].outcome, again.items[0].action_key) == ("sent", first.items[0].action_key)
        assert "WITHDRAWN" in again.items[0].answer
        [action] = wh.actions.for_invoice(inv.invoice_key)
        assert action.state == "sent" and action.result_status == "WITHDRAWN"
        assert emu.admin.stats()["requests"].get(f"POST {NO_CASE}/withdraw", 0) == posts, "never sent twice"
        assert [e.outcome for e in wh.audit.for_invoice(inv.invoice_key)] == ["unknown_outcome", "sent"]


def test_a_command_on_an_unregistered_invoice_does_nothing(followup):
    with open_warehouse(followup.db_path) as wh:
        with pytest.raises(OperatorInputError, match="not in the outbox"):
            _run(followup, wh, OperatorAction.WITHDRAW, ["demo-se/none"])
        with pytest.raises(OperatorInputError, match="reason"):
            _run(followup, wh, OperatorAction.WITHDRAW, ["demo-se/none"], reason="")
        assert wh.audit.recent() == []
