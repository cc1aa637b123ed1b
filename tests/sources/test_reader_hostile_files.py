"""Hostile files a reader used to misread without a trace: rows swallowed by an unterminated
quote, rows past an .xlsx's stored dimension, a UTF-8 export configured as Windows-1252, BOMs and
UTF-16 in JSON Lines, blank lines and NUL bytes in CSV, and what ``validate`` does with a folder,
an unreadable file or a character cut by its sniffing. Each runs the real extraction into a real
DuckDB file (or the real command) and asserts what a person depends on: no invoice lost silently,
the exact message, the exit status."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from tests.support import synthetic
from tests.support.sources import creditors_with, one_source_yaml

AS_OF = date(2026, 11, 21)
HEADER = ";".join(synthetic.SE_COLUMNS)
GOOD = ("100001;2026-03-02;2026-04-01;K1;Anna Berg;Privat;701063-2391;Storgatan 1;111 22;Stockholm;SE;"
        "a@example.se;+46701234567;SEK;A100;Konsulttimme;2;950,00;1 900,00;25;2 375,00;2 375,00;1234574;X")
CLI = str(Path(sys.executable).with_name("amili-pipelines"))


def _yaml(kind: str, path: str, extra: str = "") -> str:
    return one_source_yaml(kind, path, extra)


def _row(i: int, line: str = GOOD) -> str:
    """The good row as invoice 100001 + i, with an OCR number of its own (Luhn check digit)."""
    number = str(100001 + i)
    return line.replace("100001", number).replace("1234574", _luhn(number))


def _luhn(digits: str) -> str:
    total = 0
    for k, d in enumerate(reversed(digits)):
        n = int(d) * (2 if k % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


def _csv(*rows: str, encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding)


def _extract(tmp_path: Path, warehouse, kind: str, files: dict[str, bytes], path: str, extra: str = ""):
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    creds = creditors_with(tmp_path, _yaml(kind, path, extra))
    s = extract_source(warehouse, creditors=creds, source_name="src", partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert s.rows_read == s.extracted + s.skipped_paid + s.skipped_not_due
    assert v.extracted == s.extracted == v.valid + v.quarantined
    return s, v


def _numbers(warehouse, table: str = "source_balances") -> list[str]:
    return [r[0] for r in warehouse.connection.execute(f"SELECT invoice_number FROM {table} ORDER BY 1").fetchall()]


def _issues(warehouse) -> list[tuple]:
    return warehouse.connection.execute(
        "SELECT rule, field, row_number, message FROM invoice_issues ORDER BY row_number, rule").fetchall()


# -- 1. CSV: an unterminated quote swallows the rows after it ----------------------------------

def test_unterminated_quote_fails_the_file_naming_row_and_lines_and_other_files_are_read(tmp_path, warehouse) -> None:
    rows = [_row(i) for i in range(8)]
    rows[3] = rows[3].replace("Anna Berg", '"Anna Berg')  # data row 4 = line 5; never closed
    files = {"in/a_bad.csv": _csv(*rows), "in/b_good.csv": _csv(_row(20))}
    s, v = _extract(tmp_path, warehouse, "csv", files, "in/*.csv")
    assert (s.files_failed, s.files_read) == (1, 1)
    assert s.errors == [(f"{tmp_path}/in/a_bad.csv: unterminated quote in row 4 (line 5): lines 5-9 were read as one record of "
                        "5 fields (the header has 24); fix the quote in the source. Nothing of this file was registered.")]
    # Nothing of the broken file is stored, so none of its invoices is handed over half-read; the
    # other file is read; the day's balances are not kept (the broken file's invoices would look gone
    # at the source); and the run says a person is needed.
    assert _numbers(warehouse, "extracted_invoices") == ["100021"] and v.valid == 1
    assert _numbers(warehouse) == []
    assert any("source src could not be read" in line for line in needs_attention({"extract/src": s.metadata()}))


def test_unterminated_quote_past_the_csv_field_limit_names_the_whole_range(tmp_path, warehouse) -> None:
    rows = [_row(i) for i in range(30)]
    rows[3] = rows[3].replace("Anna Berg", '"Anna Berg')
    old = csv.field_size_limit(2_000)  # the reader gives up after ~10 swallowed rows, as at 128 KB in production
    try:
        s, _ = _extract(tmp_path, warehouse, "csv", {"a.csv": _csv(*rows)}, "a.csv")
    finally:
        csv.field_size_limit(old)
    assert s.files_failed == 1 and s.rows_read == 0 and _numbers(warehouse) == []
    assert s.errors[0].startswith(f"{tmp_path}/a.csv: unterminated quote in row 4 (line 5): lines 5-31 were read as one field "
                                  "(field larger than field limit (2000)); fix the quote in the source.")


def test_quoted_line_break_in_an_address_still_reads(tmp_path, warehouse) -> None:
    two_lines = GOOD.replace("Storgatan 1", '"Storgatan 1\r\n2 tr"')
    s, v = _extract(tmp_path, warehouse, "csv", {"a.csv": _csv(_row(0, two_lines), _row(1))}, "a.csv")
    assert (s.files_failed, s.rows_read, v.valid) == (0, 2, 2), (s.errors, v.by_rule)
    line1 = warehouse.connection.execute("SELECT invoice_json->>'$.customer_address.line1' FROM extracted_invoices "
                                         "WHERE invoice_number = '100001'").fetchone()[0]
    assert line1 == "Storgatan 1\n2 tr" or line1 == "Storgatan 1\r\n2 tr"


# -- 2. Excel: the stored dimension, and the sheet's own row numbers ---------------------------

def _xlsx(rows: list[list[object]], *, dimension: str | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    if dimension is None:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>'.encode(), data)
                assert n == 1
            zout.writestr(item, data)
    return out.getvalue()


def test_xlsx_rows_past_a_too_small_stored_dimension_are_read(tmp_path, warehouse) -> None:
    data = _xlsx([synthetic.SE_COLUMNS] + [_row(i).split(";") for i in range(5)], dimension="A1:X3")
    s, v = _extract(tmp_path, warehouse, "excel", {"a.xlsx": data}, "a.xlsx")
    assert (s.files_failed, s.rows_read, v.valid) == (0, 5, 5)
    assert _numbers(warehouse) == ["100001", "100002", "100003", "100004", "100005"]


def test_xlsx_issues_name_the_sheet_row_a_person_sees(tmp_path, warehouse) -> None:
    bad = _row(1).split(";")
    bad[synthetic.SE_COLUMNS.index("Restbelopp")] = "abc"
    data = _xlsx([synthetic.SE_COLUMNS, _row(0).split(";"), [None] * 24, bad])  # the bad row is sheet row 4
    s, v = _extract(tmp_path, warehouse, "excel", {"a.xlsx": data}, "a.xlsx")
    assert (s.rows_read, v.valid, v.quarantined) == (2, 1, 1)
    assert ("parse.amount", "open_balance", 4,
            "a.xlsx row 4: open_balance (column 'Restbelopp'): cannot read amount 'abc'") in _issues(warehouse)
    rows = warehouse.connection.execute("SELECT invoice_number, row_number FROM extracted_invoices ORDER BY 1")
    assert rows.fetchall() == [("100001", 2), ("100002", 4)]


# -- 3. CSV: a UTF-8 file configured as Windows-1252 ------------------------------------------

def test_utf8_file_configured_as_cp1252_fails_naming_both_encodings(tmp_path, warehouse) -> None:
    content = _csv(GOOD.replace("Anna Berg", "Åsa Öberg"), encoding="utf-8")
    s, v = _extract(tmp_path, warehouse, "csv", {"a.csv": content}, "a.csv", "        encoding: cp1252\n")
    assert (s.files_failed, s.rows_read) == (1, 0) and _numbers(warehouse, "extracted_invoices") == []
    assert s.errors == [(f"{tmp_path}/a.csv: the source's encoding is cp1252, but the file is UTF-8 (all its non-ASCII bytes are "
                        "UTF-8 characters; read as cp1252, 'Åsa Öberg' would become 'Ã…sa Ã–berg'): set the source's "
                        "'encoding' to utf-8-sig. Nothing of this file was registered.")]
    # A real Windows-1252 export so configured still reads, names intact.
    s, v = _extract(tmp_path, warehouse, "csv", {"a.csv": _csv(GOOD.replace("Anna Berg", "Åsa Öberg"),
                                                               encoding="cp1252")}, "a.csv", "        encoding: cp1252\n")
    assert (s.files_failed, v.valid) == (0, 1)
    name = warehouse.connection.execute("SELECT customer_name FROM extracted_invoices").fetchone()[0]
    assert name == "Åsa Öberg"


def test_column_not_found_hints_at_utf8_when_the_header_matches_as_utf8(tmp_path, warehouse) -> None:
    # A UTF-8 export with one Windows-1252 byte further down: not all UTF-8, so read as configured.
    content = _csv(GOOD, encoding="utf-8") + _row(1).replace("Anna Berg", "Åsa").encode("cp1252") + b"\r\n"
    s, _ = _extract(tmp_path, warehouse, "csv", {"a.csv": content}, "a.csv", "        encoding: cp1252\n")
    assert (s.files_failed, s.rows_read) == (1, 0)
    assert s.errors == [(f"{tmp_path}/a.csv: column(s) 'Förfallodatum' (due_date), 'Vår referens' (our_reference), "
                        "'Benämning' (line_description) not found when the file is read as cp1252, but found when its "
                        "header is read as UTF-8: the file is probably UTF-8 (with some bytes that are not); set the "
                        "source's 'encoding' to utf-8-sig and check the export. Nothing of this file was registered.")]


# -- 4. JSON Lines: a BOM, and UTF-16 ---------------------------------------------------------

def _jsonl_record(i: int) -> str:
    return json.dumps(dict(zip(synthetic.SE_COLUMNS, _row(i).split(";"), strict=True)), ensure_ascii=False)


def test_jsonl_with_a_utf8_bom_keeps_record_one(tmp_path, warehouse) -> None:
    content = ("\ufeff" + _jsonl_record(0) + "\n" + _jsonl_record(1) + "\n").encode()
    s, v = _extract(tmp_path, warehouse, "jsonl", {"a.jsonl": content}, "a.jsonl", "        decimal: ','\n")
    assert (s.rows_read, v.valid, v.quarantined) == (2, 2, 0), _issues(warehouse)
    assert _numbers(warehouse) == ["100001", "100002"]


def test_utf16_jsonl_is_one_clear_encoding_error(tmp_path, warehouse) -> None:
    content = (_jsonl_record(0) + "\n" + _jsonl_record(1) + "\n").encode("utf-16")
    s, v = _extract(tmp_path, warehouse, "jsonl", {"a.jsonl": content}, "a.jsonl", "        decimal: ','\n")
    assert (s.files_failed, s.rows_read) == (1, 0) and _issues(warehouse) == []
    assert s.errors == [(f"{tmp_path}/a.jsonl: the file is UTF-16 text (as Windows' 'Unicode' saves it), but the source reads it "
                        "as utf-8: save it as UTF-8, or set the source's 'encoding' to utf-16. Nothing of this file was "
                        "registered.")]
    s, v = _extract(tmp_path, warehouse, "jsonl", {"a.jsonl": content}, "a.jsonl",
                    "        decimal: ','\n        encoding: utf-16\n")
    assert (s.files_failed, v.valid) == (0, 2)


# -- 5. CSV: a blank line before the header; NUL bytes in values ------------------------------

def test_blank_lines_before_the_header_are_skipped(tmp_path, warehouse) -> None:
    s, v = _extract(tmp_path, warehouse, "csv", {"a.csv": b"\r\n  \r\n" + _csv(GOOD)}, "a.csv")
    assert (s.files_failed, s.rows_read, v.valid) == (0, 1, 1), s.errors


def test_nul_byte_in_a_value_quarantines_the_row_naming_the_column(tmp_path, warehouse) -> None:
    bad = GOOD.replace(";2 375,00;1234574", ";2 3\x0075,00;1234574")  # was read as 2375 (or 0,00 -> "paid")
    s, v = _extract(tmp_path, warehouse, "csv", {"a.csv": _csv(bad, _row(1))}, "a.csv")
    assert (s.files_failed, s.rows_read, v.valid, v.quarantined) == (0, 2, 1, 1)
    message = ("a.csv row 1: column 'Restbelopp' (open_balance) contains a NUL byte (character 4 of 9); the value "
               "is not used: fix the export")
    assert ("parse.record", "record", 1, message) in _issues(warehouse)
    balance = warehouse.connection.execute("SELECT open_balance FROM source_balances WHERE invoice_number = '100001'")
    assert balance.fetchone()[0] is None


# -- 6. validate: a folder, an unreadable file, a character cut by the sniffing ---------------

def _validate(tmp_path: Path, target: Path, *, inject: str = "") -> subprocess.CompletedProcess:
    (tmp_path / "creditors.yaml").write_text(_yaml("csv", "unused.csv"), encoding="utf-8")
    args = ["validate", str(target), "--creditors-file", str(tmp_path / "creditors.yaml"), "--as-of", AS_OF.isoformat()]
    cmd = [CLI, *args] if not inject else [sys.executable, "-c", inject + "\nfrom amili_pipelines.cli import app\n"
                                           f"sys.argv = ['amili-pipelines', *{args!r}]\napp()"]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, env={**os.environ, "COLUMNS": "300"}, capture_output=True, text=True,
                          timeout=240, check=False)


def test_validate_a_folder_is_a_clear_error_with_exit_2(tmp_path) -> None:
    (tmp_path / "exports.csv").mkdir()
    result = _validate(tmp_path, tmp_path / "exports.csv")
    out = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in out, out
    assert "exports.csv: is a folder, not a file" in out


def test_validate_an_unreadable_file_is_a_clear_error_with_exit_2(tmp_path) -> None:
    target = tmp_path / "export.csv"
    target.write_bytes(_csv(GOOD))
    # Tests run as root here, where chmod does not stop a read: the refusal is injected at open.
    inject = ("import pathlib, sys\n_open = pathlib.Path.open\n"
              "def _refuse(self, *a, **k):\n"
              f"    if self.name == {target.name!r}: raise PermissionError(13, 'Permission denied', str(self))\n"
              "    return _open(self, *a, **k)\n"
              "pathlib.Path.open = _refuse")
    result = _validate(tmp_path, target, inject=inject)
    out = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in out, out
    assert "export.csv: cannot be read (PermissionError: Permission denied)" in out


def test_validate_sniffing_does_not_misjudge_utf8_cut_inside_a_character(tmp_path) -> None:
    body = ("\ufeff" + HEADER + "\r\n").encode()
    i = 0
    while len(body) < 65536 - 400:
        body += (_row(i) + "\r\n").encode()
        i += 1
    row = _row(i)
    prefix = row.split("Anna Berg")[0].encode()
    name = "A" * (65535 - len(body) - len(prefix)) + "ö"  # 'ö' is bytes 65535-65536: cut by a 64 KB read
    body += (row.replace("Anna Berg", name) + "\r\n").encode() + (_row(i + 1) + "\r\n").encode()
    assert body[65535:65537] == "ö".encode()
    (tmp_path / "export.csv").write_bytes(body)
    result = _validate(tmp_path, tmp_path / "export.csv")
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "no errors" in out, out[-2000:]
