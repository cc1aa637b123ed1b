"""Every SQL example in docs/analytics.md runs against a published file with real data."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.domain.outbox import OutboxEntry, OutboxState, Outcome
from amili_pipelines.publish import publish_analytics
from amili_pipelines.reconciliation.reconcile import reconcile
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.tables import issues_table
from tests.support import followup as fs

DOC = PROJECT_ROOT / "docs" / "analytics.md"


def sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_examples():
    assert len(sql_blocks()) >= 8


def _add_a_quarantined_rejected_and_doubled_invoice(wh) -> None:
    """Facts the registration-only population lacks, so every example has something to show."""
    day = date(2026, 5, 1)
    issue = Issue(rule="se.personnummer.checksum", severity=Severity.ERROR, field="customer_id_number",
                  message="x.csv row 3: customer_id_number: check digit is wrong", location="x.csv", row=3)
    wh.invoices.insert(issues=issues_table(partition_date=day, source="demo-se-erp",
                                           issues=[("demo-se/Q-1", issue)]))
    wh.connection.execute(
        "INSERT INTO extracted_invoices (partition_date, source, invoice_key, creditor, market, location, row_number,"
        " invoice_number, line_count, is_valid, invoice_json, extracted_at)"
        " VALUES (?, 'demo-se-erp', 'demo-se/Q-1', 'demo-se', 'SE', 'x.csv', 3, 'Q-1', 1, false, '{}', now())", [day])
    key = wh.connection.execute("SELECT invoice_key FROM registrations WHERE market = 'SE' LIMIT 1").fetchall()[0][0]
    wh.connection.execute("INSERT INTO amili_registrations_seen VALUES ('SE', ?, 'another-case', NULL, now())", [key])
    wh.outbox.enqueue([OutboxEntry(Market.SE, "demo-se/R-1", "demo-se", "R-1", "k-r-1", None, {}, None, "SEK")])
    wh.outbox.record_outcomes([Outcome(Market.SE, "demo-se/R-1", OutboxState.REJECTED, error="creditor is inactive",
                                       rejection=[{"message": "creditor is inactive"}])])


@pytest.mark.integration
def test_every_sql_block_in_the_analytics_doc_runs(followup, monkeypatch):
    fs.populated(followup, monkeypatch, se=8, no=6, days=100)
    with open_warehouse(followup.db_path) as wh:
        _add_a_quarantined_rejected_and_doubled_invoice(wh)
        reconcile(wh)
        publish_analytics(wh, analytics_path=followup.analytics_path)
    con = duckdb.connect(str(followup.analytics_path), read_only=True)
    try:
        for block in sql_blocks():
            cursor = con.execute(block)
            rows = cursor.fetchall()
            selected = [d[0] for d in cursor.description]
            assert rows, f"the example returns nothing on populated data:\n{block}"
            assert all(len(r) == len(selected) for r in rows)
            assert not any(name.startswith("?") for name in selected)
        assert "rejected by Amili" in {r[0] for r in con.execute(sql_blocks()[-1]).fetchall()}
    finally:
        con.close()


def test_every_example_that_adds_money_keeps_the_currencies_apart():
    """The doc's own rule ("never add amounts of different currencies: group by currency"), kept
    by its examples: an analyst copies them."""
    adding = [block for block in sql_blocks() if re.search(r"\bsum\((?!cases\b)", block)]
    assert adding
    for block in adding:
        assert re.search(r"GROUP BY ALL", block) and re.search(r"\bcurrency\b", block.split("FROM")[0]), \
            f"sums money without selecting (and so grouping by) currency:\n{block}"
