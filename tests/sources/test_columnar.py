"""CSV invoices are assembled a batch at a time, column by column (sources/columnar.py). What is
stored must not depend on it: every invoice equals, field for field and in the same field order
(the stored JSON follows it), what the record-by-record assembler builds from the same records,
with the same parse issues and the same content_hash (persisted: a change would make every stored
invoice look changed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from amili_pipelines.settings import load_creditors
from amili_pipelines.sources import assemble
from amili_pipelines.sources import columnar as columnar_path
from amili_pipelines.sources.readers import SourceFileError
from amili_pipelines.sources.reading import iter_units, open_records
from tests.hostile import cases
from tests.hostile.cases import csv_bytes, se_record, two_lines
from tests.hostile.runner import creditor_yaml, source_yaml, write_files
from tests.support import synthetic


def _shape(value: object) -> object:
    """Everything about a value that is stored or compared: a model's fields in __dict__ order,
    its fields-set (what was given), recursively; other values with their exact type."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set),
                [(k, _shape(v)) for k, v in value.__dict__.items()])
    if isinstance(value, tuple):
        return tuple(_shape(v) for v in value)
    return type(value).__name__, value


def _both_paths(creditors_file: Path) -> list[tuple[list, list]]:
    """(columnar, record by record) invoices of every CSV unit of every source."""
    creds = load_creditors(creditors_file)
    out = []
    for creditor in creds.creditors:
        for spec in creditor.sources:
            if spec.kind != "csv":
                continue
            for unit in iter_units(spec, base_dir=creds.base_dir):
                try:
                    stream, asm = open_records(spec, unit, creditor=creditor.key, market=creditor.market)
                    records = list(stream.records)
                except SourceFileError:
                    continue  # the whole file is refused before any invoice is built, on either path
                assert asm.record_fields is not None  # the CSV reader offers the columnar path
                columnar = list(asm.invoices(records, location=unit.location))
                asm.record_fields = None
                by_record = list(asm.invoices(records, location=unit.location))
                out.append((columnar, by_record))
    return out


def _assert_same(columnar: list, by_record: list) -> None:
    assert len(columnar) == len(by_record)
    for a, b in zip(columnar, by_record, strict=True):
        assert _shape(a) == _shape(b)
        assert a.model_dump_json() == b.model_dump_json()
        assert a.content_hash == b.content_hash


def _csv_source(tmp_path: Path, data: bytes, extra: str = "") -> Path:
    (tmp_path / "export.csv").write_bytes(data)
    options = "".join(f"        {line}\n" for line in ("column_preset: se-erp", "delimiter: ';'", "decimal: ','",
                                                      "thousands: ' '", "encoding: utf-8-sig", *extra.splitlines()))
    text = ("creditors:\n" + creditor_yaml(key="acme", market="SE", sources=[
        f"      - name: erp\n        kind: csv\n        path: {(tmp_path / 'export.csv').as_posix()!r}\n{options}"]))
    (tmp_path / "creditors.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "creditors.yaml"


@pytest.mark.parametrize("case", [c for c in cases.csv_cases()], ids=lambda c: c.id)
def test_every_hostile_csv_case_builds_the_same_invoices(case, tmp_path):
    write_files(case, tmp_path)
    text = "creditors:\n" + creditor_yaml(key="acme", market=case.market, extra=case.creditor,
                                          sources=[source_yaml(case, tmp_path, name="src")])
    (tmp_path / "creditors.yaml").write_text(text, encoding="utf-8")
    for columnar, by_record in _both_paths(tmp_path / "creditors.yaml"):
        _assert_same(columnar, by_record)


# Values the columnar path must hand to the record-by-record one, or write exactly as it would:
# quotes and backslashes change a value's repr (the hash), NFD text is normalised, U+FFFD and
# unreadable values are parse issues, a formula is just text.
_TRICKY = [
    se_record(Kundnamn="O'Brien AB"), se_record(Kundnamn='Firma "Tre" AB'), se_record(Adress="Gatan 1\\2"),
    se_record(Kundnamn="Tab\there"), se_record(Kundnamn="A\u030asa \u00d6berg"), se_record(Kundnamn="Bad \ufffd byte"),
    se_record(Restbelopp="12,345"), se_record(Förfallodatum="2026-02-30"), se_record(Kundtyp="Alien"),
    se_record(Kundnamn="=HYPERLINK(\"http://x\")"), se_record(Fakturanr=""), se_record(Restbelopp=""),
    se_record(Kundnamn="  padded  ", Ort=" Malmö "), se_record(Land="se"), se_record(Antal="1,5", Moms_pct="12,5"),
    se_record(Kundnamn="x" * 5000), se_record(Kundnamn="Line\u2028sep \u00a0nbsp"),
]


def test_tricky_values_and_lines_build_the_same_invoices(tmp_path):
    records = []
    for k, rec in enumerate(_TRICKY):
        number = rec["Fakturanr"] and str(200000 + k)
        records.append({**rec, "Fakturanr": number})
    records += [{**r, "Fakturanr": "300001"} for r in two_lines()]
    records += [{**r, "Fakturanr": "300002"} for r in two_lines(Valuta="EUR")]  # lines disagree
    records += [{**r, "Fakturanr": "300003"} for r in two_lines(Antal="x")]  # a line that does not parse
    records += [{**r, "Fakturanr": "300004"} for r in two_lines(Kundnamn="")]  # an empty cell does not disagree
    data = csv_bytes(records, raw_rows=["300005;2026-03-02", "", "300006;;;;;;;;;;;;;;;;;;;;;;;;;;;"])  # ragged
    for columnar, by_record in _both_paths(_csv_source(tmp_path, data)):
        _assert_same(columnar, by_record)
        assert any(inv.parse_issues for inv in columnar)


def test_defaults_and_totals_as_balances_build_the_same_invoices(tmp_path):
    records = [se_record(Restbelopp="", Land="", Kundtyp=""), se_record(Restbelopp="100,00", Land="no")]
    extra = "totals_are_open_balances: true\ndefaults:\n  country: fi\n  customer_kind: company\n  currency: SEK"
    for columnar, by_record in _both_paths(_csv_source(tmp_path, csv_bytes(records), extra)):
        _assert_same(columnar, by_record)
        assert columnar[0].open_balance == columnar[0].total_amount


def test_a_synthetic_export_builds_the_same_invoices_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(assemble, "_BATCH_GROUPS", 7)  # many batches, multi-line invoices across their edges
    monkeypatch.setattr(columnar_path, "_LINE_CACHE_MAX", 5)  # the cache of distinct lines cleared again and again
    synthetic.write_se_csv(tmp_path / "export.csv", invoices=300, seed=3, invalid_share=0.3)
    text = ("creditors:\n" + creditor_yaml(key="acme", market="SE", sources=[
        f"      - name: erp\n        kind: csv\n        path: {(tmp_path / 'export.csv').as_posix()!r}\n"
        "        column_preset: se-erp\n        thousands: ' '\n        encoding: cp1252\n"]))
    (tmp_path / "creditors.yaml").write_text(text, encoding="utf-8")
    [(columnar, by_record)] = _both_paths(tmp_path / "creditors.yaml")
    assert len(columnar) == 300
    _assert_same(columnar, by_record)


class _Broken(Exception):
    pass


def _failing_after(records: list, n: int):
    yield from records[:n]
    raise _Broken("the file vanished")


def test_a_reader_that_fails_keeps_the_same_invoices_before_it(tmp_path, monkeypatch):
    """extract keeps what was read before a failure: the batches must not swallow those invoices."""
    monkeypatch.setattr(assemble, "_BATCH_GROUPS", 4)
    synthetic.write_se_csv(tmp_path / "export.csv", invoices=40, seed=5)
    text = ("creditors:\n" + creditor_yaml(key="acme", market="SE", sources=[
        f"      - name: erp\n        kind: csv\n        path: {(tmp_path / 'export.csv').as_posix()!r}\n"
        "        column_preset: se-erp\n        thousands: ' '\n        encoding: cp1252\n"]))
    (tmp_path / "creditors.yaml").write_text(text, encoding="utf-8")
    creds = load_creditors(tmp_path / "creditors.yaml")
    creditor = creds.creditors[0]
    spec = creditor.sources[0]
    [unit] = iter_units(spec, base_dir=creds.base_dir)
    stream, asm = open_records(spec, unit, creditor=creditor.key, market=creditor.market)
    records = list(stream.records)
    for n in (0, 1, 9, 17, len(records) - 1):
        got = {}
        for mode, fields in (("columnar", asm.record_fields), ("by_record", None)):
            asm.record_fields = fields
            seen = []
            with pytest.raises(_Broken):
                for inv in asm.invoices(_failing_after(records, n), location=unit.location):
                    seen.append(inv)
            got[mode] = seen
        asm.record_fields = stream.whole_record_fields
        _assert_same(got["columnar"], got["by_record"])


def test_records_with_other_keys_than_announced_are_built_record_by_record():
    """A reader that breaks its word (other keys than it announced) costs speed, never content."""
    from amili_pipelines.domain.invoice import Market
    from amili_pipelines.sources.parsing import ValueParser

    asm = assemble.InvoiceAssembler(source="s", creditor="c", market=Market.SE, parser=ValueParser(decimal=","),
                                    record_fields=("invoice_number", "customer_name"))
    records = [(1, {"invoice_number": "1", "customer_name": "Anna"}), (2, {"invoice_number": "2", "currency": "SEK"}),
               (3, {"invoice_number": "3", "customer_name": 7})]
    columnar = list(asm.invoices(records, location="x.csv"))
    asm.record_fields = None
    _assert_same(columnar, list(asm.invoices(records, location="x.csv")))


def test_a_batch_that_clears_the_line_cache_is_still_built_column_by_column(monkeypatch):
    """The cache of distinct lines is cleared when a batch's new lines would overfill it: the batch's
    lines that were cached before must be read again (not a KeyError that sends the whole batch to
    the per-invoice path, silently: same invoices, the speed lost on every such batch)."""
    from amili_pipelines.domain.invoice import Market
    from amili_pipelines.sources.parsing import ValueParser

    monkeypatch.setattr(assemble, "_BATCH_GROUPS", 2)
    monkeypatch.setattr(columnar_path, "_LINE_CACHE_MAX", 3)
    made = []
    make = columnar_path._make_invoice
    monkeypatch.setattr(columnar_path, "_make_invoice", lambda values, fields_set: made.append(1) or make(values, fields_set))
    fields = ("invoice_number", "customer_name", "line_article_number", "line_units")
    asm = assemble.InvoiceAssembler(source="s", creditor="c", market=Market.SE, parser=ValueParser(decimal=","),
                                    record_fields=fields)
    # batches of two invoices: (A, B), (A, C) fill the cache; (A, D) clears it while A is cached
    records = [(k + 1, {"invoice_number": str(k + 1), "customer_name": "Anna", "line_article_number": article,
                        "line_units": "1"}) for k, article in enumerate("ABACADAE")]
    columnar = list(asm.invoices(records, location="x.csv"))
    assert len(made) == len(records)  # every invoice built column by column
    asm.record_fields = None
    _assert_same(columnar, list(asm.invoices(records, location="x.csv")))
