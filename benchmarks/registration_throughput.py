"""Swedish registration throughput: the registration engine vs. the documentation-style loop.

Starts the Amili emulator in a subprocess with 50 ms injected latency per request, then registers
the same number of invoices twice (emulator reset in between, distinct invoice numbers):

* baseline — what the API docs show: one synchronous ``httpx.Client`` request at a time, a token from
  ``POST /authenticates/api-code`` sent as ``X-API-Key``, body = ``to_se_registration(...)``;
* engine — ``enqueue_valid_invoices`` + ``register_pending`` with an ``AmiliSeClient`` (high rate
  limit, ``--concurrency`` in flight) into a temporary DuckDB file (the real outbox, exactly once).

    .venv/bin/python benchmarks/registration_throughput.py [--invoices 2000] [--concurrency 64]

Target (brief): the engine registers at least 15x as many invoices per second as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from amili_pipelines.amili.mapping import to_se_registration  # noqa: E402
from amili_pipelines.amili.se.client import AmiliSeClient  # noqa: E402
from amili_pipelines.domain.invoice import Market  # noqa: E402
from amili_pipelines.emulator.config import DEMO_SE_API_CODE  # noqa: E402
from amili_pipelines.emulator.testing import running_emulator  # noqa: E402
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending  # noqa: E402
from amili_pipelines.settings import PROJECT_ROOT, load_creditors  # noqa: E402
from amili_pipelines.warehouse import open_warehouse  # noqa: E402
from tests.support.invoices import make_invoices  # noqa: E402

SE_POST = ("POST", "/invoice--registrations")


def run_baseline(emu, invoices, creditor) -> float:
    """The docs' ``requests.post`` loop, with httpx.Client: one request at a time."""
    bodies = [
        to_se_registration(inv, account_id=creditor.account_id, creditor_id=creditor.creditor_id)
        .model_dump(mode="json", exclude_none=True)
        for inv in invoices
    ]
    started = time.perf_counter()
    with httpx.Client(base_url=emu.base_url, timeout=30.0) as http:
        auth = http.post("/authenticates/api-code", json={"api_code": DEMO_SE_API_CODE})
        auth.raise_for_status()
        headers = {"X-API-Key": auth.json()["token"]}
        for body in bodies:
            r = http.post("/invoice--registrations", json=body, headers=headers)
            if r.status_code != 201:
                raise SystemExit(f"baseline: registration answered {r.status_code}: {r.text[:300]}")
    return time.perf_counter() - started


def run_engine(emu, invoices, creditors, *, concurrency: int, rps: float, db_path: Path) -> tuple[float, dict, dict]:
    """Outbox enqueue + concurrent send; the timing covers both (everything a run does for them)."""

    async def send(wh):
        client = AmiliSeClient(base_url=emu.base_url, api_code=SecretStr(DEMO_SE_API_CODE),
                               requests_per_second=rps, max_concurrency=concurrency)
        async with client as se:
            summary = await register_pending(wh, creditors=creditors, se_client=se)
            return summary, se.stats.snapshot()

    with open_warehouse(db_path) as wh:
        started = time.perf_counter()
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        summary, stats = asyncio.run(send(wh))
        seconds = time.perf_counter() - started
    return seconds, summary.metadata(), stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64, help="engine: AmiliSeClient max_concurrency")
    parser.add_argument("--rps", type=float, default=10_000.0, help="engine: client rate limit (high = off)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="emulator: injected latency per request")
    args = parser.parse_args()

    creditors = load_creditors(PROJECT_ROOT / "creditors.yaml")
    creditor = creditors.creditor("demo-se")
    n = args.invoices
    baseline_invoices = make_invoices(Market.SE, n, seed=11, prefix="BENCH-BASE")
    engine_invoices = make_invoices(Market.SE, n, seed=12, prefix="BENCH-ENG")

    with running_emulator(subprocess=True) as emu, tempfile.TemporaryDirectory(prefix="amili-bench-") as tmp:
        emu.admin.reset()
        emu.admin.set_faults(latency_ms=args.latency_ms)
        print(f"emulator {emu.base_url} (subprocess pid {emu.process.pid}), latency {args.latency_ms:.0f} ms, "
              f"{n} invoices per variant", flush=True)

        base_s = run_baseline(emu, baseline_invoices, creditor)
        base_posts = emu.admin.count(*SE_POST)

        emu.admin.reset()
        emu.admin.reset_stats()
        emu.admin.set_faults(latency_ms=args.latency_ms)
        eng_s, meta, stats = run_engine(emu, engine_invoices, creditors, concurrency=args.concurrency,
                                        rps=args.rps, db_path=Path(tmp) / "bench.duckdb")
        eng_posts = emu.admin.count(*SE_POST)

    base_rate = n / base_s
    eng_rate = n / eng_s
    print()
    print(f"{'variant':<44} {'invoices':>8} {'seconds':>9} {'invoices/s':>11} {'vs baseline':>12}")
    print(f"{'baseline (sync httpx.Client, 1 at a time)':<44} {n:>8} {base_s:>9.2f} {base_rate:>11.1f} {1.0:>11.1f}x")
    print(f"{f'engine (outbox + AmiliSeClient, c={args.concurrency})':<44} {n:>8} {eng_s:>9.2f} {eng_rate:>11.1f} "
          f"{eng_rate / base_rate:>11.1f}x")
    print()
    print(f"emulator POST /invoice--registrations: baseline {base_posts}, engine {eng_posts}")
    print(f"engine summary: registered={meta.get('registered')} rejected={meta.get('rejected')} "
          f"sent={meta.get('sent')} still_unknown={meta.get('still_unknown')}")
    print(f"engine client stats: {stats}")
    ratio = eng_rate / base_rate
    print(f"target >= 15x: {'MET' if ratio >= 15 else 'NOT MET'} ({ratio:.1f}x)")


if __name__ == "__main__":
    main()
