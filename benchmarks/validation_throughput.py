"""Validation throughput and the 100k (optionally 1M) CSV -> extract + validate -> DuckDB run.

    .venv/bin/python benchmarks/validation_throughput.py [--million]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
from pydantic import TypeAdapter

from amili_pipelines.config import load_creditors
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.validation import validate_invoices
from amili_pipelines.sources import synthetic
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.reading import iter_units, read_unit
from amili_pipelines.sources.validate import validate_partition
from amili_pipelines.warehouse.db import _migrations

AS_OF = date(2026, 11, 21)


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(path))
    for version, _, sql in _migrations():
        if version <= 2:
            conn.execute(sql)
    return conn


def _creditors(folder: Path, csv_name: str):
    (folder / "creditors.yaml").write_text(f"""creditors:
  - key: bench
    name: Bench AB
    market: SE
    account_id: a
    creditor_id: c
    sources:
      - name: bench-csv
        kind: csv
        path: {csv_name}
        column_preset: se-erp
        thousands: ' '
        encoding: cp1252
        payment_reference_scheme: ocr-length
""", encoding="utf-8")
    return load_creditors(folder / "creditors.yaml")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int, folder: Path) -> dict[str, float]:
    csv_path = folder / f"bench_{n}.csv"
    t0 = time.perf_counter()
    synthetic.write_se_csv(csv_path, invoices=n, seed=1)
    gen = time.perf_counter() - t0
    creds = _creditors(folder, csv_path.name)
    conn = _warehouse(folder / f"bench_{n}.duckdb")
    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    s = extract_source(conn, creditors=creds, source_name="bench-csv", partition_date=AS_OF)
    t1 = time.perf_counter()
    v = validate_partition(conn, creditors=creds, partition_date=AS_OF)
    t2 = time.perf_counter()
    conn.close()
    return {"invoices": n, "rows_read": s.rows_read, "extracted": s.extracted, "valid": v.valid,
            "quarantined": v.quarantined, "generate_s": gen, "extract_s": t1 - t0, "validate_s": t2 - t1,
            "total_s": t2 - t0, "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": rss0}


def throughput(folder: Path, n: int = 50_000) -> tuple[float, float, float]:
    """invoices/s: pydantic parse only (baseline), rules only, parse + rules."""
    csv_path = folder / "tp.csv"
    synthetic.write_se_csv(csv_path, invoices=n, seed=2)
    creds = _creditors(folder, csv_path.name)
    spec = creds.creditors[0].sources[0]
    invoices = [inv for u in iter_units(spec, base_dir=folder) for inv in read_unit(spec, u, creditor="bench",
                                                                                 market=creds.creditors[0].market)]
    payload = "[" + ",".join(i.model_dump_json() for i in invoices) + "]"
    ta = TypeAdapter(list[SourceInvoice])
    t0 = time.perf_counter()
    parsed = ta.validate_json(payload)
    t1 = time.perf_counter()
    validate_invoices(parsed, reference_schemes={"bench-csv": "ocr-length"})
    t2 = time.perf_counter()
    return n / (t1 - t0), n / (t2 - t1), n / (t2 - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--million", action="store_true", help="also stream 1,000,000 invoices")
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, rules, both = throughput(folder)
        print("| measure (one core) | invoices/s | vs. baseline |")
        print("|---|---:|---:|")
        print(f"| baseline: pydantic parse of SourceInvoice JSON, no rules | {base:,.0f} | 1.00 |")
        print(f"| validation rules only (cold caches) | {rules:,.0f} | {rules / base:.2f} |")
        print(f"| parse + rules (what validate_partition does) | {both:,.0f} | {both / base:.2f} |")
        print()
        r = run(args.n, folder)
        print("| run | invoices | extract s | validate s | total s | peak RSS MB (process) |")
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| CSV -> extract + validate -> DuckDB | {r['invoices']:,} | {r['extract_s']:.2f} | "
              f"{r['validate_s']:.2f} | {r['total_s']:.2f} | {r['peak_rss_mb']:.0f} |")
        print(f"(extracted {r['extracted']:,}, valid {r['valid']:,}, quarantined {r['quarantined']:,})")
        if args.million:
            r3 = run(1_000_000, folder)
            print(f"| 1M streamed | {r3['invoices']:,} | {r3['extract_s']:.2f} | {r3['validate_s']:.2f} | "
                  f"{r3['total_s']:.2f} | {r3['peak_rss_mb']:.0f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
