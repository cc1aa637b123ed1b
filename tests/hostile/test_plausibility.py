"""A claim far above what the creditor usually claims is flagged (not blocked); one above its
ceiling is quarantined, and a raised ``max_claim`` lets it through on the next validation."""

from __future__ import annotations

from datetime import date

from amili_pipelines.settings import load_creditors
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from amili_pipelines.warehouse import open_warehouse
from tests.hostile.cases import csv_bytes, se_record

_YAML = """creditors:
  - key: acme
    name: Acme AB
    market: SE
    account_id: a1
    creditor_id: c1
{extra}    sources:
      - name: erp
        kind: csv
        path: export.csv
        column_preset: se-erp
        thousands: ' '
        read_once: false
"""


def _write(tmp_path, records, extra=""):
    (tmp_path / "export.csv").write_bytes(csv_bytes(records))
    (tmp_path / "creditors.yaml").write_text(_YAML.format(extra=extra), encoding="utf-8")
    return load_creditors(tmp_path / "creditors.yaml")


def _issues(wh, day):
    return wh.connection.execute("SELECT rule, severity, row_number, message FROM invoice_issues "
                                 "WHERE partition_date = ? AND rule IN ('amount.open_balance.outlier', 'amount.open_balance.ceiling')", [day]).fetchall()


def test_outlier_warns_against_the_creditors_history_and_the_ceiling_follows_the_configuration(tmp_path):
    usual = [se_record(Fakturanr=str(200000 + n), Restbelopp="2 375,00") for n in range(35)]
    day1, day2 = date(2026, 11, 20), date(2026, 11, 21)
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        creditors = _write(tmp_path, usual)
        extract_source(wh, creditors=creditors, source_name="erp", partition_date=day1)
        assert validate_partition(wh, creditors=creditors, partition_date=day1).valid == 35
        assert _issues(wh, day1) == [], "no history yet: nothing is an outlier"

        big, huge = se_record(Fakturanr="300001", Restbelopp="30 000,00"), se_record(Fakturanr="300002",
                                                                                       Restbelopp="12 000 000,00")
        creditors = _write(tmp_path, [big, huge])
        extract_source(wh, creditors=creditors, source_name="erp", partition_date=day2)
        v = validate_partition(wh, creditors=creditors, partition_date=day2)
        assert (v.valid, v.quarantined) == (1, 1)
        found = {(rule, sev, row) for rule, sev, row, _ in _issues(wh, day2)}
        assert found == {("amount.open_balance.outlier", "warning", 1), ("amount.open_balance.ceiling", "error", 2)}
        message = next(m for r, _, _, m in _issues(wh, day2) if r.endswith("outlier"))
        assert "95th percentile 2375.00 SEK over 35 earlier invoices" in message

        creditors = _write(tmp_path, [big, huge], extra="    max_claim: 20000000\n")
        v = validate_partition(wh, creditors=creditors, partition_date=day2)
        assert (v.valid, v.quarantined) == (2, 0), "a raised ceiling applies at the next validation"
        assert {r for r, *_ in _issues(wh, day2)} == {"amount.open_balance.outlier"}
