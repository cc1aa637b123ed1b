"""How close Swedish registration gets to the configured rate limit against a real (emulated) server limit.

Starts the Amili emulator in a subprocess with 50 ms injected latency and a real per-token
server-side limit (``rate_limit_requests`` per ``rate_limit_window_seconds``, answering 429 above
it), then registers invoices through the engine (``enqueue_valid_invoices`` + ``register_pending``)
with an ``AmiliSeClient`` limited to ``--rps`` requests/s. Prints the achieved request rate (from
the client's ``stats.snapshot()`` and from the emulator's own counts), its share of the limit and
the number of 429s the emulator sent.

    .venv/bin/python benchmarks/registration_rate_limit.py [--invoices 500] [--rps 50] [--server-limit <default: = rps>] [--runs 5]
    .venv/bin/python benchmarks/registration_rate_limit.py --server-limit 0     # server-side limit off

Targets (brief): at least 90 % of the client limit, and zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from amili_pipelines.amili.se.client import AmiliSeClient  # noqa: E402
from amili_pipelines.domain.invoice import Market  # noqa: E402
from amili_pipelines.emulator.config import DEMO_SE_API_CODE  # noqa: E402
from amili_pipelines.emulator.testing import running_emulator  # noqa: E402
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending  # noqa: E402
from amili_pipelines.settings import PROJECT_ROOT, load_creditors  # noqa: E402
from amili_pipelines.warehouse import open_warehouse  # noqa: E402
from tests.support.invoices import make_invoices  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=500, help="per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rps", type=float, default=50.0, help="client limit (AmiliSeClient requests_per_second)")
    parser.add_argument("--concurrency", type=int, default=32, help="client max_concurrency")
    parser.add_argument("--server-limit", type=int, default=None,
                        help="emulator rate_limit_requests per window (default: equal to --rps; 0 = off)")
    parser.add_argument("--window", type=float, default=1.0, help="emulator rate_limit_window_seconds")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    server_limit = int(args.rps * args.window) if args.server_limit is None else args.server_limit

    creditors = load_creditors(PROJECT_ROOT / "creditors.yaml")
    invoices = make_invoices(Market.SE, args.invoices, seed=21, prefix="BENCH-RL")
    faults: dict = {"latency_ms": args.latency_ms}
    if server_limit:
        faults.update(rate_limit_requests=server_limit, rate_limit_window_seconds=args.window)

    rows = []
    with running_emulator(subprocess=True) as emu, tempfile.TemporaryDirectory(prefix="amili-bench-") as tmp:
        server = (f"{server_limit} req / {args.window:g} s per token" if server_limit else "off")
        print(f"emulator {emu.base_url} (subprocess), latency {args.latency_ms:.0f} ms, server limit {server}; "
              f"client limit {args.rps:g} req/s, concurrency {args.concurrency}; {args.invoices} invoices x "
              f"{args.runs} runs", flush=True)

        async def send(wh):
            client = AmiliSeClient(base_url=emu.base_url, api_code=SecretStr(DEMO_SE_API_CODE),
                                   requests_per_second=args.rps, max_concurrency=args.concurrency)
            async with client as se:
                started = time.perf_counter()
                summary = await register_pending(wh, creditors=creditors, se_client=se)
                return summary, se.stats.snapshot(), time.perf_counter() - started

        for run in range(1, args.runs + 1):
            emu.admin.reset()
            emu.admin.set_faults(**faults)
            emu.admin.reset_stats()
            with open_warehouse(Path(tmp) / f"bench-{run}.duckdb") as wh:
                enqueue_valid_invoices(wh, invoices, creditors=creditors)
                summary, stats, seconds = asyncio.run(send(wh))
            emu_stats = emu.admin.stats()
            api = sum(v for k, v in emu_stats["requests"].items()
                      if not k.split(" ", 1)[1].startswith("/_emulator"))
            emu_429 = int(emu_stats["statuses"].get("429", 0))
            rows.append((run, stats["requests_sent"], api, seconds, emu_429, stats, summary.metadata()))

    print()
    print(f"{'run':>3} {'client sent':>11} {'server saw':>10} {'seconds':>8} {'req/s':>8} {'of limit':>9} {'429s':>5}  engine")
    for run, sent, api, seconds, emu_429, stats, meta in rows:
        rate = sent / seconds
        print(f"{run:>3} {sent:>11} {api:>10} {seconds:>8.2f} {rate:>8.1f} {rate / args.rps:>9.1%} {emu_429:>5}  "
              f"registered={meta['registered']} still_unknown={meta['still_unknown']} retries={stats['retries']}")
    ratios = sorted(sent / seconds / args.rps for _, sent, _, seconds, _, _, _ in rows)
    median = statistics.median(ratios)
    total_429 = sum(r[4] for r in rows)
    print()
    print(f"limit_ratio median {median:.1%} (spread {ratios[0]:.1%}-{ratios[-1]:.1%}); target >= 90%: "
          f"{'MET' if median >= 0.9 else 'NOT MET'}; 429s over {args.runs} runs: {total_429} "
          f"(target 0: {'MET' if total_429 == 0 else 'NOT MET'})")
    print(f"RESULT registration_rate_limit limit_ratio={median:.3f} rate_limited={total_429}")


if __name__ == "__main__":
    main()
