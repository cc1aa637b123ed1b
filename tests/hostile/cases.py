"""The hostile-input suite, generated: every case is built here from a few good records and one
change, so the repository holds this script rather than a folder of fixture files.

Each :class:`Case` names its files (path -> bytes), its source's lines in the creditors file and
the one outcome it must have. Identity numbers are generated (valid check digits) and collected
in :data:`IDENTITY_NUMBERS`, so a scan can prove that none of them leaves unmasked.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.support import synthetic

_RNG = random.Random(1175)
PIN = synthetic.se_personnummer(_RNG)  # YYMMDD-XXXX
PIN12 = synthetic.se_personnummer(_RNG, twelve=True)
COORDINATION = synthetic.se_personnummer(_RNG, coordination=True)
FNR = synthetic.no_fodselsnummer(_RNG)
D_NUMBER = synthetic.no_fodselsnummer(_RNG, d_number=True)
OTHER_PIN = synthetic.se_personnummer(_RNG)
# Every identity number the suite puts anywhere, in the formats it uses.
IDENTITY_NUMBERS = (PIN, PIN12, COORDINATION, FNR, D_NUMBER, OTHER_PIN)
# Raw content that must never be echoed: planted at the start of files that are not invoices.
SECRET_CONTENT = "root:x:0:0:TOPSECRET-CONTENT"

SE_COLUMNS = synthetic.SE_COLUMNS
_SE_GOOD = dict(zip(SE_COLUMNS, [
    "100001", "2026-03-02", "2026-04-01", "K1", "Anna Berg", "Privat", PIN, "Storgatan 1", "111 22", "Stockholm",
    "SE", "a@example.se", "+46701234567", "SEK", "A100", "Konsulttimme", "2", "950,00", "1 900,00", "25",
    "2 375,00", "2 375,00", "1234574", "X",
], strict=True))
_TWO_LINES = {"Antal": "1", "Belopp exkl moms": "950,00"}
_TABULAR = "column_preset: se-erp\ndelimiter: ';'\ndecimal: ','\nthousands: ' '"
_FILE_TABULAR = "column_preset: se-erp\ndecimal: ','\nthousands: ' '"


@dataclass(frozen=True)
class Expect:
    outcome: str  # accepted | quarantined | warned | source_error | config_error
    rule: str | None = None  # the rule that fires (quarantined, warned)
    row: int | None = None  # the row that rule names
    text: str | None = None  # a phrase the error message must contain (source_error, config_error)
    valid: int = 0
    quarantined: int = 0


def accepted(valid: int = 1) -> Expect:
    return Expect("accepted", valid=valid)


def quarantined(rule: str, row: int, *, valid: int = 0, n: int = 1) -> Expect:
    return Expect("quarantined", rule=rule, row=row, valid=valid, quarantined=n)


def warned(rule: str, row: int) -> Expect:
    return Expect("warned", rule=rule, row=row, valid=1)


def source_error(text: str) -> Expect:
    return Expect("source_error", text=text)


def config_error(text: str) -> Expect:
    return Expect("config_error", text=text)


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # csv | excel | jsonl | parquet | sql | peppol | creditors
    expect: Expect
    files: dict[str, bytes] = field(default_factory=dict)
    source: str = ""  # the source's settings (YAML lines); "{dir}" is the case's folder
    path: str | None = None  # the source's path; default: the only file
    market: str = "SE"
    creditor: str = ""  # extra creditor settings (YAML lines), e.g. max_claim
    creditors_yaml: str | None = None  # config cases: the whole creditors file


# -- building records ------------------------------------------------------------------------

def se_record(**changes: str) -> dict[str, str]:
    """The good Swedish record with some columns changed (keyword = column, spaces as _)."""
    rec = dict(_SE_GOOD)
    for k, v in changes.items():
        col = {"Person_orgnr": "Person/orgnr", "Moms_pct": "Moms %", "Belopp": "Belopp exkl moms"}.get(k, k)
        assert col in rec, col
        rec[col] = v
    return rec


def two_lines(**second: str) -> list[dict[str, str]]:
    """One invoice on two lines (950 + 950 + 25 % VAT = 2 375); ``second`` changes line two."""
    return [se_record(**_TWO_LINES), se_record(**{**_TWO_LINES, "Artikel": "A200", **second})]


def two_lines_first(**first: str) -> list[dict[str, str]]:
    """One invoice on two lines; ``first`` changes line one."""
    return [se_record(**{**_TWO_LINES, **first}), se_record(**{**_TWO_LINES, "Artikel": "A200"})]


def csv_bytes(records: list[dict[str, str]], *, header: list[str] | None = None, encoding: str = "utf-8-sig",
              raw_rows: list[str] | None = None) -> bytes:
    header = header or SE_COLUMNS
    rows = [";".join(header)] + [";".join(r.get(c, "") for c in header) for r in records] + (raw_rows or [])
    return ("\r\n".join(rows) + "\r\n").encode(encoding)


def _xlsx(rows: list[list[object]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_bytes(records: list[dict[str, str]], *, header: list[str] | None = None) -> bytes:
    header = header or SE_COLUMNS
    return _xlsx([header] + [[r.get(c, "") for c in header] for r in records])


def jsonl_bytes(lines: list[object]) -> bytes:
    return "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines).encode() + b"\n"


def parquet_bytes(records: list[dict[str, str]], *, header: list[str] | None = None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    header = header or SE_COLUMNS
    arrays = [pa.array([r.get(c, "") for r in records], pa.string()) for c in header]
    table = pa.Table.from_arrays(arrays, names=header)  # duplicate names are allowed by Arrow
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def sqlite_bytes(records: list[dict[str, str]], *, columns: list[str] | None = None) -> bytes:
    """A SQLite database file with table ``invoices`` holding ``records`` (se-erp column names)."""
    columns = columns or SE_COLUMNS
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "erp.sqlite"
        con = sqlite3.connect(path)
        cols = ", ".join(f'"{c}" TEXT' for c in columns)
        con.execute(f"CREATE TABLE invoices ({cols})")
        con.executemany(f"INSERT INTO invoices VALUES ({', '.join('?' for _ in columns)})",
                        [[r.get(c, "") for c in columns] for r in records])
        con.commit()
        con.close()
        return path.read_bytes()


def peppol_bytes(*, number: str = "2026001", payable: str = "1250.00", change: Callable[[str], str] | None = None,
                 buyer_name: str = "Fjord Bygg AS") -> bytes:
    line = synthetic._Line(article="A1", text="Konsulttime", units=Decimal(1), price=Decimal("1000.00"), vat=25)
    xml = synthetic.peppol_invoice_xml(
        number=number, issue=date(2026, 3, 2), due=date(2026, 4, 1), buyer_name=buyer_name,
        buyer_orgnr="923609016", buyer_gln=None, street="Storgata 1", city="Oslo", zip_code="0150",
        country="NO", lines=[line], payable=Decimal(payable), currency="NOK", kid=None)
    return (change(xml) if change else xml).encode()


# -- the cases -------------------------------------------------------------------------------

def _tabular(kind: str, id_: str, files: bytes, expect: Expect, *, extra: str = "", name: str | None = None,
             path: str | None = None, creditor: str = "") -> Case:
    suffix = {"csv": "csv", "excel": "xlsx", "jsonl": "jsonl", "parquet": "parquet"}[kind]
    settings = _TABULAR if kind == "csv" else _FILE_TABULAR
    filename = name or f"export.{suffix}"
    return Case(id=f"{kind}-{id_}", kind=kind, expect=expect, files={filename: files},
                source=settings + ("\n" + extra if extra else ""), path=path, creditor=creditor)


def csv_cases() -> list[Case]:
    c = _tabular
    pin_text = f"Ref {PIN12} ring"
    return [
        c("csv", "good", csv_bytes([se_record()]), accepted()),
        c("csv", "twelve-digit-and-coordination-numbers", csv_bytes([
            se_record(Person_orgnr=PIN12), se_record(Fakturanr="100002", Person_orgnr=COORDINATION)]), accepted(2)),
        # "²".isdigit() is true and int("²") raises: a superscript digit must be a format error, not a crash.
        c("csv", "superscript-digit-in-identity-number", csv_bytes([se_record(Person_orgnr="81²218-9876")]),
          quarantined("se.personnummer.format", 1)),
        c("csv", "header-names-balance-twice", csv_bytes([se_record()], header=SE_COLUMNS + ["Restbelopp"]),
          source_error("ambiguous header: 'Restbelopp' (open_balance) appears 2 times")),
        c("csv", "header-twice-by-case-and-space", csv_bytes([se_record()], header=SE_COLUMNS + [" fakturanr "]),
          source_error("ambiguous header: 'Fakturanr' (invoice_number) appears 2 times")),
        c("csv", "no-balance-column", csv_bytes([se_record()], header=[h for h in SE_COLUMNS if h != "Restbelopp"]),
          source_error("column 'Restbelopp' (open_balance) not found")),
        c("csv", "no-balance-column-totals-declared-open", csv_bytes(
            [se_record()], header=[h for h in SE_COLUMNS if h != "Restbelopp"]), accepted(),
          extra="totals_are_open_balances: true"),
        c("csv", "no-due-date-column", csv_bytes([se_record()], header=[h for h in SE_COLUMNS if h != "Förfallodatum"]),
          source_error("column 'Förfallodatum' (due_date) not found")),
        c("csv", "no-identity-number-column", csv_bytes(
            [se_record()], header=[h for h in SE_COLUMNS if h != "Person/orgnr"]),
          source_error("column 'Person/orgnr' (customer_id_number) not found")),
        c("csv", "configured-column-missing", csv_bytes([se_record()]),
          source_error("column 'Mejladress', configured for customer_email, not found"),
          extra="columns: {customer_email: Mejladress}"),
        c("csv", "path-does-not-exist", b"", source_error("no file matches this path"), path="missing/export.csv"),
        c("csv", "missing-folder-named-after-a-debtor", b"", source_error("no file matches this path"),
          path=f"kund_{PIN}/*.csv"),
        c("csv", "glob-matches-nothing", b"", source_error("no file matches this path"), path="exports/*.csv"),
        c("csv", "glob-matches-nothing-optional", b"", accepted(0), path="exports/*.csv", extra="optional: true"),
        c("csv", "empty-file", b"", source_error("empty file (no header row)")),
        c("csv", "system-file-not-an-export",
          f"{SECRET_CONTENT}:{PIN}:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin\n".encode(),
          source_error("none of the expected columns found")),
        c("csv", "utf16-file", csv_bytes([se_record()], encoding="utf-16"), source_error("the header is not valid utf-8-sig")),
        c("csv", "windows-1252-read-as-utf8", csv_bytes([se_record(Kundnamn="Åsa Öberg")], encoding="cp1252"),
          source_error("the header is not valid utf-8-sig")),
        c("csv", "one-row-in-windows-1252", csv_bytes([se_record(Kundnamn="Åsa Öberg")]).replace(
            "Åsa Öberg".encode(), "Åsa Öberg".encode("cp1252")), quarantined("parse.encoding", 1)),
        c("csv", "lines-disagree-on-currency", csv_bytes(two_lines(Valuta="EUR")),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "lines-disagree-on-identity-number", csv_bytes(two_lines(Person_orgnr=OTHER_PIN)),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "lines-disagree-on-due-date", csv_bytes(two_lines(Förfallodatum="2026-05-01")),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "lines-disagree-on-customer", csv_bytes(two_lines(Kundnamn="Bo Ek")),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "lines-disagree-on-reference", csv_bytes(two_lines(OCR="1234566")),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "lines-disagree-on-balance", csv_bytes(two_lines(Restbelopp="0,00")),
          quarantined("invoice.lines.disagree", 1)),
        # The first line's "paid" or "not due" must not hide a later line that says otherwise.
        c("csv", "first-line-says-paid-the-next-says-open", csv_bytes(two_lines_first(Restbelopp="0,00")),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "first-line-says-not-due-the-next-says-due", csv_bytes(two_lines_first(Förfallodatum="2099-12-31")),
          quarantined("invoice.lines.disagree", 1)),
        c("csv", "number-twice-once-paid", csv_bytes(
            [se_record(), se_record(Fakturanr="100002"), se_record(Restbelopp="0,00")]),
          quarantined("invoice.number.unique", 1, valid=1)),
        # Units and unit prices are quantities, not money: more than two decimals are real.
        c("csv", "units-and-unit-price-with-more-decimals", csv_bytes(
            [se_record(**{"Antal": "3,125", "À-pris": "608,0000"})]), accepted()),
        # Units times unit price beyond Decimal's 28 digits: quarantined with its row; the invoices around it kept.
        c("csv", "units-times-price-beyond-28-digits", csv_bytes(
            [se_record(), se_record(Fakturanr="100002", Antal="99 999 999 999 999", **{"À-pris": "99 999 999 999 999"}),
             se_record(Fakturanr="100003")]), quarantined("line.total.consistent", 2, valid=2)),
        c("csv", "line-total-with-three-decimals", csv_bytes([se_record(**{"Belopp": "1 900,005"})]),
          quarantined("parse.amount", 1)),
        c("csv", "later-line-leaves-header-blank", csv_bytes(two_lines(Valuta="", Kundnamn="", Restbelopp="")),
          accepted()),
        c("csv", "short-row-shifts-identity-number-into-another-field", csv_bytes(
            [se_record()], raw_rows=[";".join(se_record(Fakturanr="100002").values()).replace(";Privat;", ";")]),
          quarantined("parse.record", 2, valid=1)),
        c("csv", "long-row", csv_bytes([se_record()], raw_rows=[";".join(se_record(Fakturanr="100002").values())
                                                               + ";extra"]), quarantined("parse.record", 2, valid=1)),
        c("csv", "absurd-balance", csv_bytes([se_record(Fakturabelopp="99 999 999 999 999,99",
                                                        Restbelopp="99 999 999 999 999,99")]),
          quarantined("amount.open_balance.ceiling", 1)),
        c("csv", "balance-just-above-default-ceiling", csv_bytes([se_record(Restbelopp="10 000 000,01")]),
          quarantined("amount.open_balance.ceiling", 1)),
        c("csv", "balance-above-creditor-ceiling", csv_bytes([se_record(Restbelopp="2 000,01")]),
          quarantined("amount.open_balance.ceiling", 1), creditor="max_claim: 2000"),
        c("csv", "balance-at-creditor-ceiling", csv_bytes([se_record(Restbelopp="2 000,00")]), accepted(),
          creditor="max_claim: 2000"),
        c("csv", "name-of-zero-width-spaces", csv_bytes([se_record(Kundnamn="\u200b\u200b")]),
          quarantined("text.invisible_only", 1)),
        c("csv", "name-of-direction-marks", csv_bytes([se_record(Kundnamn="\u200f\u200e\u2060")]),
          quarantined("text.invisible_only", 1)),
        c("csv", "name-with-right-to-left-override", csv_bytes([se_record(Kundnamn="Anna \u202egreB")]),
          quarantined("text.control_characters", 1)),
        c("csv", "street-of-no-break-spaces-is-a-blank-street", csv_bytes([se_record(Adress="\u00a0\u2007\u00a0")]),
          warned("customer.address.incomplete", 1)),
        c("csv", "street-of-word-joiners", csv_bytes([se_record(Adress="\u2060\u200b")]),
          quarantined("text.invisible_only", 1)),
        c("csv", "reference-with-zero-width-space", csv_bytes([se_record(OCR="12345\u200b74")]),
          quarantined("text.control_characters", 1)),
        c("csv", "decomposed-name-is-normalised", csv_bytes([se_record(Kundnamn="A\u030asa O\u0308berg")]), accepted()),
        # A NUL byte is a damaged export: the value is not used (in an amount it hid a digit).
        c("csv", "nul-bytes-in-cells", csv_bytes([se_record(Kundnamn="Anna\0 Berg")]), quarantined("parse.record", 1)),
        c("csv", "impossible-date", csv_bytes([se_record(Förfallodatum="2026-02-30")]), quarantined("parse.date", 1)),
        c("csv", "garbage-balance", csv_bytes([se_record(Restbelopp="12,3,4")]), quarantined("parse.amount", 1)),
        c("csv", "unknown-customer-type", csv_bytes([se_record(Kundtyp="alien")]),
          quarantined("parse.customer_kind", 1)),
        c("csv", "invoice-number-of-zero-width-space", csv_bytes([se_record(Fakturanr="\u200b")]),
          quarantined("text.invisible_only", 1)),
        c("csv", "identity-number-in-a-free-text-reference", csv_bytes([se_record(**{"Vår referens": pin_text})]),
          accepted()),
        c("csv", "file-named-after-a-debtor", csv_bytes([se_record()]), accepted(), name=f"kund_{PIN}.csv"),
        c("csv", "same-number-twice-apart", csv_bytes([se_record(), se_record(Fakturanr="100002"), se_record()]),
          quarantined("invoice.number.unique", 1, valid=1, n=2)),
    ]


def excel_cases() -> list[Case]:
    c = _tabular
    return [
        c("excel", "good", xlsx_bytes([se_record()]), accepted()),
        c("excel", "header-names-balance-twice", xlsx_bytes([se_record()], header=SE_COLUMNS + ["Restbelopp"]),
          source_error("ambiguous header")),
        c("excel", "no-balance-column", xlsx_bytes([se_record()], header=[h for h in SE_COLUMNS if h != "Restbelopp"]),
          source_error("(open_balance) not found")),
        # Excel issues name the sheet's own row (the header is row 1).
        c("excel", "lines-disagree-on-currency", xlsx_bytes(two_lines(Valuta="NOK")),
          quarantined("invoice.lines.disagree", 2)),
        c("excel", "truncated-workbook", xlsx_bytes([se_record()])[:900], source_error("not a readable .xlsx workbook")),
        c("excel", "not-a-workbook", f"{SECRET_CONTENT} {PIN}".encode(), source_error("not a readable .xlsx workbook")),
        c("excel", "name-of-zero-width-spaces", xlsx_bytes([se_record(Kundnamn="\u200b")]),
          quarantined("text.invisible_only", 2)),
    ]


def jsonl_cases() -> list[Case]:
    c = _tabular
    good = se_record()
    deep = '{"Fakturanr": ' + "[" * 200_000 + "]" * 200_000 + "}"
    return [
        c("jsonl", "good", jsonl_bytes([good]), accepted()),
        c("jsonl", "deeply-nested-line-among-good-ones", jsonl_bytes(
            [good, deep, se_record(Fakturanr="100003")]), quarantined("parse.record", 2, valid=2)),
        c("jsonl", "key-given-twice", jsonl_bytes(
            ['{"Restbelopp": "0,00", ' + json.dumps(good, ensure_ascii=False)[1:]]), quarantined("parse.record", 1)),
        c("jsonl", "not-json", jsonl_bytes([f"{SECRET_CONTENT} {PIN}"]), quarantined("parse.record", 1)),
        c("jsonl", "array-not-object", jsonl_bytes([[1, 2, 3]]), quarantined("parse.record", 1)),
        c("jsonl", "number-too-large", jsonl_bytes([{**good, "Restbelopp": 1e308}]),
          quarantined("parse.amount", 1)),
        c("jsonl", "name-of-zero-width-spaces", jsonl_bytes([{**good, "Kundnamn": "\u200b\ufeff"}]),
          quarantined("text.invisible_only", 1)),
        c("jsonl", "no-balance-key", jsonl_bytes([{k: v for k, v in good.items() if k != "Restbelopp"}]),
          quarantined("amount.open_balance.positive", 1)),
    ]


def parquet_cases() -> list[Case]:
    c = _tabular
    return [
        c("parquet", "good", parquet_bytes([se_record()]), accepted()),
        c("parquet", "column-named-twice", parquet_bytes([se_record()], header=SE_COLUMNS + ["Restbelopp"]),
          source_error("ambiguous header")),
        c("parquet", "no-balance-column", parquet_bytes(
            [se_record()], header=[h for h in SE_COLUMNS if h != "Restbelopp"]), source_error("(open_balance) not found")),
        c("parquet", "not-parquet", f"{SECRET_CONTENT} {PIN}".encode(), source_error("not a readable Parquet file")),
        c("parquet", "lines-disagree-on-identity-number", parquet_bytes(two_lines(Person_orgnr=OTHER_PIN)),
          quarantined("invoice.lines.disagree", 1)),
    ]


def _sql(id_: str, expect: Expect, *, records: list[dict[str, str]] | None = None, columns: list[str] | None = None,
         settings: str = "table: invoices") -> Case:
    db = sqlite_bytes(records if records is not None else [se_record()], columns=columns)
    return Case(id=f"sql-{id_}", kind="sql", expect=expect, files={"erp.sqlite": db},
                source=f"url: sqlite:///{{dir}}/erp.sqlite\n{settings}\ncolumn_preset: se-erp\ndecimal: ','\n"
                       "thousands: ' '")


def sql_cases() -> list[Case]:
    return [
        _sql("good", accepted()),
        _sql("query-names-balance-twice", source_error("ambiguous header"),
             settings='query: SELECT *, "Fakturabelopp" AS "Restbelopp" FROM invoices'),
        _sql("no-balance-column", source_error("(open_balance) not found"),
             columns=[h for h in SE_COLUMNS if h != "Restbelopp"]),
        _sql("table-does-not-exist", source_error("table 'fakturor' not found"), settings="table: fakturor"),
        _sql("injection-in-table-name", source_error("a sql source needs a query or a plain table name"),
             settings="table: 'invoices; DROP TABLE invoices'"),
        _sql("lines-disagree-on-due-date", quarantined("invoice.lines.disagree", 1),
             records=two_lines(Förfallodatum="2026-06-01")),
        _sql("name-with-right-to-left-override", quarantined("text.control_characters", 1),
             records=[se_record(Kundnamn="\u202eAnna")]),
    ]


def peppol_cases() -> list[Case]:
    def p(id_: str, data: bytes, expect: Expect) -> Case:
        return Case(id=f"peppol-{id_}", kind="peppol", expect=expect, files={"inbox/invoice.xml": data},
                    path="inbox/*.xml", market="NO")

    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&e;</Invoice>')
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><Invoice>&c;</Invoice>')
    return [
        p("good", peppol_bytes(), accepted()),
        p("amount-in-another-currency", peppol_bytes(change=lambda x: x.replace(
            'PayableAmount currencyID="NOK"', 'PayableAmount currencyID="EUR"')),
          quarantined("peppol.currency.mismatch", 1)),
        p("payable-does-not-add-up", peppol_bytes(change=lambda x: x.replace(
            ">1250.00</cbc:PayableAmount>", ">9250.00</cbc:PayableAmount>")), quarantined("peppol.totals.consistent", 1)),
        p("external-entity", xxe, quarantined("peppol.document", 1)),
        p("billion-laughs", laughs, quarantined("peppol.document", 1)),
        p("credit-note", peppol_bytes(change=lambda x: x.replace(
            "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"",
            "<CreditNote xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2\"").replace(
            "</Invoice>", "</CreditNote>")), quarantined("peppol.namespace", 1)),
        p("not-xml", f"{SECRET_CONTENT} {FNR}".encode(), quarantined("peppol.document", 1)),
        p("buyer-name-of-zero-width-spaces", peppol_bytes(buyer_name="\u200b\u200b"),
          quarantined("text.invisible_only", 1)),
    ]


_CREDITOR = """creditors:
  - key: acme
    name: Acme AB
    market: SE
    account_id: a1
    creditor_id: c1
"""


def creditors_cases() -> list[Case]:
    def y(id_: str, text: str, expect: Expect) -> Case:
        return Case(id=f"creditors-{id_}", kind="creditors", expect=expect, creditors_yaml=text)

    return [
        y("unknown-key", _CREDITOR + "    colour: blue\n", config_error("key 'colour'")),
        y("ceiling-not-positive", _CREDITOR + "    max_claim: -5\n", config_error("key 'max_claim'")),
        y("identity-number-as-grace-days", _CREDITOR + f"    grace_days: '{PIN}'\n", config_error("grace_days")),
        y("not-a-mapping", "- just\n- a list\n", config_error("expected a mapping")),
        y("two-sources-one-name", _CREDITOR + "    sources:\n"
          + "".join(f"      - name: s\n        kind: csv\n        path: a{i}.csv\n" for i in range(2)),
          config_error("source names must be unique")),
    ]


def all_cases() -> list[Case]:
    return csv_cases() + excel_cases() + jsonl_cases() + parquet_cases() + sql_cases() + peppol_cases() \
        + creditors_cases()
