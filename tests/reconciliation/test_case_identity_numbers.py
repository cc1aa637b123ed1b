"""Norwegian cases carry the debtor's identity number: in full in the operational cases table,
masked in the analysts' published file."""

from __future__ import annotations

import duckdb
import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def test_norwegian_cases_carry_the_debtors_number_masked_when_published(followup, monkeypatch):
    # Registered straight from the outbox (no extraction): the number can only come from Amili's case.
    fs.populated(followup, monkeypatch, se=2, no=3, days=5)
    sent = {i.invoice_number: i.customer_id_number for i in fs.make_invoices(Market.NO, 3)}
    assert sorted(sent.values()) == sorted(fs.NO_PINS)

    with open_warehouse(followup.db_path, read_only=True) as wh:
        stored = dict(wh.connection.execute(
            "SELECT invoice_number, customer_id_number FROM cases WHERE market = 'NO'").fetchall())
    assert stored == sent

    con = duckdb.connect(str(followup.analytics_path), read_only=True)
    try:
        published = dict(con.execute(
            "SELECT invoice_number, customer_id_number FROM open_cases WHERE market = 'NO'").fetchall())
    finally:
        con.close()
    assert published == {number: pin[:6] + "*****" for number, pin in sent.items()}
    assert published[next(n for n, p in sent.items() if p == "01019012345")] == "010190*****"
