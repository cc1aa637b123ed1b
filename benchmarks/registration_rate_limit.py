"""How close Swedish registration gets to the configured rate limit against a real (emulated) server limit.

Starts the Amili emulator in a subprocess with 50 ms injected latency and a real per-token
server-side limit (``rate_limit_requests`` per ``rate_limit_window_seconds``, answering 429 above
it), then registers invoices through the engine (``enqueue_valid_invoices`` + ``register_pending``)
with an ``AmiliSeClient`` limited to ``--rps`` requests/s. Prints the achieved request rate (from
the client's ``stats.snapshot()`` and from the emulator's own counts), its share of the limit and
the number of 429s the emulator sent.

    .venv/bin/python benchmarks/registration_rate_limit.py [--invoices 500] [--rps 50] [--server-limit 55]
    .venv/bin/python benchmarks/registration_rate_limit.py --server-limit 0     # server-side limit off

Targets (brief): at least 90 % of the client limit, and zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
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
    parser.add_argument("--invoices", type=int, default=500)
    parser.add_argument("--rps", type=float, default=50.0, help="client limit (AmiliSeClient requests_per_second)")
    parser.add_argument("--concurrency", type=int, default=32, help="client max_concurrency")
    parser.add_argument("--server-limit", type=int, default=55,
                        help="emulator rate_limit_requests per window (0 = no server-side limit)")
    parser.add_argument("--window", type=float, default=1.0, help="emulator rate_limit_window_seconds")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()

    creditors = load_creditors(PROJECT_ROOT / "creditors.yaml")
    invoices = make_invoices(Market.SE, args.invoices, seed=21, prefix="BENCH-RL")
    faults: dict = {"latency_ms": args.latency_ms}
    if args.server_limit:
        faults.update(rate_limit_requests=args.server_limit, rate_limit_window_seconds=args.window)

    with running_emulator(subprocess=True) as emu, tempfile.TemporaryDirectory(prefix="amili-bench-") as tmp:
        emu.admin.reset()
        emu.admin.set_faults(**faults)
        emu.admin.reset_stats()
        server = (f"{args.server_limit} req / {args.window:g} s per token" if args.server_limit else "off")
        print(f"emulator {emu.base_url} (subprocess), latency {args.latency_ms:.0f} ms, server limit {server}; "
              f"client limit {args.rps:g} req/s, concurrency {args.concurrency}; {args.invoices} invoices", flush=True)

        async def send(wh):
            client = AmiliSeClient(base_url=emu.base_url, api_code=SecretStr(DEMO_SE_API_CODE),
                                   requests_per_second=args.rps, max_concurrency=args.concurrency)
            async with client as se:
                started = time.perf_counter()
                summary = await register_pending(wh, creditors=creditors, se_client=se)
                return summary, se.stats.snapshot(), time.perf_counter() - started

        with open_warehouse(Path(tmp) / "bench.duckdb") as wh:
            enqueue_valid_invoices(wh, invoices, creditors=creditors)
            summary, stats, seconds = asyncio.run(send(wh))
        emu_stats = emu.admin.stats()

    client_sent = stats["requests_sent"]
    api_requests = {k: v for k, v in emu_stats["requests"].items() if not k.split(" ", 1)[1].startswith("/_emulator")}
    emu_total = sum(api_requests.values())
    emu_429 = int(emu_stats["statuses"].get("429", 0))
    client_rate = client_sent / seconds
    emu_rate = emu_total / seconds

    print()
    print(f"{'measured by':<28} {'requests':>9} {'seconds':>8} {'req/s':>8} {'% of limit':>11}")
    print(f"{'client stats.snapshot()':<28} {client_sent:>9} {seconds:>8.2f} {client_rate:>8.1f} "
          f"{client_rate / args.rps:>11.1%}")
    print(f"{'emulator admin stats':<28} {emu_total:>9} {seconds:>8.2f} {emu_rate:>8.1f} {emu_rate / args.rps:>11.1%}")
    print()
    print(f"429s sent by the emulator: {emu_429}   (client saw rate_limited={stats['rate_limited']}, "
          f"retries={stats['retries']})")
    print(f"emulator requests by route: {api_requests}")
    print(f"emulator statuses: {emu_stats['statuses']}")
    meta = summary.metadata()
    print(f"engine summary: registered={meta['registered']} rejected={meta['rejected']} sent={meta['sent']} "
          f"still_unknown={meta['still_unknown']}")
    ok_rate = client_rate >= 0.9 * args.rps
    print(f"target >= 90% of limit: {'MET' if ok_rate else 'NOT MET'} ({client_rate / args.rps:.1%}); "
          f"target zero 429s: {'MET' if emu_429 == 0 else 'NOT MET'} ({emu_429})")


if __name__ == "__main__":
    main()
