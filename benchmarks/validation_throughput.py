"""Validation throughput and the 100k (optionally 1M) CSV -> extract + validate -> DuckDB run.

    .venv/bin/python benchmarks/validation_throughput.py [--million]

Prints each target of the project issue next to the measured figure: (a) validation >= 20,000
invoices/s on one core; (b) 100,000 invoices CSV -> extract + validate -> DuckDB in <= 10 s with
peak RSS < 1 GB; (c) 1,000,000 invoices streamed in bounded memory. Each run (100k, 1M) happens in
a fresh process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root, for tests.support

from pydantic import TypeAdapter  # noqa: E402

from amili_pipelines.domain.invoice import SourceInvoice  # noqa: E402
from amili_pipelines.domain.validation import validate_invoices  # noqa: E402
from amili_pipelines.settings import load_creditors  # noqa: E402
from amili_pipelines.sources.extract import extract_source  # noqa: E402
from amili_pipelines.sources.reading import iter_units, read_unit  # noqa: E402
from amili_pipelines.sources.validate import validate_partition  # noqa: E402
from amili_pipelines.warehouse import open_warehouse  # noqa: E402
from tests.support import synthetic  # noqa: E402

AS_OF = date(2026, 11, 21)


def write_creditors_file(folder: Path, source_path: Path | str) -> Path:
    """``folder/creditors.yaml``: one Swedish creditor with one cp1252 ERP-export source at
    ``source_path`` (a file or a glob). The ids are the emulator's demo creditor's, so the
    benchmarks that register (registration_memory, dagster_overhead) can use it too."""
    path = folder / "creditors.yaml"
    path.write_text(f"""creditors:
  - key: bench
    name: Bench AB
    market: SE
    account_id: 674dbeaf08847b9501cc9132
    creditor_id: 674dbeb208847b9501cc9138
    sources:
      - name: bench-csv
        kind: csv
        path: {source_path}
        column_preset: se-erp
        thousands: ' '
        encoding: cp1252
        payment_reference_scheme: ocr-length
""", encoding="utf-8")
    return path


def _creditors(folder: Path, csv_name: str):
    return load_creditors(write_creditors_file(folder, csv_name))


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Linux keeps ``ru_maxrss`` across execve, so a child started by
    a big parent would report the parent's peak; VmHWM belongs to the new address space only."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_peak_rss_mb() -> float:
    """Largest peak RSS of a finished child (e.g. a validation worker); 0 without any."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


_FILE_INVOICES = 100_000


def generate(n: int, folder: Path) -> str:
    """Write the CSV export(s) for ``n`` invoices; returns the source's path pattern.

    Up to 100k one file; beyond, one 100k file per part with distinct invoice numbers (the
    generator plans a whole file in memory, so a single 1M file would not measure us but it).
    """
    if n <= _FILE_INVOICES:
        synthetic.write_se_csv(folder / f"bench_{n}.csv", invoices=n, seed=1)
        return f"bench_{n}.csv"
    part_dir = folder / f"bench_{n}"
    for k in range(0, (n + _FILE_INVOICES - 1) // _FILE_INVOICES):
        synthetic._write_csv(part_dir / f"part_{k:03d}.csv", columns=synthetic.SE_COLUMNS, market="SE",
                             invoices=min(_FILE_INVOICES, n - k * _FILE_INVOICES), seed=1 + k, invalid_share=0.08,
                             paid_share=0.035, not_due_share=0.025, encoding="cp1252",
                             first_number=100001 + k * 1_000_000)
    return f"bench_{n}/part_*.csv"


def run(n: int, folder: Path, pattern: str) -> dict[str, float]:
    creds = _creditors(folder, pattern)
    with open_warehouse(folder / f"bench_{n}.duckdb") as wh:
        rss0 = _peak_rss_mb()
        t0 = time.perf_counter()
        s = extract_source(wh, creditors=creds, source_name="bench-csv", partition_date=AS_OF)
        t1 = time.perf_counter()
        v = validate_partition(wh, creditors=creds, partition_date=AS_OF)
        t2 = time.perf_counter()
    return {"invoices": n, "rows_read": s.rows_read, "extracted": s.extracted, "valid": v.valid,
            "quarantined": v.quarantined, "extract_s": t1 - t0, "validate_s": t2 - t1,
            "total_s": t2 - t0, "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": rss0,
            "worker_peak_rss_mb": _children_peak_rss_mb()}


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


def _run_in_subprocess(n: int, folder: Path) -> dict[str, float]:
    """Generate, then run in a fresh process, so its peak RSS is the run's own (not the generator's)."""
    t0 = time.perf_counter()
    pattern = subprocess.run([sys.executable, __file__, "--generate-only", str(n), "--folder", str(folder)],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    gen = time.perf_counter() - t0
    out = subprocess.run([sys.executable, __file__, "--run-only", str(n), "--folder", str(folder),
                          "--pattern", pattern], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]) | {"generate_s": gen}


def _ok(flag: bool) -> str:
    return "met" if flag else "**short**"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--million", action="store_true", help="also stream 1,000,000 invoices (a separate process)")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--run-only", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--generate-only", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--pattern", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        print(generate(args.generate_only, args.folder))
        return
    if args.run_only:
        print(json.dumps(run(args.run_only, args.folder, args.pattern)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, rules, both = throughput(folder)
        print("| measure (one core) | invoices/s | vs. baseline | target | |")
        print("|---|---:|---:|---:|---|")
        print(f"| baseline: pydantic parse of SourceInvoice JSON, no rules | {base:,.0f} | 1.00 | | |")
        print(f"| (a) validation rules only (cold caches) | {rules:,.0f} | {rules / base:.2f} | >= 20,000 | "
              f"{_ok(rules >= 20_000)} |")
        print(f"| parse JSON + rules (validate_partition's fallback for a stale source) | {both:,.0f} | "
              f"{both / base:.2f} | | |")
        print()
        r = _run_in_subprocess(args.n, folder)
        print("| run | invoices | extract s | validate s | total s | target s | peak RSS MB (process) | target MB | |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        ok = r["total_s"] <= 10 and r["peak_rss_mb"] < 1024
        print(f"| (b) CSV -> extract + validate -> DuckDB | {r['invoices']:,} | {r['extract_s']:.2f} | "
              f"{r['validate_s']:.2f} | {r['total_s']:.2f} | <= 10 | {r['peak_rss_mb']:.0f} | < 1,024 | "
              f"{_ok(ok) if args.n == 100_000 else ''} |")
        if args.million:
            r3 = _run_in_subprocess(1_000_000, folder)
            ok3 = r3["peak_rss_mb"] < 1024
            print(f"| (c) 1M streamed | {r3['invoices']:,} | {r3['extract_s']:.2f} | {r3['validate_s']:.2f} | "
                  f"{r3['total_s']:.2f} | | {r3['peak_rss_mb']:.0f} | bounded (< 1,024) | {_ok(ok3)} |")
        print(f"(100k: extracted {r['extracted']:,}, valid {r['valid']:,}, quarantined {r['quarantined']:,}; "
              f"peak RSS before the run {r['rss_before_mb']:.0f} MB; largest worker process peak "
              f"{r['worker_peak_rss_mb']:.0f} MB)")
        if args.million:
            print(f"(1M: extracted {r3['extracted']:,}, valid {r3['valid']:,}, quarantined {r3['quarantined']:,}; "
                  f"largest worker process peak {r3['worker_peak_rss_mb']:.0f} MB; CSV written in {r3['generate_s']:.0f} s, not counted)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
