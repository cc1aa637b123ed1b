"""The ledger when Amili's money lines change after they were booked: a corrected line, a late line of
a payout already booked, a payout whose lines do not make up its transfer. Real DuckDB, real files."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.books import write_ledger
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from tests.support.records import NOW, line, payout
from tests.support.sie import read_sie

D = Decimal
DAY = date(2026, 6, 10)
SE = CreditorConfig(key="demo-se", name="Demo Sverige AB", market=Market.SE, account_id="a", creditor_id="c")
NO = CreditorConfig(key="demo-no", name="Demo Norge AS", market=Market.NO, organization_id="org-1",
                    books={"erp_feedback": {"formats": ["csv"]}})
CREDITORS = CreditorsFile(creditors=[SE, NO])


def _paid(payout_id: str, total: str, *, updated: datetime = NOW):
    return dataclasses.replace(payout(payout_id, total, updated=updated), status="paid", creditor="demo-se",
                               payout_reference=f"PO-{payout_id}")


def _no_line(line_id: str, principal: str, *, updated: datetime = NOW):
    return dataclasses.replace(line(line_id, "no-case", principal, market="NO", updated=updated,
                                    settled=date(2026, 6, 1)), creditor="demo-no")


def _se_bank(books: Path) -> list[tuple[date, str, Decimal]]:
    """(verification date, text, bank debit) of every verification in every SIE file, in file order."""
    out = []
    for path in sorted((books / "demo-se" / "ledger").glob("*.si")):
        for v in read_sie(path).verifications:
            assert v.balance == 0, f"{path.name}: {v.text} does not balance"
            out.append((v.day, v.text, sum((a for acc, a in v.transactions if acc == "1930"), D(0))))
    return out


def _no_journal(books: Path) -> dict[str, Decimal]:
    """Account -> debit minus credit over every Norwegian journal file."""
    out: dict[str, Decimal] = {}
    for path in sorted((books / "demo-no" / "ledger").glob("*.csv")):
        for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=","):
            amount = D(r["Debet"] or "0") - D(r["Kredit"] or "0")
            out[r["Konto"]] = out.get(r["Konto"], D(0)) + amount
    return out


def test_a_norwegian_settlement_corrected_after_booking_gets_a_correction_verification(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.settlements.upsert_lines([_no_line("s1", "200.00")])
        first = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY)
        assert first.verifications == {"demo-no": 1}
        # Read again unchanged: nothing to book.
        wh.settlements.upsert_lines([_no_line("s1", "200.00", updated=NOW + timedelta(days=1))])
        assert write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=1)).verifications == {}
        # Amili corrects the settlement: 240 of capital, not 200.
        wh.settlements.upsert_lines([_no_line("s1", "240.00", updated=NOW + timedelta(days=2))])
        fixed = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=2))
        again = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=2))
    assert fixed.verifications == {"demo-no": 1} and fixed.booked == {"demo-no": "35.00"}
    assert again.verifications == {}
    journal = _no_journal(books)
    assert journal["1500"] == D("-240.00"), "receivables credited with what the settlement says now"
    assert journal["1920"] == D("210.00") and journal["7770"] == D("24.00") and journal["2710"] == D("6.00")
    rows = (books / "demo-no" / "ledger" / f"demo-no_journal_{DAY + timedelta(days=2)}_1.csv").read_text()
    assert "endring" in rows and (DAY + timedelta(days=2)).isoformat() in rows, \
        "the correction is dated the day it is booked (the settlement's period may be closed)"


def test_a_late_line_of_a_booked_swedish_payout_never_debits_the_bank_twice(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.settlements.upsert_payouts([_paid("p1", "175.00")])
        wh.settlements.upsert_lines([line("l1", "c-B", "200.00", payout_id="p1")])
        assert write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY).booked == {"demo-se": "175.00"}
        # A line of the same payout shows up later, Amili's transfer unchanged: the lines no longer
        # make up the transfer. Nothing is booked, the run says so.
        wh.settlements.upsert_lines([line("l2", "c-B", "4.00", payout_id="p1")])
        late = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=1))
        assert late.verifications == {} and late.metadata()["payouts_held"] == 1
        assert "PO-p1" in late.metadata()["held"]
        assert any("PO-p1" in x for x in needs_attention({"books/ledger_files": late.metadata()}))
        # Amili's payout now says 178.50: the difference is booked, the bank debited 3.50 more.
        wh.settlements.upsert_payouts([_paid("p1", "178.50", updated=NOW + timedelta(days=2))])
        fixed = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=2))
    assert fixed.verifications == {"demo-se": 1} and fixed.metadata()["payouts_held"] == 0
    booked = _se_bank(books)
    assert [b for _, _, b in booked] == [D("175.00"), D("3.50")]
    assert sum(b for _, _, b in booked) == D("178.50"), "the bank got Amili's transfer once"
    assert booked[1][0] == DAY + timedelta(days=2) and "ändring" in booked[1][1]


def test_a_swedish_line_corrected_after_booking_is_booked_as_the_difference(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.settlements.upsert_payouts([_paid("p1", "175.00")])
        wh.settlements.upsert_lines([line("l1", "c-B", "200.00", payout_id="p1")])
        write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY)
        wh.settlements.upsert_lines([line("l1", "c-B", "240.00", payout_id="p1", updated=NOW + timedelta(days=1))])
        wh.settlements.upsert_payouts([_paid("p1", "210.00", updated=NOW + timedelta(days=1))])
        write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY + timedelta(days=1))
    verifications = [v for p in sorted((books / "demo-se" / "ledger").glob("*.si")) for v in read_sie(p).verifications]
    assert len(verifications) == 2 and all(v.balance == 0 for v in verifications)
    total: dict[str, Decimal] = {}
    for v in verifications:
        for account, amount in v.transactions:
            total[account] = total.get(account, D(0)) + amount
    assert total == {"1930": D("210.00"), "6062": D("24.00"), "2641": D("6.00"), "1510": D("-240.00")}, \
        "the journal equals the corrected line, nothing left in rounding"


def test_a_payout_whose_lines_do_not_make_up_its_transfer_is_not_booked_into_rounding(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        # Lines read so far pay out 87.50 of a 175.00 transfer (the rest not read yet).
        wh.settlements.upsert_payouts([_paid("p1", "175.00"), _paid("p2", "87.51")])
        wh.settlements.upsert_lines([line("l1", "c-B", "100.00", payout_id="p1"),
                                     line("l2", "c-C", "100.00", payout_id="p2")])
        summary = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY)
    assert summary.verifications == {"demo-se": 1} and summary.metadata()["payouts_held"] == 1
    [booked] = _se_bank(books)
    assert booked[2] == D("87.51"), "an öre of difference is rounding; 87.50 is not"


def test_a_settlement_in_another_currency_is_never_added_to_kroner(tmp_path):
    books = tmp_path / "books"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.settlements.upsert_lines([_no_line("s1", "200.00"),
                                     dataclasses.replace(_no_line("s2", "100.00"), currency="SEK")])
        summary = write_ledger(wh, creditors=CREDITORS, books_dir=books, day=DAY)
    assert summary.verifications == {} and summary.metadata()["payouts_held"] == 1
    assert "SEK" in summary.metadata()["held"]
    assert not list((books / "demo-no" / "ledger").glob("*.csv")), "nothing booked of that day"
