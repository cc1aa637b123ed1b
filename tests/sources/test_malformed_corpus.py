"""Malformed inputs: each yields a clear error or a quarantined row; never a crash, never a lost row."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from tests.support import synthetic
from tests.support.sources import creditors_with, one_source_yaml

AS_OF = date(2026, 11, 21)
HEADER = ";".join(synthetic.SE_COLUMNS)
GOOD = ("100001;2026-03-02;2026-04-01;K1;Anna Berg;Privat;701063-2391;Storgatan 1;111 22;Stockholm;SE;"
        "a@example.se;+46701234567;SEK;A100;Konsulttimme;2;950,00;1 900,00;25;2 375,00;2 375,00;1234574;X")


def _yaml(kind: str, path: str, extra: str = "") -> str:
    return one_source_yaml(kind, path, extra)


def _run(tmp_path: Path, warehouse, kind: str, name: str, content: bytes, extra: str = ""):
    (tmp_path / name).write_bytes(content)
    creds = creditors_with(tmp_path, _yaml(kind, name, extra))
    s = extract_source(warehouse, creditors=creds, source_name="src", partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert s.rows_read == s.extracted + s.skipped_paid + s.skipped_not_due
    assert v.extracted == s.extracted == v.valid + v.quarantined
    stored = warehouse.connection.execute("SELECT count(*) FROM extracted_invoices").fetchone()[0]
    assert stored == s.extracted
    return s, v


def _csv(*rows: str, encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding)


def test_good_row_is_valid(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", _csv(GOOD))
    assert (s.rows_read, v.valid, v.quarantined) == (1, 1, 0), v.markdown_table()


@pytest.mark.parametrize(("case", "content", "rule"), [
    ("garbage amount", _csv(GOOD.replace("2 375,00;X", "abc;X")), None),
    ("garbage balance", _csv(GOOD.replace(";2 375,00;1234574", ";12,3,4;1234574")), "parse.amount"),
    ("huge amount", _csv(GOOD.replace(";2 375,00;1234574", ";99999999999999999999;1234574")), "parse.amount"),
    ("bad date", _csv(GOOD.replace("2026-04-01", "2026-13-45")), "parse.date"),
    ("truncated row", _csv(GOOD, GOOD.replace("100001", "100002")[:60]), "parse.record"),
    ("wrong encoding in a row", _csv(GOOD.replace("Anna Berg", "Åsa Öberg")).replace("Åsa Öberg".encode(),
                                                                                      "Åsa Öberg".encode("cp1252")),
     "parse.encoding"),
    ("samordningsnummer ok, bad OCR", _csv(GOOD.replace("1234574", "1234575")), "se.ocr.checksum"),
])
def test_csv_cases(tmp_path, warehouse, case, content, rule) -> None:
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", content)
    assert s.rows_read >= 1 and not s.errors, case
    if rule:
        assert v.by_rule.get(rule), (case, v.by_rule)
        assert v.quarantined >= 1


def test_csv_cp1252_header_with_utf8_config_is_a_source_error_naming_the_encoding(tmp_path, warehouse) -> None:
    # The header's "Förfallodatum" is undecodable in UTF-8: the file cannot be matched to its columns.
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", _csv(GOOD, GOOD.replace("100001", "100002"), encoding="cp1252"))
    assert (s.files_failed, s.rows_read, s.extracted) == (1, 0, 0)
    assert "a.csv: the header is not valid utf-8-sig" in s.errors[0] and "cp1252" in s.errors[0]


def test_missing_balance_column_is_a_source_error_unless_the_source_says_totals_are_open(tmp_path, warehouse) -> None:
    head = HEADER.replace(";Restbelopp", "").replace(";OCR", "")
    row = GOOD.replace(";2 375,00;1234574", "")
    content = f"{head}\r\n{row}\r\n".encode("utf-8-sig")
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", content)
    assert (s.files_failed, s.extracted) == (1, 0)
    assert "column 'Restbelopp' (open_balance) not found" in s.errors[0] and "totals_are_open_balances" in s.errors[0]
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", content, extra="        totals_are_open_balances: true\n")
    assert (s.files_failed, s.rows_read, v.valid) == (0, 1, 1)


def test_empty_and_headerless_files(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", b"")
    assert s.files_failed == 1 and "empty file" in s.errors[0] and s.rows_read == 0
    s, v = _run(tmp_path, warehouse, "csv", "a.csv", b"just,some,other,file\n1,2,3,4\n")
    assert s.files_failed == 1 and "none of the expected columns" in s.errors[0]


def test_truncated_and_fake_xlsx(tmp_path, warehouse) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(synthetic.SE_COLUMNS)
    wb.active.append(GOOD.split(";"))
    wb.save(tmp_path / "full.xlsx")
    data = (tmp_path / "full.xlsx").read_bytes()
    s, _ = _run(tmp_path, warehouse, "excel", "a.xlsx", data[: len(data) // 2])
    assert s.files_failed == 1 and "xlsx" in s.errors[0]
    s, _ = _run(tmp_path, warehouse, "excel", "a.xlsx", b"this is not a zip")
    assert s.files_failed == 1
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr("hello.txt", "hi")
    s, _ = _run(tmp_path, warehouse, "excel", "a.xlsx", (tmp_path / "z.zip").read_bytes())
    assert s.files_failed == 1


def test_jsonl_garbage_lines_are_quarantined(tmp_path, warehouse) -> None:
    import json

    good = dict(zip(synthetic.SE_COLUMNS, GOOD.split(";"), strict=True))
    lines = [json.dumps(good), "{not json", "[1, 2]", json.dumps({**good, "Fakturanr": "100009"})]
    s, v = _run(tmp_path, warehouse, "jsonl", "a.jsonl", "\n".join(lines).encode(),
                "        decimal: ','\n")
    assert (s.rows_read, s.extracted, v.valid, v.quarantined) == (4, 4, 2, 2)
    assert v.by_rule["parse.record"] == 2


def test_peppol_bad_documents(tmp_path, warehouse) -> None:
    (tmp_path / "in").mkdir()
    demo = Path(__file__).resolve().parents[2] / "assets" / "demo" / "no" / "peppol" / "NO-2026001.xml"
    xml = demo.read_text(encoding="utf-8")
    (tmp_path / "in" / "ok.xml").write_text(xml.replace("NOK", "SEK").replace("0192", "0007"), encoding="utf-8")
    (tmp_path / "in" / "truncated.xml").write_text(xml[: len(xml) // 2], encoding="utf-8")
    (tmp_path / "in" / "empty.xml").write_bytes(b"")
    (tmp_path / "in" / "bomb.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Invoice>&b;</Invoice>')
    creds = creditors_with(tmp_path, one_source_yaml("peppol", "in/*.xml", tabular=""))
    s = extract_source(warehouse, creditors=creds, source_name="src", partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert (s.rows_read, s.extracted, s.files_read) == (4, 4, 4)
    assert v.by_rule["peppol.document"] == 3  # truncated, empty, entity expansion refused
    # the readable one (a Norwegian buyer = foreign for a Swedish creditor): a KID is no OCR
    assert v.quarantined == 4 and v.by_rule["se.ocr.checksum"] == 1
