"""ERP feedback files: each fact once, the ERP's own columns, byte-identical reruns, a manifest, no identity numbers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest

from amili_pipelines.books import write_erp_feedback
from amili_pipelines.domain.books import FEEDBACK_PRESETS
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def _snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _csv(path, preset: str) -> list[dict[str, str]]:
    d = FEEDBACK_PRESETS[preset]
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(d.encoding)), delimiter=d.delimiter))


def test_each_fact_once_in_the_erps_columns_and_reruns_change_nothing(followed):
    day = followed.day
    with open_warehouse(followed.db) as wh:
        first = write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
        recon = dict(wh.connection.execute(
            "SELECT creditor, sum(paid_principal) FROM reconciliation GROUP BY ALL").fetchall())
        registered = dict(wh.connection.execute(
            "SELECT creditor, count(*) FROM registration_outbox WHERE state = 'registered' GROUP BY ALL").fetchall())
    se, no = followed.books / "demo-se" / "erp", followed.books / "demo-no" / "erp"
    assert first.new_rows["demo-se/handed_over"] == registered["demo-se"] == 16
    assert first.new_rows["demo-no/handed_over"] == registered["demo-no"] == 10
    assert first.new_rows["demo-se/payments"] > 0 and first.new_rows["demo-no/payments"] > 0

    # The Swedish ERP's import format: its column names, ";" and decimal comma, Windows-1252.
    handed = _csv(se / f"demo-se_handed_over_{day}_1.csv", "se-erp")
    assert list(handed[0]) == ["Fakturanr", "Ärende-id", "OCR", "Amili OCR", "Överlämnad", "Överlämnat belopp",
                               "Valuta"]
    assert all(r["Ärende-id"] and r["Amili OCR"] and "," in r["Överlämnat belopp"] for r in handed)
    payments = _csv(se / f"demo-se_payments_{day}_1.csv", "se-erp")
    assert {"Kapital", "Ränta", "Avgifter", "Provision", "Moms", "Utbetalt", "Utbetalningsreferens"} <= set(payments[0])
    # Every krona of capital Amili collected and paid out is in the files, once.
    capital = sum(Decimal(r["Kapital"].replace(",", ".")) for r in payments)
    assert capital == recon["demo-se"]
    no_payments = _csv(no / f"demo-no_payments_{day}_1.csv", "no-erp")
    assert sum(Decimal(r["Hovedstol"].replace(",", ".")) for r in no_payments) == recon["demo-no"]
    assert all(len(r["Utbetalingsdato"]) == 10 and r["Utbetalingsdato"][2] == "." for r in no_payments)
    # The Excel twin holds the same rows, amounts as numbers shown in kr.
    ws = openpyxl.load_workbook(se / f"demo-se_payments_{day}_1.xlsx").active
    assert ws.max_row == len(payments) + 1 and ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert "kr" in ws.cell(row=2, column=5).number_format

    # The manifest lists every file with its checksum, rows and totals.
    manifest = json.loads((se / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert {f["file"] for f in manifest} == {p.name for p in se.iterdir()} - {"manifest.json"}
    for f in manifest:
        assert hashlib.sha256((se / f["file"]).read_bytes()).hexdigest() == f["sha256"]
    assert {f["kind"] for f in manifest} == {"handed_over", "payments"}

    # Nothing personal: the test debtors' identity numbers and names appear in no file.
    for folder in (se, no):
        for path in folder.iterdir():
            text = path.read_bytes().decode("latin-1") if path.suffix != ".xlsx" else ""
            assert not any(pin in text or pin.replace("-", "") in text for pin in fs.SE_PINS + fs.NO_PINS)
            assert "Test Person" not in text

    # Re-running the day: the same bytes, no new file; deleted files come back byte for byte.
    before = _snapshot(se)
    with open_warehouse(followed.db) as wh:
        again = write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
    assert again.new_rows == {} and again.files_written == 0 and _snapshot(se) == before
    for path in se.iterdir():
        path.unlink()
    with open_warehouse(followed.db) as wh:
        write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
    assert _snapshot(se) == before

    # The next day with nothing new: no file. An earlier day (a backfill) only rebuilds, never adds.
    with open_warehouse(followed.db) as wh:
        quiet = write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books,
                                   day=day + timedelta(days=1))
        past = write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books,
                                  day=day - timedelta(days=3))
    assert quiet.new_rows == {} and past.new_rows == {} and _snapshot(se) == before


def test_news_on_the_same_day_go_into_a_new_batch_never_into_an_imported_file(followed, followup):
    day = followed.day
    with open_warehouse(followed.db) as wh:
        write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
        first = _snapshot(followed.books / "demo-se" / "erp")
        # More invoices are handed over later the same day.
        fs.register(wh, followed.emulator, followed.creditors, fs.make_invoices(fs.Market.SE, 3, seed=5, prefix="LATE"))
        later = write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books, day=day)
    after = _snapshot(followed.books / "demo-se" / "erp")
    assert later.new_rows == {"demo-se/handed_over": 3}
    assert {k: v for k, v in after.items() if k in first and k != "manifest.json"} == \
        {k: v for k, v in first.items() if k != "manifest.json"}, "files already written never change"
    new = _csv(followed.books / "demo-se" / "erp" / f"demo-se_handed_over_{day}_2.csv", "se-erp")
    assert sorted(r["Fakturanr"] for r in new) == ["LATE-SE-0000", "LATE-SE-0001", "LATE-SE-0002"]
