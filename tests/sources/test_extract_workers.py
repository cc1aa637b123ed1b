"""Big files are assembled and validated by worker processes: same rows as in-process, chunk cuts
at invoice boundaries included."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from amili_pipelines.sources.extract import _record_tasks, extract_source
from amili_pipelines.warehouse import open_warehouse
from tests.support import synthetic
from tests.support.sources import creditors_with

AS_OF = date(2026, 11, 21)
_YAML = """creditors:
  - key: bench
    name: Bench AB
    market: SE
    account_id: a
    creditor_id: c
    sources:
      - name: bench-csv
        kind: csv
        path: export.csv
        column_preset: se-erp
        thousands: ' '
        encoding: cp1252
        payment_reference_scheme: ocr-length
"""
_TABLES = {
    "extracted_invoices": "* EXCLUDE (extracted_at)",
    "invoice_issues": "*",
    "source_balances": "* EXCLUDE (recorded_at)",
}


def _extract(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, workers: str) -> dict[str, list]:
    monkeypatch.setenv("AMILI_EXTRACT_WORKERS", workers)
    monkeypatch.setenv("AMILI_EXTRACT_PARALLEL_MIN_BYTES", "0")
    creds = creditors_with(tmp_path, _YAML)
    with open_warehouse(tmp_path / f"{name}.duckdb") as wh:
        s = extract_source(wh, creditors=creds, source_name="bench-csv", partition_date=AS_OF, chunk_size=97)
        assert not s.errors
        conn = wh.connection
        return {t: sorted(conn.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr) for t, cols in _TABLES.items()}


def test_workers_store_what_in_process_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synthetic.write_se_csv(tmp_path / "export.csv", invoices=600, seed=5)
    serial = _extract(tmp_path, "serial", monkeypatch, "0")
    parallel = _extract(tmp_path, "parallel", monkeypatch, "2")
    assert serial == _extract(tmp_path, "one_worker", monkeypatch, "1")
    assert len(serial["extracted_invoices"]) > 500
    assert serial == parallel


def test_record_tasks_cut_between_invoices() -> None:
    numbers = ["1", "1", "2", None, None, "3", "3", "3", "4", "5", "5"]
    records = [(i + 1, {"invoice_number": n}) for i, n in enumerate(numbers)]
    tasks = list(_record_tasks(iter(records), 2))
    assert [r for t in tasks for r in t] == records
    for t in tasks[1:]:
        first = t[0][1]["invoice_number"]
        before = records[t[0][0] - 2][1]["invoice_number"]
        assert first is None or before is None or first != before
    assert [len({r[1]["invoice_number"] or f"?{r[0]}" for r in t}) for t in tasks] == [2, 2, 2, 1]
