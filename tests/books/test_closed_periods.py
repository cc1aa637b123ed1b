"""A creditor's closed periods (``books: closed_through``): a payout Amili reports after the
accountant closed its month is booked on the first open day, says so, and is counted for a person;
nothing already written moves. Real DuckDB, real files, SIE read back by the tests' own reader."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.books import write_erp_feedback, write_ledger
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile, CreditorsFileError
from amili_pipelines.domain.invoice import Market
from amili_pipelines.settings import load_creditors
from amili_pipelines.warehouse import open_warehouse
from tests.support.records import line, payout
from tests.support.sie import read_sie

D = Decimal
DAY = date(2026, 7, 10)  # the books' business day; June is closed, July open
JUNE_CLOSED = date(2026, 6, 30)


def _creditors(closed_through: date | None) -> CreditorsFile:
    books: dict = {"erp_feedback": {"formats": ["csv"]}}
    if closed_through is not None:  # absent, not null: the creditors file as it was before the setting
        books["closed_through"] = closed_through
    return CreditorsFile(creditors=[
        CreditorConfig(key="demo-se", name="Demo Sverige AB", market=Market.SE, account_id="a", creditor_id="c",
                       books=books),
        CreditorConfig(key="demo-no", name="Demo Norge AS", market=Market.NO, organization_id="org-1", books=books)])


def _paid(payout_id: str, paid_on: date):
    """A paid Swedish payout of one case: 200.00 capital, 175.00 to the bank."""
    p = dataclasses.replace(payout(payout_id, "175.00"), status="paid", creditor="demo-se",
                            payout_reference=f"PO-{payout_id}", payout_date=paid_on)
    ln = dataclasses.replace(line(f"{payout_id}-l1", f"c-{payout_id}", "200.00", payout_id=payout_id,
                                  number=f"F{payout_id}"), invoice_key=f"demo-se/F{payout_id}", creditor="demo-se")
    return p, ln


def _book(wh, payouts: list, *, closed_through: date | None, day: date = DAY, books: Path):
    for p, ln in payouts:
        wh.settlements.upsert_payouts([p])
        wh.settlements.upsert_lines([ln])
    return write_ledger(wh, creditors=_creditors(closed_through), books_dir=books, day=day)


def _verifications(books: Path) -> list:
    out = [v for p in sorted((books / "demo-se" / "ledger").glob("*.si")) for v in read_sie(p).verifications]
    assert all(v.balance == 0 for v in out)
    return out


def _bank(v) -> Decimal:
    return sum((a for account, a in v.transactions if account == "1930"), D(0))


def test_a_late_payout_of_a_closed_month_is_booked_on_the_first_open_day_and_says_so(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        summary = _book(wh, [_paid("p1", date(2026, 6, 12))], closed_through=JUNE_CLOSED, books=books)
        write_erp_feedback(wh, creditors=_creditors(JUNE_CLOSED), books_dir=books, day=DAY)
        files = {p: p.read_bytes() for p in (books / "demo-se").rglob("*.*")}
        again = write_ledger(wh, creditors=_creditors(JUNE_CLOSED), books_dir=books, day=DAY)
    [v] = _verifications(books)
    assert v.day == date(2026, 7, 1), "dated the first day after the closed periods, not in closed June"
    assert v.text == "Amili utbetalning PO-p1 2026-06-12, bokförd i öppen period", "never silently: the text says so"
    assert _bank(v) == D("175.00")
    meta = summary.metadata()
    assert meta["verifications_moved"] == 1 and "PO-p1 of 2026-06-12 dated 2026-07-01" in meta["moved"]
    [attention] = needs_attention({"books/ledger_files": meta})
    assert "closed period" in attention and "PO-p1" in attention
    # The ERP is told Amili's own payout date and the same money: matched to the verification by the
    # reference and the date its text names.
    [erp] = sorted((books / "demo-se" / "erp").glob("demo-se_payments_*.csv"))
    [row] = csv.DictReader(io.StringIO(erp.read_text(encoding="utf-8")))
    assert (row["payout_reference"], row["payout_date"], D(row["paid_out"])) == ("PO-p1", "2026-06-12", _bank(v))
    # Rerunning the day books nothing and rebuilds every file byte for byte.
    assert again.verifications == {} and again.metadata()["verifications_moved"] == 0
    assert {p: p.read_bytes() for p in files} == files


def test_a_payout_in_an_open_period_keeps_its_own_date_and_text(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        summary = _book(wh, [_paid("p1", date(2026, 6, 30)), _paid("p2", date(2026, 7, 1))],
                        closed_through=JUNE_CLOSED, books=books)
    moved, kept = _verifications(books)
    assert (moved.day, kept.day) == (date(2026, 7, 1), date(2026, 7, 1)), "the closed day itself is closed"
    assert kept.text == "Amili utbetalning PO-p2", "an open period's payout is booked as before"
    assert summary.metadata()["verifications_moved"] == 1 and "PO-p2" not in summary.metadata()["moved"]


def test_without_closed_periods_a_late_payout_is_dated_its_own_day_as_before(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        summary = _book(wh, [_paid("p1", date(2026, 6, 12))], closed_through=None, books=books)
    [v] = _verifications(books)
    assert (v.day, v.text, _bank(v)) == (date(2026, 6, 12), "Amili utbetalning PO-p1", D("175.00"))
    assert summary.metadata()["verifications_moved"] == 0 and "moved" not in summary.metadata()
    assert needs_attention({"books/ledger_files": summary.metadata()}) == []


def test_a_norwegian_settlement_day_of_a_closed_month_is_journaled_on_the_first_open_day(tmp_path):
    books = tmp_path / "books"
    settled = dataclasses.replace(line("s1", "n-1", "200.00", market="NO", settled=date(2026, 6, 20)),
                                  creditor="demo-no")
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.settlements.upsert_lines([settled])
        summary = write_ledger(wh, creditors=_creditors(JUNE_CLOSED), books_dir=books, day=DAY)
    [journal] = sorted((books / "demo-no" / "ledger").glob("*.csv"))
    rows = list(csv.DictReader(io.StringIO(journal.read_text(encoding="utf-8"))))
    assert {(r["Dato"], r["Tekst"]) for r in rows} == {("2026-07-01", "Amili oppgjør 2026-06-20, bokført i åpen periode")}
    assert summary.metadata()["verifications_moved"] == 1


def test_closing_a_period_later_moves_nothing_already_written(tmp_path):
    books = tmp_path / "books"
    booked_on = date(2026, 6, 15)
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        _book(wh, [_paid("p1", date(2026, 6, 12))], closed_through=None, day=booked_on, books=books)
        [first_file] = (books / "demo-se" / "ledger").glob("*.si")
        before = first_file.read_bytes()
        # The accountant closes June; a payout of June Amili reports late is booked in July.
        rebuilt = _book(wh, [], closed_through=JUNE_CLOSED, day=booked_on, books=books)  # `books --day`
        later = _book(wh, [_paid("p2", date(2026, 6, 20))], closed_through=JUNE_CLOSED, books=books)
    assert rebuilt.verifications == {} and first_file.read_bytes() == before, "history is not rewritten"
    old, new = _verifications(books)
    assert (old.day, old.text) == (date(2026, 6, 12), "Amili utbetalning PO-p1")
    assert new.day == date(2026, 7, 1) and later.metadata()["verifications_moved"] == 1


_YAML = """creditors:
  - key: demo-se
    name: Demo Sverige AB
    market: SE
    account_id: a
    creditor_id: c
    books:
      closed_through: {value}
"""


@pytest.mark.parametrize(("value", "says"), [
    ("2026-02-30", "2026-02-30 is not a day in the calendar"),
    ("31.10.2026", "YYYY-MM-DD"),
    ("20261031", "YYYY-MM-DD"),  # not read as seconds since 1970
    ("2026-10-31T00:00:00", "YYYY-MM-DD"),
])
def test_a_closed_through_that_is_no_day_is_a_config_error_naming_creditor_and_field(tmp_path, value, says):
    path = tmp_path / "creditors.yaml"
    path.write_text(_YAML.format(value=value), encoding="utf-8")
    with pytest.raises(CreditorsFileError) as err:
        load_creditors(path)
    assert "creditor 'demo-se'" in str(err.value) and "books.closed_through" in str(err.value)
    assert says in str(err.value)
    path.write_text(_YAML.format(value="2026-10-31"), encoding="utf-8")
    assert load_creditors(path).creditor("demo-se").books.closed_through == date(2026, 10, 31)
