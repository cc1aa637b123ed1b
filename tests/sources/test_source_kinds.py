"""Every source kind, from a real file or database into a real DuckDB file, gives the same verdicts."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from tests.support import synthetic
from tests.support.sources import creditors_with

AS_OF = date(2026, 11, 21)
HEAD = """creditors:
  - key: acme
    name: Acme AB
    market: SE
    account_id: a1
    creditor_id: c1
    grace_days: 10
    sources:
"""
SWEDISH = "column_preset: se-erp\n        decimal: ','\n        thousands: ' '\n        payment_reference_scheme: ocr-length"


def _rows(tmp_path: Path) -> tuple[Path, list[dict[str, str]], synthetic.Manifest]:
    path = tmp_path / "export.csv"
    manifest = synthetic.write_se_csv(path, invoices=60, seed=7, encoding="utf-8-sig")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return path, rows, manifest


def _run(warehouse, creditors, source: str):
    s = extract_source(warehouse, creditors=creditors, source_name=source, partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creditors, partition_date=AS_OF)
    return s, v


@pytest.fixture()
def baseline(tmp_path: Path, warehouse):
    path, rows, manifest = _rows(tmp_path)
    creds = creditors_with(tmp_path, HEAD + f"""      - name: erp-csv
        kind: csv
        path: {path.name}
        encoding: utf-8-sig
        {SWEDISH}
""")
    s, v = _run(warehouse, creds, "erp-csv")
    assert s.rows_read == manifest.invoices
    assert s.skipped_paid == manifest.paid and s.skipped_not_due == manifest.not_due
    assert s.extracted == manifest.invoices - manifest.paid - manifest.not_due
    assert v.extracted == s.extracted == v.valid + v.quarantined
    assert v.quarantined >= manifest.defective
    return rows, (s.rows_read, s.extracted, s.skipped_paid, s.skipped_not_due, v.valid, v.quarantined)


def _counts(s, v):
    return (s.rows_read, s.extracted, s.skipped_paid, s.skipped_not_due, v.valid, v.quarantined)


def test_jsonl(tmp_path: Path, baseline, warehouse) -> None:
    rows, expected = baseline
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "a.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    creds = creditors_with(tmp_path, HEAD + f"""      - name: erp-jsonl
        kind: jsonl
        path: in/*.jsonl
        {SWEDISH}
""")
    warehouse.connection.execute("DELETE FROM extracted_invoices")
    s, v = _run(warehouse, creds, "erp-jsonl")
    assert _counts(s, v) == expected


def test_parquet(tmp_path: Path, baseline, warehouse) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, expected = baseline
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "export.parquet", row_group_size=17)
    creds = creditors_with(tmp_path, HEAD + f"""      - name: erp-parquet
        kind: parquet
        path: export.parquet
        {SWEDISH}
""")
    warehouse.connection.execute("DELETE FROM extracted_invoices")
    s, v = _run(warehouse, creds, "erp-parquet")
    assert _counts(s, v) == expected


def _typed(value: str, column: str) -> object:
    """Swedish text -> what a spreadsheet holds: numbers and dates."""
    if column in ("Fakturadatum", "Förfallodatum") and value:
        return date.fromisoformat(value)
    if column in ("Antal", "À-pris", "Belopp exkl moms", "Fakturabelopp", "Restbelopp") and value:
        try:
            return float(Decimal(value.replace(" ", "").replace(",", ".")))
        except Exception:  # noqa: BLE001 - garbage stays text, as a user would type it
            return value
    return value


def test_excel_with_formula_cells(tmp_path: Path, baseline, warehouse) -> None:
    import openpyxl

    rows, expected = baseline
    wb = openpyxl.Workbook()
    ws = wb.active
    cols = list(rows[0])
    ws.append(cols)
    for r in rows:
        ws.append([_typed(r[c], c) for c in cols])
    ws.append([None] * len(cols))  # a blank row is not a record
    wb.save(tmp_path / "export.xlsx")
    creds = creditors_with(tmp_path, HEAD + """      - name: erp-xlsx
        kind: excel
        path: export.xlsx
        column_preset: se-erp
        payment_reference_scheme: ocr-length
""")
    warehouse.connection.execute("DELETE FROM extracted_invoices")
    s, v = _run(warehouse, creds, "erp-xlsx")
    assert _counts(s, v) == expected

    # Formula cells (no cached value: openpyxl never calculates) must not crash the run.
    total_col = cols.index("Belopp exkl moms") + 1
    for i in range(2, 2 + len(rows)):
        ws.cell(row=i, column=total_col).value = f"=Q{i}*R{i}"
    wb.save(tmp_path / "export.xlsx")
    s2, v2 = _run(warehouse, creds, "erp-xlsx")
    assert s2.rows_read == s.rows_read and s2.extracted == s.extracted and not s2.errors
    assert v2.extracted == v2.valid + v2.quarantined


def _load_sql(url: str, rows: list[dict[str, str]]) -> None:
    engine = sa.create_engine(url)
    md = sa.MetaData()
    # Typed columns as an ERP database has them; unparseable garbage becomes NULL there.
    names = {c: f"c{i}" for i, c in enumerate(rows[0])}
    table = sa.Table("unpaid", md, *[sa.Column(n, sa.String) for n in names.values()])
    md.drop_all(engine)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{names[k]: v for k, v in r.items()} for r in rows])
    engine.dispose()


def _sql_yaml(url: str, rows: list[dict[str, str]]) -> str:
    mapping = {"Fakturanr": "invoice_number", "Fakturadatum": "invoice_date", "Förfallodatum": "due_date",
               "Kundnr": "customer_number", "Kundnamn": "customer_name", "Kundtyp": "customer_kind",
               "Person/orgnr": "customer_id_number", "Adress": "address_line1", "Postnr": "zip_code",
               "Ort": "city", "Land": "country", "E-post": "customer_email", "Telefon": "customer_phone",
               "Valuta": "currency", "Artikel": "line_article_number", "Benämning": "line_description",
               "Antal": "line_units", "À-pris": "line_unit_price", "Belopp exkl moms": "line_total_excl_vat",
               "Moms %": "line_vat_percent", "Fakturabelopp": "total_amount", "Restbelopp": "open_balance",
               "OCR": "payment_reference", "Vår referens": "our_reference"}
    cols = "\n".join(f"          {mapping[c]}: c{i}" for i, c in enumerate(rows[0]))
    return HEAD + f"""      - name: erp-sql
        kind: sql
        url: "{url}"
        query: "SELECT * FROM unpaid ORDER BY CAST(c0 AS INTEGER), c14"
        decimal: ','
        thousands: ' '
        payment_reference_scheme: ocr-length
        columns:
{cols}
"""


def test_sqlite(tmp_path: Path, baseline, warehouse) -> None:
    rows, expected = baseline
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    _load_sql(url, rows)
    creds = creditors_with(tmp_path, _sql_yaml(url, rows))
    warehouse.connection.execute("DELETE FROM extracted_invoices")
    s, v = _run(warehouse, creds, "erp-sql")
    assert _counts(s, v) == expected


@pytest.mark.postgres
def test_postgres(tmp_path: Path, baseline, warehouse, postgres_url: str) -> None:
    rows, expected = baseline
    _load_sql(postgres_url, rows)
    creds = creditors_with(tmp_path, _sql_yaml(postgres_url.replace("postgres@", "${PGUSER_FOR_TEST}@"), rows))
    import os

    os.environ["PGUSER_FOR_TEST"] = "postgres"  # ${VAR} expansion keeps credentials out of the YAML
    warehouse.connection.execute("DELETE FROM extracted_invoices")
    s, v = _run(warehouse, creds, "erp-sql")
    assert _counts(s, v) == expected
    assert "erp-sql" not in str(s.errors)
    assert len(warehouse.invoices.valid_invoices(partition_date=AS_OF)) == v.valid
