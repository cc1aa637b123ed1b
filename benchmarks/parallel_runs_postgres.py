"""Registration in parallel runs, production profile: 1 run vs 4 runs at once on one PostgreSQL outbox.

10,000 Swedish invoices across 4 creditors; the emulator (a separate process) adds 50 ms to every
request. Each "run" is a process doing what the register asset does (``register_pending`` on the
shared outbox, 16 requests in flight, the client rate limit lifted). Both modes start from an empty
store and a reset emulator; the duplicates column counts invoices Amili received more than once.

    .venv/bin/python benchmarks/parallel_runs_postgres.py [--invoices 10000] [--runs 4]

Prints a table and, last, ``RESULT parallel_runs speedup=<4 runs vs 1> duplicates=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from amili_pipelines.amili.se.client import AmiliSeClient  # noqa: E402
from amili_pipelines.domain.creditors import CreditorsFile  # noqa: E402
from amili_pipelines.domain.invoice import Market  # noqa: E402
from amili_pipelines.emulator.testing import running_emulator  # noqa: E402
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending  # noqa: E402
from amili_pipelines.settings import PROJECT_ROOT, load_creditors  # noqa: E402
from amili_pipelines.warehouse import open_warehouse  # noqa: E402
from tests.support.invoices import make_invoices  # noqa: E402
from tests.support.postgres import LocalPostgres  # noqa: E402

CREDITORS = 4


def creditors_file() -> CreditorsFile:
    """Four creditor keys on the emulator's demo Amili ids (their invoice numbers never collide)."""
    demo = load_creditors(PROJECT_ROOT / "creditors.yaml").creditor("demo-se")
    return CreditorsFile(creditors=[demo.model_copy(update={"key": f"bench-{i}", "sources": []})
                                    for i in range(CREDITORS)])


def invoices(n: int) -> list:
    per = n // CREDITORS
    out = []
    for i in range(CREDITORS):
        out += [inv.model_copy(update={"creditor": f"bench-{i}", "invoice_number": f"B{i}-{inv.invoice_number}"})
                for inv in make_invoices(Market.SE, per)]
    return out


async def work(url: str, se_url: str) -> None:
    """One run: register what is pending until nothing is left for it."""
    creditors = creditors_file()
    with open_warehouse(url) as wh:
        async with AmiliSeClient(base_url=se_url, api_code=SecretStr("demo-api-code"), requests_per_second=100_000,
                                 max_concurrency=16) as se:
            while True:
                summary = await register_pending(wh, creditors=creditors, se_client=se, chunk_size=250)
                if summary.sent == 0 and wh.outbox.state_counts(market=Market.SE)["pending"] == 0:
                    return


def measure(pg: LocalPostgres, emu, n: int, runs: int, name: str) -> tuple[float, int]:
    emu.admin.reset()
    emu.admin.set_faults(latency_ms=50.0)  # duplicates accepted: a second registration would show
    url = pg.create_database(name)
    with open_warehouse(url) as wh:
        enqueue_valid_invoices(wh, invoices(n), creditors=creditors_file())
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, emu.base_url]) for _ in range(runs)]
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - started
    if any(codes):
        raise SystemExit(f"a run failed: exit codes {codes}")
    numbers = Counter(d["invoice_number"] for d in emu.admin.state()["se"]["invoice--registrations"])
    with open_warehouse(url, read_only=True) as wh:
        registered = wh.outbox.state_counts()["registered"]
    if registered != n or len(numbers) != n:
        raise SystemExit(f"{name}: {registered} registered, {len(numbers)} at Amili, of {n}")
    return seconds, sum(c - 1 for c in numbers.values() if c > 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--worker", nargs=2, metavar=("URL", "SE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(work(*args.worker))
        return
    n = args.invoices - args.invoices % CREDITORS
    with LocalPostgres() as pg, running_emulator(subprocess=True) as emu:
        one_s, one_dup = measure(pg, emu, n, 1, "bench_one")
        many_s, many_dup = measure(pg, emu, n, args.runs, "bench_many")
    print(f"{'mode':<22}{'runs':>6}{'invoices':>10}{'seconds':>10}{'per second':>12}{'duplicates':>12}")
    print(f"{'one run':<22}{1:>6}{n:>10}{one_s:>10.1f}{n / one_s:>12.0f}{one_dup:>12}")
    print(f"{'runs at once':<22}{args.runs:>6}{n:>10}{many_s:>10.1f}{n / many_s:>12.0f}{many_dup:>12}")
    print(f"(50 ms per request at the emulator, 16 in flight per run, client rate limit lifted, PostgreSQL "
          f"{pg.bin.parent.name}, {CREDITORS} creditors)")
    print(f"RESULT parallel_runs speedup={one_s / many_s:.2f} duplicates={one_dup + many_dup} runs={args.runs} "
          f"invoices={n}")


if __name__ == "__main__":
    main()
