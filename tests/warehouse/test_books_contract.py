"""Contract: the books store offers each fact to the ERP once, books each money line once, and keeps
what was exported as exported."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from amili_pipelines.domain.case_actions import ActionState, NewCaseAction
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from tests.support.records import D, case, entry, line, payout

DAY = date(2026, 6, 10)


def _facts(wh) -> None:
    for number, claimed in (("A", "100.00"), ("B", "200.00"), ("C", "300.00")):
        wh.outbox.enqueue([entry(number, amount=claimed)])
        wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED,
                                           case_id=f"c-{number}")])
    wh.cases.upsert_cases([case("c-A", "A", claimed="100.00"), case("c-B", "B", claimed="200.00", closed="paid"),
                           case("c-C", "C", claimed="300.00", closed="cancelled")])
    paid = dataclasses.replace(payout("p-1", "175.00"), status="paid", creditor="demo-se",
                               payout_reference="PO-1")
    wh.settlements.upsert_payouts([paid, dataclasses.replace(payout("p-2", "10.00"), creditor="demo-se")])
    wh.settlements.upsert_lines([line("l1", "c-B", "200.00", number="B", payout_id="p-1"),
                                 line("l2", "c-A", "10.00", number="A", payout_id="p-2")])
    wh.actions.add([NewCaseAction(key="act-1", market="SE", invoice_key="demo-se/A", creditor="demo-se",
                                  invoice_number="A", case_id="c-A", amili_invoice_id=None, action="payment",
                                  purpose="payment:5.00", amount=D("5.00"), currency="SEK", action_date=DAY)])
    wh.actions.set_state("act-1", ActionState.SENT, detail="ok")
    wh.reconciliation.rebuild(as_of=DAY)


def test_every_kind_of_fact_is_offered_once(warehouse):
    _facts(warehouse)
    store = warehouse.books
    handed = store.feedback_candidates("demo-se", "handed_over")
    assert [i.row["invoice_number"] for i in handed] == ["A", "B", "C"]
    assert handed[0].row["claimed_amount"] == "100.00" and handed[0].row["case_id"] == "c-A"
    payments = store.feedback_candidates("demo-se", "payments")
    assert [(i.row["invoice_number"], i.row["capital"], i.row["payout_reference"]) for i in payments] == \
        [("B", "200.00", "PO-1")], "only money in a paid payout"
    closed = store.feedback_candidates("demo-se", "closed_without_payment")
    assert [(i.row["invoice_number"], i.row["closed_reason"], i.row["written_off"]) for i in closed] == \
        [("C", "cancelled", "300.00")]
    actions = store.feedback_candidates("demo-se", "creditor_actions")
    assert [(i.row["action"], i.row["amount"]) for i in actions] == [("payment", "5.00")]

    assert store.record_exports("demo-se", "handed_over", DAY, [(i.key, i.row) for i in handed]) == 1
    assert store.feedback_candidates("demo-se", "handed_over") == []
    assert store.last_export_day("demo-se") == DAY
    with pytest.raises(Exception):  # noqa: B017 - whatever the database calls it: never exported twice
        store.record_exports("demo-se", "handed_over", DAY, [(handed[0].key, handed[0].row)])
    assert [e.row for e in store.exported("demo-se")] == [i.row for i in handed], "kept as exported"


def test_each_money_line_is_booked_once(warehouse):
    _facts(warehouse)
    store = warehouse.books
    lines = store.unbooked_lines("demo-se", market="SE", complete_before=DAY)
    assert [(ln.line_id, ln.payout_key, ln.paid_out, ln.payout_total) for ln in lines] == \
        [("l1", "p-1", D("175.00"), D("175.00"))]
    assert store.record_verifications("demo-se", "SE", DAY, [("SE:p-1", {"text": "x"}, lines)]) == 1
    assert store.unbooked_lines("demo-se", market="SE", complete_before=DAY) == []
    # A late line of the same payout is booked in a verification of its own, under a key of its own.
    warehouse.settlements.upsert_lines([line("l3", "c-B", "4.00", number="B", payout_id="p-1")])
    late = store.unbooked_lines("demo-se", market="SE", complete_before=DAY)
    assert [ln.line_id for ln in late] == ["l3"]
    store.record_verifications("demo-se", "SE", DAY, [("SE:p-1", {"text": "y"}, late)])
    assert sorted(e.item_key for e in store.exported("demo-se")) == ["SE:p-1", "SE:p-1#2"]
    assert [e.batch for e in store.exported("demo-se")] == [1, 2]


def test_a_booked_line_that_amili_corrects_is_offered_again_as_the_difference(warehouse):
    _facts(warehouse)
    store = warehouse.books
    lines = store.unbooked_lines("demo-se", market="SE", complete_before=DAY)
    store.record_verifications("demo-se", "SE", DAY, [("SE:p-1", {"text": "x"}, lines)])
    later = datetime(2026, 6, 9, 12, 0)
    warehouse.settlements.upsert_lines([line("l1", "c-B", "240.00", number="B", payout_id="p-1", updated=later)])
    [changed] = store.unbooked_lines("demo-se", market="SE", complete_before=DAY)
    assert (changed.line_id, changed.principal, changed.paid_out, changed.correction) == \
        ("l1", D("40.00"), D("35.00"), True)
    assert changed.payout_lines_total == D("210.00") and changed.payout_total == D("175.00")
    store.record_verifications("demo-se", "SE", DAY, [("SE:p-1", {"text": "y"}, [changed])])
    assert store.unbooked_lines("demo-se", market="SE", complete_before=DAY) == []
