"""An operator's retry against the real emulator: rejected invoices are sent once more and registered once,
unclear ones are looked up before anything is sent, and every invoice has its audit entry."""

from __future__ import annotations

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import OperatorInputError, RetrySelection
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.registration.retry import LOOK_UP_FIRST, SEND_AGAIN, plan_retry, retry_registrations
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs
from tests.support.operator import OPS, clients, set_se_creditor_active

pytestmark = pytest.mark.integration
REG = "/invoice--registrations"


def _states(wh, market):
    return {r.invoice_key: r.state.value for r in wh.outbox.select(list(OutboxState),
                                                                   RetrySelection(everything=True))
            if r.market is market}


def test_a_rejection_for_amili_s_reasons_is_retried_once_with_an_audit_entry(followup):
    emu = followup.emulator
    set_se_creditor_active(emu, False)
    invoices = fs.make_invoices(Market.SE, 3, prefix="RT")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, invoices)
        assert set(_states(wh, Market.SE).values()) == {"rejected"}
        set_se_creditor_active(emu, True)
        target = invoices[0].invoice_key
        dry = plan_retry(wh, RetrySelection(invoice_keys=(target,)), creditors=followup.creditors)
        assert [(i.invoice_key, i.plan) for i in dry.items] == [(target, SEND_AGAIN)]
        assert "not active" in dry.items[0].answer_before
        assert _states(wh, Market.SE)[target] == "rejected", "a dry run changes nothing"
        with pytest.raises(OperatorInputError, match="reason"):
            retry_registrations(wh, selection=RetrySelection(invoice_keys=(target,)), actor=OPS, reason=" ",
                                creditors=followup.creditors, clients=clients(followup))
        assert wh.audit.recent() == []

        sent_before = emu.admin.count("POST", REG)
        result = retry_registrations(wh, selection=RetrySelection(message="not active", creditor="demo-se"),
                                     actor=OPS, reason="creditor reactivated at Amili", creditors=followup.creditors,
                                     clients=clients(followup))
        assert sorted(i.invoice_key for i in result.items) == sorted(i.invoice_key for i in invoices)
        assert {i.state_after for i in result.items} == {"registered"} and not result.open_items
        assert emu.admin.count("POST", REG) == sent_before + 3, "each sent exactly once"
        audit = {e.invoice_key: e for e in wh.audit.recent(action="retry")}
        entry = audit[target]
        assert (entry.actor, entry.via, entry.reason, entry.outcome) == (
            "ops-tester", "cli", "creditor reactivated at Amili", "registered")
        assert entry.answer.startswith("registered: case ") and entry.case_id
        assert wh.outbox.record(Market.SE, target).generation == 1

        # The same retry again: nothing left to retry, nothing sent, nothing audited.
        again = retry_registrations(wh, selection=RetrySelection(invoice_keys=(target,)), actor=OPS,
                                    reason="clicked twice", creditors=followup.creditors, clients=clients(followup))
        assert again.items == [] and "already registered" in again.skipped[0][1]
        assert emu.admin.count("POST", REG) == sent_before + 3
        assert len(wh.audit.for_invoice(target)) == 1


def test_an_unclear_invoice_is_looked_up_not_resent(followup):
    emu = followup.emulator
    [inv] = fs.make_invoices(Market.SE, 1, prefix="UQ")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
        key = inv.invoice_key
        # As if the answer had been lost: registered at Amili, unclear here.
        wh.outbox.record_outcomes([Outcome(Market.SE, key, OutboxState.UNKNOWN_OUTCOME, error="OutcomeUnknown: 502")])
        [item] = plan_retry(wh, RetrySelection(invoice_keys=(key,)), creditors=followup.creditors).items
        assert item.plan == LOOK_UP_FIRST
        sent_before = emu.admin.count("POST", REG)
        result = retry_registrations(wh, selection=RetrySelection(invoice_keys=(key,)), actor=OPS,
                                     reason="502 last night", creditors=followup.creditors, clients=clients(followup))
        assert result.items[0].state_after == "registered"
        assert emu.admin.count("POST", REG) == sent_before, "found by lookup: never sent again"
        assert emu.admin.count("GET", REG) >= 1


def test_norway_retries_under_a_new_batch_key_so_amili_does_not_return_the_failed_batch(followup):
    emu = followup.emulator
    emu.admin.set_faults(batch_item_failure_rate=1.0)
    invoices = fs.make_invoices(Market.NO, 2, prefix="NR")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, invoices)
        assert set(_states(wh, Market.NO).values()) == {"rejected"}
        emu.admin.clear_faults()
        batches_before = emu.admin.count("POST", "/collection/v1/orgs/{org}/invoices")
        result = retry_registrations(wh, selection=RetrySelection(creditor="demo-no"), actor=OPS,
                                     reason="Amili's temporary rule lifted", creditors=followup.creditors,
                                     clients=clients(followup), wait_for_batches_s=20)
        assert {i.state_after for i in result.items} == {"registered"}, [i.answer_after for i in result.items]
        assert emu.admin.count("POST", "/collection/v1/orgs/{org}/invoices") == batches_before + 1
        cases = [c for c in emu.admin.state()["no"]["cases"].values()] if isinstance(
            emu.admin.state()["no"]["cases"], dict) else emu.admin.state()["no"]["cases"]
        assert len(cases) == 2, "one case per invoice"


def test_a_retry_must_say_which_invoices(followup):
    with open_warehouse(followup.db_path) as wh:
        with pytest.raises(OperatorInputError, match="--all"):
            plan_retry(wh, RetrySelection(), creditors=followup.creditors)
        with pytest.raises(OperatorInputError, match="unknown creditor"):
            plan_retry(wh, RetrySelection(creditor="nope"), creditors=followup.creditors)
        result = plan_retry(wh, RetrySelection(invoice_keys=("demo-se/none",)), creditors=followup.creditors)
        assert result.items == [] and "not in the outbox" in result.skipped[0][1]
