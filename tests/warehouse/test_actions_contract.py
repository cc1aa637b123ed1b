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


def test_news_only_keeps_exactly_the_invoices_with_something_to_report(warehouse):
    """The store filters by the rule `action_for` applies, so a million quiet open cases stay in the
    database: the same rows, each branch of the rule on both sides of its edge."""
    from datetime import timedelta

    from amili_pipelines.reconciliation.actions import action_for

    # number: (open balance at the source's newest read or None when gone from it, its status)
    source = {"PAY": ("1000.00", "unpaid"), "SAME": ("1250.00", "unpaid"), "CENT": ("1249.99", "unpaid"),
              "GONE": None, "CANC": ("1250.00", "Cancelled"), "CANC_TOLD": ("1250.00", "cancelled"),
              "CANC_REFUSED": ("1250.00", "written_off"), "COLLECTED": ("1000.00", "unpaid"),
              "TOLD": ("1000.00", "unpaid"), "CREDITED": ("0.00", "credited"), "CREDIT_TOLD": ("1000.00", "credited"),
              "GONE_PAID": None, "CLOSED": ("0.00", "paid")}
    for number in source:
        warehouse.outbox.enqueue([entry(number)])
        warehouse.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED,
                                                  case_id=f"c-{number}")])
    warehouse.cases.upsert_cases([case(f"c-{n}", n, closed="paid" if n == "CLOSED" else None) for n in source])
    warehouse.settlements.upsert_lines([line("l-1", "c-COLLECTED", "250.00", number="COLLECTED")])
    older = [(DAY - timedelta(days=1), "erp", "demo-se", f"demo-se/{n}", n, D("1250.00"), None, "unpaid", True,
              "x.csv", i, datetime(2026, 5, 1)) for i, n in enumerate(source)]
    # unpaid while a balance is open, whatever the status says: only the status tells a cancellation
    newest = [(DAY, "erp", "demo-se", f"demo-se/{n}", n, D(s[0]), None, s[1], D(s[0]) > 0, "x.csv", i,
               datetime(2026, 5, 2)) for i, (n, s) in enumerate(source.items()) if s is not None]
    warehouse.invoices.insert(balances=balances_table(older))
    warehouse.invoices.insert(balances=balances_table(newest))

    def told(number, action, amount=None):
        return NewCaseAction(key=f"{action}-{number}", market="SE", invoice_key=f"demo-se/{number}", creditor="demo-se",
                             invoice_number=number, case_id=f"c-{number}", amili_invoice_id=None, action=action,
                             purpose=f"{action}:{amount or 'all'}:{DAY}", amount=D(amount) if amount else None,
                             currency="SEK", action_date=DAY)
    warehouse.actions.add([told("CANC_TOLD", "cancellation"), told("CANC_REFUSED", "cancellation"),
                           told("TOLD", "payment", "250.00"), told("CREDIT_TOLD", "crediting", "250.00"),
                           told("GONE_PAID", "payment", "1250.00")])
    warehouse.actions.set_state("cancellation-CANC_REFUSED", ActionState.REJECTED, detail="Amili said no")

    every = warehouse.actions.source_views()
    news = warehouse.actions.source_views(news_only=True)
    assert {v.invoice_number for v in news} == {"PAY", "CENT", "GONE", "GONE_PAID", "CANC", "CANC_REFUSED",
                                                 "CREDITED"}
    assert news == [v for v in every if action_for(v) is not None]


def test_many_actions_are_added_at_once_each_with_its_first_event(warehouse):
    _setup(warehouse)
    keys = [f"k{i:04d}" for i in range(1500)]
    assert warehouse.actions.add([_new(k) for k in keys[:700]]) == keys[:700]
    # a key given twice counts once (the first wins); keys already there are left alone
    again = [_new(k, amount="1.00") for k in keys[650:]] + [_new("k1499", amount="2.00")]
    assert warehouse.actions.add(again, detail="operator retry") == keys[700:]
    pending = warehouse.actions.in_states([ActionState.PENDING], market="SE")
    assert len(pending) == 1500 and {a.amount for a in pending if a.key < "k0700"} == {D("250.00")}
    assert {a.amount for a in pending if a.key >= "k0700"} == {D("1.00")}
    [first] = warehouse.actions.events("k0001")
    assert (first.from_state, first.to_state, first.detail) == (None, "pending", f"source shows payment:250.00:{DAY}")
    assert [e.detail for e in warehouse.actions.events("k1499")] == ["operator retry"]
