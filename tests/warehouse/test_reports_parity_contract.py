"""Contract: the report's figures are the same on both databases for the same data.

DuckDB divides DECIMALs in binary floating point, PostgreSQL in exact NUMERIC: a rate that lands
on a half (1.15 %) was rounded down on one and up on the other.
"""

from __future__ import annotations

from datetime import date

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from tests.support.records import D, case, entry, line

DAY = date(2026, 6, 10)


def _one_case(wh, *, claimed: str, paid: str) -> None:
    wh.outbox.enqueue([entry("A", amount=claimed)])
    wh.outbox.record_outcomes([Outcome(Market.SE, "demo-se/A", OutboxState.REGISTERED, case_id="c-A")])
    wh.cases.upsert_cases([case("c-A", "A", claimed=claimed)])
    wh.settlements.upsert_lines([line("l1", "c-A", paid, number="A")])
    wh.reconciliation.rebuild(as_of=DAY)


@pytest.mark.parametrize(("claimed", "paid", "rate"), [
    ("100.00", "1.15", "1.2"),     # a half, exactly: rounded half up, as money is
    ("100.00", "2.05", "2.1"),
    ("3.00", "1.00", "33.3"),
    ("200.00", "200.00", "100.0"),
])
def test_the_collection_rate_is_exact_and_rounded_half_up(warehouse, claimed, paid, rate):
    _one_case(warehouse, claimed=claimed, paid=paid)
    [row] = warehouse.reports.collection()
    assert row["collected"] == D(paid)
    assert row["collection_rate"] == D(rate)
    assert str(row["collection_rate"]) == rate, "a Decimal with one place on both databases, not a float"
