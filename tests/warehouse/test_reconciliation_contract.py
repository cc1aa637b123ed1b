"""Contract: the reconciliation adds up the stored facts per case and names what does not add up."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.warehouse.reconciliation import ERROR_REASONS, WARNING_REASONS
from amili_pipelines.warehouse.tables import balances_table
from tests.support.records import D, case, entry, line

AS_OF = date(2026, 6, 1)


def _facts(wh):
    for number, claimed in (("A", "100.00"), ("B", "200.00"), ("C", "300.00"), ("D", "400.00")):
        wh.outbox.enqueue([entry(number, amount=claimed)])
        wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED,
                                           case_id=f"c-{number}")])
    wh.cases.upsert_cases([case("c-A", "A", claimed="100.00"), case("c-B", "B", claimed="200.00", remaining="150.00"),
                           case("c-C", "C", claimed="300.00", closed="paid"),
                           case("c-D", "D", claimed="400.00", closed="cancelled")])
    wh.settlements.upsert_lines([line("l1", "c-B", "50.00", number="B"), line("l2", "c-C", "100.00", number="C"),
                                 line("l3", "c-C", "200.00", number="C")])


def test_statuses_and_money_per_currency(warehouse):
    _facts(warehouse)
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    t = warehouse.reconciliation.totals()
    assert t.cases_by_status == {"open": 1, "partly_paid": 1, "settled": 1, "closed_without_payment": 1}
    claimed, paid_out, remaining = t.money_by_currency["SEK"]
    assert claimed == D("1000.00") and remaining == D("250.00")
    assert paid_out == D("350.00") * D("0.875")
    assert t.discrepancies == {}


def test_every_discrepancy_is_named(warehouse):
    _facts(warehouse)
    warehouse.settlements.upsert_lines([line("l4", "c-B", "500.00", number="B"),
                                        line("l5", "c-nobody", "10.00", number="ZZZ")])
    warehouse.outbox.record_outcomes([Outcome(Market.SE, "demo-se/A", OutboxState.REGISTERED, case_id="c-A",
                                              seen_cases=(("c-A", None), ("c-other", None)))])
    warehouse.invoices.insert(balances=balances_table([(date(2026, 5, 30), "erp", "demo-se", "demo-se/C", "C",
                                                        D("120.00"), None, "unpaid", True, "x.csv", 1,
                                                        datetime(2026, 5, 30))]))
    warehouse.cases.upsert_cases([case("c-A", "A", claimed="90.00", remaining="100.00")])
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    found = warehouse.reconciliation.totals().discrepancies
    assert found == {
        ("paid_out_exceeds_claimed", "error"): 1, ("settlement_for_unknown_case", "error"): 1,
        ("invoice_with_two_cases", "error"): 1, ("closed_but_source_unpaid", "warning"): 1,
        # A holds another capital than we claimed; B's remaining capital disagrees with what came in.
        ("amounts_do_not_match_case", "warning"): 2,
    }
    errors = warehouse.reconciliation.discrepancies(ERROR_REASONS)
    assert [(d.reason, d.invoice_number) for d in errors] == [
        ("invoice_with_two_cases", "A"), ("paid_out_exceeds_claimed", "B"), ("settlement_for_unknown_case", "")]
    assert errors[1].amount == D("350.00") and "claimed 200.00" in errors[1].detail
    assert {d.reason for d in warehouse.reconciliation.discrepancies(WARNING_REASONS)} == set(WARNING_REASONS)


def test_a_rebuild_replaces_the_previous_one(warehouse):
    _facts(warehouse)
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    warehouse.settlements.upsert_lines([line("l9", "c-nobody", "10.00")])
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    assert warehouse.reconciliation.totals().discrepancies == {("settlement_for_unknown_case", "error"): 1}
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    assert warehouse.reconciliation.totals().discrepancies == {("settlement_for_unknown_case", "error"): 1}


def test_the_analysts_file_is_published_masked_and_whole(warehouse, tmp_path):
    _facts(warehouse)
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    target = tmp_path / "published" / "analytics.duckdb"
    counts = warehouse.analytics.publish(analytics_path=target, as_of=AS_OF, published_at="2026-06-01T12:00:00")
    assert counts["reconciliation"] == 4 and counts["open_cases"] == 2 and counts["settlements"] == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["analytics.duckdb"], "no temporary file left"
    with duckdb.connect(str(target), read_only=True) as con:
        pins = {r[0] for r in con.execute("SELECT customer_id_number FROM open_cases").fetchall()}
        assert pins == {"19811218-****"}
        assert con.execute("SELECT as_of FROM publish_info").fetchall() == [(AS_OF,)]


def test_where_every_invoice_stands(warehouse):
    _facts(warehouse)
    assert warehouse.status.registered_by_market() == {"SE": 4}
    assert ("SE", "registered", 4) in warehouse.status.outbox_by_state()
    assert warehouse.status.accounting() == {}, "nothing extracted: no invoice to account for"


def _closed_on(warehouse, closed_day: date, source_read: date) -> None:
    _facts(warehouse)
    closed = case("c-C", "C", claimed="300.00", closed="paid")
    closed.closed_at = datetime.combine(closed_day, datetime.min.time())
    warehouse.cases.upsert_cases([closed])
    warehouse.invoices.insert(balances=balances_table([(source_read, "erp", "demo-se", "demo-se/C", "C",
                                                        D("120.00"), None, "unpaid", True, "x.csv", 1,
                                                        datetime.combine(source_read, datetime.min.time()))]))


def test_closed_but_source_unpaid_waits_for_the_creditors_grace_days(warehouse):
    # Closed at Amili on May 10; the source was read on May 20, still showing 120.00 open.
    _closed_on(warehouse, date(2026, 5, 10), date(2026, 5, 20))
    warehouse.reconciliation.rebuild(as_of=AS_OF, grace_days={"demo-se": 14})
    assert warehouse.reconciliation.totals().discrepancies == {}, "10 days: the ERP may not have booked it yet"
    warehouse.reconciliation.rebuild(as_of=AS_OF, grace_days={"demo-se": 7})
    found = warehouse.reconciliation.discrepancies(WARNING_REASONS)
    assert [(d.reason, d.invoice_number) for d in found] == [("closed_but_source_unpaid", "C")]
    assert "on 2026-05-10" in found[0].detail and "as of 2026-05-20" in found[0].detail
    warehouse.reconciliation.rebuild(as_of=AS_OF, grace_days={"another-creditor": 30})
    assert warehouse.reconciliation.totals().discrepancies, "a creditor not named gets no grace"


def test_a_source_read_before_the_case_closed_is_no_discrepancy(warehouse):
    _closed_on(warehouse, date(2026, 5, 25), date(2026, 5, 20))
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    assert warehouse.reconciliation.totals().discrepancies == {}


def test_an_invoice_number_with_slashes_is_named_whole(warehouse):
    """The discrepancy list and the books report name the invoice by its number: ``2026/0042``, not ``2026``."""
    number = "2026/0042/B"
    warehouse.outbox.enqueue([entry(number, amount="100.00")])
    warehouse.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED, case_id="c-S")])
    warehouse.cases.upsert_cases([case("c-S", number, claimed="100.00")])
    warehouse.settlements.upsert_lines([line("l-S", "c-S", "500.00", number=number)])
    warehouse.reconciliation.rebuild(as_of=AS_OF)
    [found] = warehouse.reconciliation.discrepancies(["paid_out_exceeds_claimed"])
    assert found.invoice_number == number
    assert [r["invoice_number"] for r in warehouse.reports.discrepancies()
            if r["reason"] == "paid_out_exceeds_claimed"] == [number]
