"""validate_partition (single-invoice rules at extract time, cross rules on keys, verdicts in SQL)
gives exactly what the pure ``validate_invoices`` gives over the whole partition at once."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from pydantic import TypeAdapter

from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.validation import CROSS_RULES, validate_invoices
from amili_pipelines.domain.validation.cross import cross_invoice_issues
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from tests.support import synthetic
from tests.support.sources import ACME_HEAD, creditors_with

AS_OF = date(2026, 11, 21)
SRC = """      - name: {name}
        kind: csv
        path: {path}
        column_preset: se-erp
        decimal: ','
        thousands: ' '
        payment_reference_scheme: {scheme}
"""


def _expected(conn, schemes):
    """The whole partition validated at once: every invoice's own rules, and the cross-invoice rules
    over every row the day's reads hold (a paid or not-yet-due copy of a number counts too)."""
    rows = conn.execute("SELECT rowid, source, invoice_json::VARCHAR FROM extracted_invoices"
                        " ORDER BY source, location, row_number").fetchall()
    invoices = TypeAdapter(list[SourceInvoice]).validate_json("[" + ",".join(r[2] for r in rows) + "]")
    own = [[i for i in v.issues if i.rule not in CROSS_RULES]
           for v in validate_invoices(invoices, reference_schemes=schemes)]
    copies = [SimpleNamespace(source=src, creditor=c, invoice_number=n, location=loc, row=row, open_balance=bal,
                              due_date=due, customer_id_number=None, currency=None)
              for src, c, n, loc, row, bal, due in conn.execute(
                  "SELECT source, creditor, invoice_number, location, row_number, open_balance, due_date"
                  " FROM source_balances WHERE NOT is_unpaid AND invoice_number <> ''").fetchall()]
    everything = sorted([*invoices, *copies], key=lambda x: (x.source, x.location, x.row))
    cross = cross_invoice_issues(everything)
    position = {id(inv): k for k, inv in enumerate(invoices)}
    for i, x in enumerate(everything):
        if isinstance(x, SourceInvoice):
            own[position[id(x)]] += cross.get(i, [])
    issues = Counter((src, inv.invoice_key, i.rule, i.severity.value, i.field, i.value, i.message, i.location,
                      i.row) for (_, src, _), inv, found in zip(rows, invoices, own, strict=True) for i in found)
    valid = {rid: not any(i.severity.value == "error" for i in found)
             for (rid, _, _), found in zip(rows, own, strict=True)}
    return issues, valid


def _actual(conn):
    issues = Counter(conn.execute("SELECT source, invoice_key, rule, severity, field, value, message, location,"
                                  " row_number FROM invoice_issues").fetchall())
    return issues, dict(conn.execute("SELECT rowid, is_valid FROM extracted_invoices").fetchall())


def test_partition_verdicts_equal_whole_partition_validation(tmp_path: Path, warehouse) -> None:
    # Two sources sharing invoice numbers: duplicates and conflicts across sources, plus planted defects.
    synthetic.write_se_csv(tmp_path / "a.csv", invoices=400, seed=11, invalid_share=0.3, encoding="utf-8")
    synthetic.write_se_csv(tmp_path / "b.csv", invoices=150, seed=12, invalid_share=0.3, encoding="utf-8")
    creds = creditors_with(tmp_path, ACME_HEAD + SRC.format(name="a", path="a.csv", scheme="ocr-length")
                           + SRC.format(name="b", path="b.csv", scheme="ocr"))
    for name in ("a", "b"):
        extract_source(warehouse, creditors=creds, source_name=name, partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    expected = _expected(warehouse.connection, {"a": "ocr-length", "b": "ocr"})
    assert _actual(warehouse.connection) == expected
    assert v.by_rule.get("invoice.duplicate_across_sources") or v.by_rule.get("invoice.conflict_across_sources")
    assert v.extracted == v.valid + v.quarantined == len(expected[1])
    assert v.quarantined == sum(not ok for ok in expected[1].values())

    # Idempotent; and a source without a matching rule-check record is re-validated from storage.
    again = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert again == v and _actual(warehouse.connection) == expected
    warehouse.connection.execute("DELETE FROM source_rule_checks WHERE source = 'b'")
    warehouse.connection.execute("DELETE FROM invoice_issues WHERE source = 'b'")
    stale = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert stale == v and _actual(warehouse.connection) == expected
