"""Contract: cases, money lines and payouts are stored once by Amili's ids and tied to our invoices."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.warehouse.tables import extraction_tables
from tests.support.records import NOW, D, case, entry, invoice, line, payout, validated


def _registered(wh, number, case_id, *, market=Market.SE, creditor="demo-se", invoice_id=None):
    wh.outbox.enqueue([entry(number, market=market, creditor=creditor)])
    wh.outbox.record_outcomes([Outcome(market, f"{creditor}/{number}", OutboxState.REGISTERED, case_id=case_id,
                                       amili_invoice_id=invoice_id)])


def test_cases_are_upserted_and_matched_to_their_invoices(warehouse):
    _registered(warehouse, "A", "c-a")
    assert warehouse.cases.upsert_cases([case("c-a", "A"), case("c-x", "X", creditor="other")]) == (2, 0, 1)
    assert warehouse.cases.case("SE", "c-a").invoice_key == "demo-se/A"
    assert warehouse.cases.case("SE", "c-x").invoice_key == "other/X", "unmatched keeps what Amili says"
    later = NOW + timedelta(days=3)
    assert warehouse.cases.upsert_cases([case("c-a", "A", closed="paid", updated=later)]) == (0, 1, 0)
    stored = warehouse.cases.case("SE", "c-a")
    assert stored.is_closed and stored.closed_reason == "paid" and stored.remaining_capital == D("0.00")
    assert warehouse.cases.closed_count() == 1
    assert warehouse.cases.se_cases_updated_until() == later
    assert warehouse.cases.case("SE", "nope") is None


def test_a_case_without_the_debtors_number_takes_the_one_of_its_invoice(warehouse):
    extracted = [invoice(n, creditor="demo-no", market=Market.NO, pin=pin, row=i)
                 for i, (n, pin) in enumerate([("N1", "01019012345"), ("N2", "15057512345")], start=1)]
    invoices, _ = extraction_tables(partition_date=date(2026, 5, 1), source="erp",
                                    validated=[validated(i) for i in extracted])
    warehouse.invoices.insert(invoices=invoices)
    for n in ("N1", "N2"):
        _registered(warehouse, n, f"c-{n}", market=Market.NO, creditor="demo-no")
    without = dataclasses.replace(case("c-N1", "N1", market="NO", creditor="demo-no"), customer_id_number=None)
    own = dataclasses.replace(case("c-N2", "N2", market="NO", creditor="demo-no"), customer_id_number="31129912345")
    warehouse.cases.upsert_cases([without, own])
    assert warehouse.cases.case("NO", "c-N1").customer_id_number == "01019012345"
    assert warehouse.cases.case("NO", "c-N2").customer_id_number == "31129912345", "Amili's own number wins"


def test_the_same_case_twice_in_one_read_is_stored_once(warehouse):
    assert warehouse.cases.upsert_cases([case("c-a", "A"), case("c-a", "A", remaining="10.00")]) == (1, 0, 1)
    assert warehouse.cases.case("SE", "c-a").remaining_capital == D("10.00"), "the last one read wins"


def test_money_lines_are_stored_once_and_tied_to_cases_that_arrive_later(warehouse):
    _registered(warehouse, "N1", "c-n1", market=Market.NO, creditor="demo-no", invoice_id="inv-n1")
    first = [line("s-1", None, "100.00", market="NO", amili_invoice_id="inv-n1"),
             line("s-2", "c-unknown", "50.00", market="NO")]
    assert warehouse.settlements.upsert_lines(first) == (2, 0)
    assert warehouse.settlements.upsert_lines(first) == (0, 2)
    assert warehouse.settlements.totals() == (2, {"NOK": D("131.25")}), "nothing counted twice"
    stored = warehouse.settlements.line("NO", "s-1")
    assert (stored.case_id, stored.invoice_key) == ("c-n1", "demo-no/N1"), "tied through the outbox"
    assert warehouse.settlements.line("NO", "s-2").invoice_key is None
    assert warehouse.settlements.no_newest_settlement_date("org-1") == date(2026, 5, 20)


def test_swedish_watermarks_and_payouts(warehouse):
    later = NOW + timedelta(hours=5)
    warehouse.settlements.upsert_lines([line("l-1", "c-1", "10.00", updated=NOW),
                                        line("l-2", "c-1", "20.00", updated=later, payout_id="p-1")])
    assert warehouse.settlements.se_lines_updated_until() == later
    assert warehouse.settlements.upsert_payouts([payout("p-1", "26.25")]) == (1, 0)
    assert warehouse.settlements.upsert_payouts([payout("p-1", "26.25", updated=later)]) == (0, 1)
    assert warehouse.settlements.se_payouts_updated_until() == later
    assert warehouse.settlements.line("SE", "l-2").payout_id == "p-1"


def test_swedish_watermarks_per_amili_creditor(warehouse):
    """A creditor added later has no watermark of its own yet: its whole history is read."""
    later = NOW + timedelta(hours=5)
    warehouse.cases.upsert_cases([dataclasses.replace(case("c-a", "A", updated=later), amili_creditor="cr-a"),
                                  dataclasses.replace(case("c-b", "B", updated=NOW), amili_creditor="cr-b")])
    assert warehouse.cases.se_cases_updated_until("cr-b") == NOW
    assert warehouse.cases.se_cases_updated_until("cr-new") is None
    assert warehouse.cases.se_cases_updated_until() == later
    warehouse.settlements.upsert_lines([dataclasses.replace(line("l-a", "c-a", "10.00", updated=later), amili_creditor="cr-a")])
    assert warehouse.settlements.se_lines_updated_until("cr-a") == later
    assert warehouse.settlements.se_lines_updated_until("cr-new") is None
    assert warehouse.settlements.se_payouts_updated_until("cr-new") is None
