"""Peak memory of the whole job for one big partition: CSV -> extract -> validate -> queue -> register.

Generates N Swedish invoices as CSV exports (100k per file), then, in a fresh process (so the peak is
the job's own), extracts, validates and registers them against the emulator (a separate process, no
latency, the client rate limit lifted) and reports that process's peak RSS (VmHWM) per phase.

    .venv/bin/python benchmarks/registration_memory.py [--invoices 1000000]

Ends with ``RESULT registration_memory invoices=<n> peak_rss_mb=<peak> registered=<n>`` (goal of
issue 15: 1,000,000 invoices with a peak <= 1 GB). 1M takes long on 2 cores (the registrations
dominate); smaller runs show how the peak grows with N.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pydantic import SecretStr  # noqa: E402

from amili_pipelines.amili.se.client import AmiliSeClient  # noqa: E402
from amili_pipelines.domain.invoice import Market  # noqa: E402
from amili_pipelines.emulator.testing import running_emulator  # noqa: E402
from amili_pipelines.registration.run import register_market  # noqa: E402
from amili_pipelines.sources.extract import extract_source  # noqa: E402
from amili_pipelines.sources.validate import validate_partition  # noqa: E402
from amili_pipelines.warehouse import open_warehouse  # noqa: E402
from validation_throughput import AS_OF, _creditors, _peak_rss_mb, generate  # noqa: E402




def job(folder: Path, pattern: str, se_url: str, concurrency: int) -> dict:
    creditors = _creditors(folder, pattern)
    phases: dict[str, tuple[float, float]] = {}
    with open_warehouse(folder / "bench.duckdb") as wh:
        t = time.perf_counter()
        extract_source(wh, creditors=creditors, source_name="bench-csv", partition_date=AS_OF)
        phases["extract"] = (time.perf_counter() - t, _peak_rss_mb())
        t = time.perf_counter()
        v = validate_partition(wh, creditors=creditors, partition_date=AS_OF)
        phases["validate"] = (time.perf_counter() - t, _peak_rss_mb())
        t = time.perf_counter()
        client = AmiliSeClient(base_url=se_url, api_code=SecretStr("demo-api-code"), requests_per_second=1_000_000,
                               max_concurrency=concurrency)
        s = register_market(wh, creditors=creditors, market=Market.SE, client=client, partition_dates=[AS_OF])
        phases["queue + register"] = (time.perf_counter() - t, _peak_rss_mb())
        registered = wh.outbox.state_counts(market=Market.SE)["registered"]
    return {"valid": v.valid, "registered": registered, "sent": s.sent, "phases": phases}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--job", nargs=3, metavar=("FOLDER", "PATTERN", "SE_URL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        print(json.dumps(job(Path(args.job[0]), args.job[1], args.job[2], args.concurrency)))
        return
    with tempfile.TemporaryDirectory() as tmp, running_emulator(subprocess=True) as emu:
        folder = Path(tmp)
        pattern = generate(args.invoices, folder)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--job", str(folder), pattern, emu.base_url,
                              "--concurrency", str(args.concurrency)], check=True, capture_output=True, text=True)
        total = time.perf_counter() - t
        r = json.loads(out.stdout.strip().splitlines()[-1])
        # The request counter, not the emulator's state: dumping 850k registrations as JSON times out.
        # Under load even the counter may not answer in time: the job's own figures are still printed.
        try:
            at_amili = f"{emu.admin.count('POST', '/invoice--registrations'):,}"
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what it has
            at_amili = f"unknown ({type(exc).__name__} asking the emulator)"
    print(f"{'phase':<20}{'seconds':>10}{'peak RSS MB so far':>22}")
    for name, (seconds, peak) in r["phases"].items():
        print(f"{name:<20}{seconds:>10.1f}{peak:>22.0f}")
    peak = max(p for _, p in r["phases"].values())
    print(f"({args.invoices:,} invoices generated, {r['valid']:,} valid, {r['registered']:,} registered, "
          f"{at_amili} registration requests at the emulator; job process {total:.0f} s; emulator without latency, "
          f"{args.concurrency} in flight, rate limit lifted)")
    print(f"RESULT registration_memory invoices={args.invoices} peak_rss_mb={peak:.0f} registered={r['registered']}")


if __name__ == "__main__":
    main()
