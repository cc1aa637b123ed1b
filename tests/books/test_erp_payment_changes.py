"""Money told to the ERP when Amili's lines change after they were exported: the ERP gets the
difference in a row of its own (an ERP that imports every file then holds what Amili says now)."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from amili_pipelines.books import write_erp_feedback
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from tests.support.records import NOW, line, payout

D = Decimal
DAY = date(2026, 6, 10)
SE = CreditorConfig(key="demo-se", name="Demo Sverige AB", market=Market.SE, account_id="a", creditor_id="c",
                    books={"erp_feedback": {"formats": ["csv"]}})
NO = CreditorConfig(key="demo-no", name="Demo Norge AS", market=Market.NO, organization_id="org-1",
                    books={"erp_feedback": {"formats": ["csv"]}})
CREDITORS = CreditorsFile(creditors=[SE, NO])


def _se_line(line_id: str, case_id: str, principal: str, **kw):
    return dataclasses.replace(line(line_id, case_id, principal, payout_id="p1", number=case_id, **kw),
                               invoice_key=f"demo-se/{case_id}", creditor="demo-se")


def _no_line(line_id: str, principal: str, **kw):
    return dataclasses.replace(line(line_id, "n-1", principal, market="NO", number="N1", **kw),
                               invoice_key="demo-no/N1", creditor="demo-no")


def _told(books: Path, creditor: str) -> dict[tuple[str, str], Decimal]:
    """(invoice, case) -> capital over every payments file the ERP imported."""
    out: dict[tuple[str, str], Decimal] = {}
    for path in sorted((books / creditor / "erp").glob(f"{creditor}_payments_*.csv")):
        for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
            key = (r["invoice_number"], r["case_id"])
            out[key] = out.get(key, D(0)) + D(r["capital"])
    return out


def test_a_late_or_moved_swedish_line_reaches_the_erp_as_a_difference(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        paid = dataclasses.replace(payout("p1", "175.00"), status="paid", creditor="demo-se", payout_reference="PO-1")
        wh.settlements.upsert_payouts([paid])
        wh.settlements.upsert_lines([_se_line("l1", "c-A", "200.00")])
        write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY)
        # A second line of the same payout and case arrives later.
        wh.settlements.upsert_lines([_se_line("l2", "c-A", "40.00")])
        write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=1))
        assert _told(books, "demo-se") == {("c-A", "c-A"): D("240.00")}
        # Amili moves the late line to another case.
        wh.settlements.upsert_lines([_se_line("l2", "c-B", "40.00", updated=NOW + timedelta(days=1))])
        write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=2))
        again = write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=2))
    assert _told(books, "demo-se") == {("c-A", "c-A"): D("200.00"), ("c-B", "c-B"): D("40.00")}
    assert again.new_rows == {}


def test_a_norwegian_settlement_corrected_after_export_reaches_the_erp_as_a_difference(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.settlements.upsert_lines([_no_line("s1", "200.00")])
        write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY)
        wh.settlements.upsert_lines([_no_line("s1", "200.00", updated=NOW + timedelta(days=1))])
        unchanged = write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=1))
        wh.settlements.upsert_lines([_no_line("s1", "240.00", updated=NOW + timedelta(days=2))])
        fixed = write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=2))
    assert unchanged.new_rows == {} and fixed.new_rows == {"demo-no/payments": 1}
    assert _told(books, "demo-no") == {("N1", "n-1"): D("240.00")}
