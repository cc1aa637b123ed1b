"""Contract: what the books report back to Amili is written once and moves through its states."""

from __future__ import annotations

from datetime import date, datetime

from amili_pipelines.domain.case_actions import ActionState, NewCaseAction
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.warehouse.tables import balances_table
from tests.support.records import D, case, entry, line

DAY = date(2026, 5, 2)


def _setup(wh):
    for number in ("A", "B", "C"):
        wh.outbox.enqueue([entry(number)])
        wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED,
                                           case_id=f"c-{number}")])
    wh.cases.upsert_cases([case("c-A", "A"), case("c-B", "B"), case("c-C", "C", closed="paid")])
    wh.settlements.upsert_lines([line("l-1", "c-B", "200.00", number="B")])
    rows = [(DAY, "erp", "demo-se", f"demo-se/{n}", n, D(bal), None, status, status == "unpaid", "x.csv", i,
             datetime(2026, 5, 2)) for i, (n, bal, status) in enumerate([("A", "1000.00", "unpaid"),
                                                                        ("B", "1250.00", "credited"),
                                                                        ("C", "0.00", "paid")])]
    wh.invoices.insert(balances=balances_table(rows))


def _new(key, action="payment", amount="250.00"):
    return NewCaseAction(key=key, market="SE", invoice_key="demo-se/A", creditor="demo-se", invoice_number="A",
                         case_id="c-A", amili_invoice_id=None, action=action, purpose=f"{action}:{amount}:{DAY}",
                         amount=D(amount) if amount else None, currency="SEK", action_date=DAY)


def test_source_views_show_open_cases_next_to_their_source(warehouse):
    _setup(warehouse)
    views = {v.invoice_number: v for v in warehouse.actions.source_views()}
    assert set(views) == {"A", "B"}, "closed cases are Amili's business no more"
    a, b = views["A"], views["B"]
    assert (a.present, a.open_balance, a.claimed, a.source_status) == (True, D("1000.00"), D("1250.00"), "unpaid")
    assert b.collected_capital == D("200.00") and b.source_status == "credited"
    assert a.reported_paid == D("0.00") and a.reported_cancellations == 0


def test_actions_are_written_once_and_count_as_reported(warehouse):
    _setup(warehouse)
    assert warehouse.actions.add([_new("k1")]) == ["k1"]
    assert warehouse.actions.add([_new("k1"), _new("k2", amount="10.00")]) == ["k2"]
    pending = warehouse.actions.in_states([ActionState.PENDING], market="SE")
    assert [(a.key, a.amount, a.state) for a in pending] == [("k1", D("250.00"), "pending"), ("k2", D("10.00"), "pending")]
    assert {v.invoice_number: v.reported_paid for v in warehouse.actions.source_views()}["A"] == D("260.00")
    warehouse.actions.set_state("k2", ActionState.REJECTED, detail="Amili said no", last_error="no")
    assert {v.invoice_number: v.reported_paid for v in warehouse.actions.source_views()}["A"] == D("250.00")


def test_an_action_moves_through_its_states(warehouse):
    _setup(warehouse)
    warehouse.actions.add([_new("k1")])
    warehouse.actions.count_attempt("k1")
    warehouse.actions.set_state("k1", ActionState.IN_FLIGHT, detail="sending")
    warehouse.actions.note_error("k1", "timeout")
    assert [a.key for a in warehouse.actions.in_states([ActionState.IN_FLIGHT], market="SE")] == ["k1"]
    warehouse.actions.set_state("k1", ActionState.SENT, remote_id="r-1", result_status="completed",
                                sent_at=datetime(2026, 5, 2, 9))
    assert warehouse.actions.in_states([ActionState.PENDING, ActionState.IN_FLIGHT], market="SE") == []
    [sent] = warehouse.actions.in_states([ActionState.SENT], market="SE")
    assert sent.state == "sent"
