"""The committed demo data through extract + validate into a real DuckDB file."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from amili_pipelines.settings import load_creditors
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from tests.support import synthetic

AS_OF = date(2026, 11, 21)


def test_demo_is_what_the_generator_writes(tmp_path: Path) -> None:
    synthetic.write_demo_assets(tmp_path)
    demo = Path(__file__).resolve().parents[2] / "assets" / "demo"
    for rel in ("se/unpaid_invoices.csv", "no/unpaid_invoices.csv", "no/peppol/NO-2026001.xml"):
        assert (tmp_path / rel).read_bytes() == (demo / rel).read_bytes(), rel


def test_demo_creditors_end_to_end(warehouse, demo_creditors) -> None:
    summaries = {s: extract_source(warehouse, creditors=demo_creditors, source_name=s, partition_date=AS_OF)
                 for s in ("demo-se-erp", "demo-no-peppol", "demo-no-erp")}
    se = summaries["demo-se-erp"]
    assert (se.rows_read, se.skipped_paid, se.skipped_not_due, se.extracted) == (230, 8, 6, 216)
    peppol = summaries["demo-no-peppol"]
    assert (peppol.rows_read, peppol.files_read, peppol.skipped_paid, peppol.skipped_not_due) == (30, 30, 1, 1)
    v = validate_partition(warehouse, creditors=demo_creditors, partition_date=AS_OF)
    assert v.extracted == sum(s.extracted for s in summaries.values()) == v.valid + v.quarantined
    assert v.by_source["demo-se-erp"]["quarantined"] == 19  # 18 planted defects, a duplicate hits 2 invoices
    assert v.by_source["demo-no-peppol"]["quarantined"] == 3
    for rule in ("se.personnummer.checksum", "se.orgnr.checksum", "invoice.currency.market", "parse.amount",
                 "invoice.number.unique", "line.total.consistent", "invoice.due_date.before_invoice_date",
                 "invoice.due_date.required", "peppol.namespace", "no.kid.checksum", "se.ocr.checksum"):
        assert v.by_rule.get(rule), rule
    assert "| rule |" in v.markdown_table()
    # nothing vanished: quarantine view = quarantined invoices, balances for every numbered record
    assert warehouse.connection.execute("SELECT count(DISTINCT invoice_key || source) FROM quarantine").fetchone()[0] >= 30
    statuses = dict(warehouse.connection.execute("SELECT status, count(*) FROM source_balances GROUP BY 1").fetchall())
    assert statuses["paid"] == 13 and statuses["not_due"] == 11
    valid = warehouse.invoices.valid_invoices(partition_date=AS_OF)
    assert len(valid) == v.valid
    assert {i.creditor for i in warehouse.invoices.valid_invoices(creditors={"demo-se"})} == {"demo-se"}
    # personal identity numbers are masked in every issue
    for value, message in warehouse.connection.execute(
        "SELECT value, message FROM invoice_issues WHERE field = 'customer_id_number'").fetchall():
        assert value is None or "*" in value
        assert value is None or "*" in message
    # re-running the partition replaces, never duplicates
    extract_source(warehouse, creditors=demo_creditors, source_name="demo-se-erp", partition_date=AS_OF)
    v2 = validate_partition(warehouse, creditors=demo_creditors, partition_date=AS_OF)
    assert (v2.extracted, v2.valid, v2.quarantined) == (v.extracted, v.valid, v.quarantined)


def test_read_once_and_quarantine_heals(tmp_path: Path, warehouse) -> None:
    demo = Path(__file__).resolve().parents[2] / "assets" / "demo" / "no" / "peppol"
    inbox = tmp_path / "peppol"
    shutil.copytree(demo, inbox)
    (tmp_path / "creditors.yaml").write_text(
        """creditors:
  - key: demo-no
    name: Demo Norge AS
    market: "NO"
    organization_id: 2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50
    sources:
      - {name: inbox, kind: peppol, path: "peppol/*.xml"}
""", encoding="utf-8")
    creds = load_creditors(tmp_path / "creditors.yaml")
    day1, day2 = date(2026, 11, 20), date(2026, 11, 21)
    s1 = extract_source(warehouse, creditors=creds, source_name="inbox", partition_date=day1)
    v1 = validate_partition(warehouse, creditors=creds, partition_date=day1)
    assert s1.files_read == 30 and v1.quarantined == 3
    bad = warehouse.connection.execute(
        "SELECT DISTINCT location FROM quarantine WHERE rule = 'peppol.namespace'").fetchone()[0]
    # The creditor re-sends the broken document as a proper Invoice.
    p = tmp_path / bad
    p.write_text(p.read_text(encoding="utf-8").replace("CreditNote-2", "Invoice-2"), encoding="utf-8")
    s2 = extract_source(warehouse, creditors=creds, source_name="inbox", partition_date=day2)
    # unchanged files are skipped (except the not-yet-due one, which is re-read as time passes)
    assert s2.files_read == 2 and s2.files_unchanged == 28
    validate_partition(warehouse, creditors=creds, partition_date=day2)
    assert warehouse.connection.execute("SELECT count(*) FROM quarantine WHERE rule = 'peppol.namespace'").fetchone()[0] == 0
    assert warehouse.connection.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 2
    # re-running day 1 re-reads its files (the partition is replaced, not emptied)
    again = extract_source(warehouse, creditors=creds, source_name="inbox", partition_date=day1)
    assert (again.files_read, again.files_unchanged) == (29, 1)  # the fixed file was read by day 2
