"""How close the shared Amili transport gets to its configured rate limit, and its per-request overhead.

Run: ``.venv/bin/python benchmarks/client_rate_limit.py [--rps 50 100 200] [--requests 500]``.
Uses ``httpx.MockTransport`` with a small simulated latency, so it measures the client only.
The acceptance bar (brief): a run achieves at least 90 % of the configured limit.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from amili_pipelines.amili.transport import Transport


async def _handler(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(0.005)
    return httpx.Response(200, json={"_id": "x"})


async def measure(rps: float, n: int, concurrency: int) -> float:
    transport = Transport(
        base_url="http://bench.test", requests_per_second=rps, max_concurrency=concurrency, transport=httpx.MockTransport(_handler)
    )
    async with transport:
        start = time.monotonic()
        await asyncio.gather(*(transport.request("GET", "/cases") for _ in range(n)))
        return n / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rps", type=float, nargs="+", default=[20.0, 50.0, 100.0, 200.0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"{'limit rps':>10} {'achieved':>10} {'share':>7}")
    for rps in args.rps:
        n = max(args.requests, int(rps * 2))
        achieved = asyncio.run(measure(rps, n, args.concurrency))
        print(f"{rps:>10.1f} {achieved:>10.1f} {achieved / rps:>7.1%}")
    unlimited = asyncio.run(measure(1e6, args.requests, args.concurrency))
    print(f"no limit: {unlimited:.0f} req/s ({1000 / unlimited:.2f} ms/request incl. 5 ms simulated latency / {args.concurrency})")


if __name__ == "__main__":
    main()
