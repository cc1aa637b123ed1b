"""The ledger: SIE 4I parsed back balances and equals the reconciliation's paid-out figures to the öre;
Norway's journal likewise; every payout booked once, however often a day runs."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from amili_pipelines.books import write_ledger
from amili_pipelines.books.journal import UnbalancedVerification, verification
from amili_pipelines.books.sie import sie_bytes
from amili_pipelines.domain.creditors import CreditorConfig
from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.books import LedgerLine
from tests.support.sie import read_sie

D = Decimal
SE_CREDITOR = CreditorConfig(key="demo-se", name="Demo Sverige AB", market=Market.SE, account_id="a",
                             creditor_id="c", books={"ledger": {"accounts": {"bank": "1940"}}})


def _line(line_id: str, principal: str, *, interest: str = "0", fees: str = "0", total: str | None = None,
          payout: str = "P1") -> LedgerLine:
    p, i, f = D(principal), D(interest), D(fees)
    commission = (p * D("0.1")).quantize(D("0.01"))
    vat = (commission * D("0.25")).quantize(D("0.01"))
    return LedgerLine(market="SE", line_id=line_id, payout_key=payout, payout_date=date(2026, 10, 2),
                      payout_reference="PO-20260930-1001", currency="SEK", principal=p, interest=i, fees=f,
                      commission=commission, vat=vat, paid_out=p + i + f - commission - vat,
                      payout_total=D(total) if total else None)


def test_a_payout_is_one_balanced_verification_on_the_configured_accounts():
    v = verification(SE_CREDITOR, [_line("l1", "1000.00", interest="12.34"), _line("l2", "500.00", fees="60.00")])
    rows = dict((a, D(x)) for a, x in v["transactions"])
    assert rows == {"1940": D("1384.84"), "6062": D("150.00"), "2641": D("37.50"), "1510": D("-1500.00"),
                    "8313": D("-12.34"), "3930": D("-60.00")}
    assert sum(rows.values()) == 0 and v["bank"] == "1384.84" and "PO-20260930-1001" in v["text"]
    # Amili's transfer differs from its lines by an öre: the difference goes to rounding, still balanced.
    odd = verification(SE_CREDITOR, [_line("l1", "1000.00", total="875.01")])
    assert dict((a, D(x)) for a, x in odd["transactions"])["3740"] == D("-0.01")
    assert sum(D(x) for _, x in odd["transactions"]) == 0


def test_a_verification_that_would_not_balance_is_refused():
    broken = _line("l1", "100.00")
    broken = LedgerLine(**{**broken.__dict__, "paid_out": D("1.00")})
    with pytest.raises(UnbalancedVerification):
        verification(SE_CREDITOR, [broken, _line("l2", "10.00")])


def test_sie_file_is_pc8_and_reads_back(tmp_path):
    v = verification(SE_CREDITOR, [_line("l1", "1000.00", fees="60.00")])
    path = tmp_path / "x.si"
    path.write_bytes(sie_bytes(SE_CREDITOR, [v, {**v, "date": "2025-12-30", "text": 'Amili "jul"'}],
                               export_day=date(2026, 1, 5), batch=1))
    assert "Påminnelseavgifter".encode("cp437") in path.read_bytes(), "å as code page 437 writes it"
    sie = read_sie(path)
    assert sie.first("#FORMAT") == ["PC8"] and sie.first("#SIETYP") == ["4"] and sie.first("#FLAGGA") == ["0"]
    assert sie.years == {0: (date(2026, 1, 1), date(2026, 12, 31)), -1: (date(2025, 1, 1), date(2025, 12, 31))}
    assert sie.accounts["1940"] and sie.accounts["3930"] == "Påminnelseavgifter"
    assert [x.text for x in sie.verifications] == [v["text"], 'Amili "jul"']
    assert all(x.balance == 0 and x.number == "" for x in sie.verifications)


@pytest.mark.integration
def test_the_ledger_equals_the_reconciliation_to_the_ore_and_books_each_payout_once(followed):
    day = followed.day
    with open_warehouse(followed.db) as wh:
        first = write_ledger(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
        paid_out = dict(wh.connection.execute(
            "SELECT creditor, sum(paid_out) FROM reconciliation_by_creditor GROUP BY ALL").fetchall())
        payouts = wh.connection.execute(
            "SELECT count(*) FROM payouts WHERE status = 'paid' AND creditor = 'demo-se'").fetchall()[0][0]
        settlement_days = wh.connection.execute(
            "SELECT count(DISTINCT settlement_date) FROM settlement_lines WHERE creditor = 'demo-no'").fetchall()[0][0]
    ledger = followed.books / "demo-se" / "ledger"
    sie = read_sie(ledger / f"demo-se_amili_{day}_1.si")
    assert len(sie.verifications) == payouts > 0, "one verification per payout"
    assert all(v.balance == 0 for v in sie.verifications), "every verification balances"
    bank = sum(a for v in sie.verifications for acc, a in v.transactions if acc == "1930")
    assert bank == paid_out["demo-se"], "what reached the bank is what the reconciliation says was paid out"
    assert sie.first("#FNAMN") == ["Demo Sverige AB"] and min(sie.years) <= 0
    assert all(sie.years[min(sie.years)][0] <= v.day for v in sie.verifications)

    rows = list(csv.DictReader(io.StringIO(
        (followed.books / "demo-no" / "ledger" / f"demo-no_journal_{day}_1.csv").read_text(encoding="utf-8-sig")),
        delimiter=";"))
    amount = lambda r, col: D(r[col].replace(",", ".") or "0")  # noqa: E731
    by_voucher: dict[str, Decimal] = {}
    for r in rows:
        by_voucher[r["Bilag"]] = by_voucher.get(r["Bilag"], D(0)) + amount(r, "Debet") - amount(r, "Kredit")
    assert len(by_voucher) == settlement_days and set(by_voucher.values()) == {D(0)}
    assert sum(amount(r, "Debet") for r in rows if r["Konto"] == "1920") == paid_out["demo-no"]

    # Running the day again, or the next one: the same files, not one more verification.
    before = {p.name: p.read_bytes() for p in ledger.iterdir()}
    with open_warehouse(followed.db) as wh:
        again = write_ledger(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
        nxt = write_ledger(wh, creditors=followed.creditors, books_dir=followed.books, day=day + timedelta(days=1))
    assert again.verifications == {} and nxt.verifications == {}
    assert {p.name: p.read_bytes() for p in ledger.iterdir()} == before
    assert first.verifications["demo-se"] == payouts
