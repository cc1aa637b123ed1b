"""Swedish registration throughput: the registration engine vs. the documentation-style loop.

Starts the Amili emulator in a subprocess with 50 ms injected latency per request, then registers
invoices with the one-at-a-time loop and then with the engine at each concurrency level (emulator
reset in between, distinct invoice numbers):

* baseline — what the API docs show: one synchronous ``httpx.Client`` request at a time, a token from
  ``POST /authenticates/api-code`` sent as ``X-API-Key``, body = ``to_se_registration(...)``;
* engine — ``enqueue_valid_invoices`` + ``register_pending`` with an ``AmiliSeClient`` (no client
  rate limit, ``--concurrency`` in flight: 16, 64, 128) into a temporary DuckDB file (the real outbox, exactly once);
  timed twice: the send phase (``register_pending``: what the bound is about) and enqueue + send;
* floor — the same bodies POSTed by a bare aiohttp client at the same concurrency, no database, no
  outbox, no retries: what any client gets from this server at this latency. The emulator adds its
  own time to the 50 ms (it handles one request at a time, so a burst of answers queues there), so
  the floor is below the bound too; ``engine/floor`` shows how much of that the engine keeps.

    .venv/bin/python benchmarks/registration_throughput.py [--invoices 2000] [--concurrency 16 64 128]

Target (issue 15): at every level >= 90 % of min(concurrency / latency, server capacity). The server
capacity is measured in the same run, on the same emulator without latency, by
``emulator_throughput``'s raw keep-alive client (5,000 registrations, 20 in flight), unless
``--server-capacity`` gives it. Last line: ``RESULT registration_throughput bound_ratio=<lowest level,
send phase> with_enqueue=<lowest, enqueue + send> floor_ratio=<lowest level, bare client>
vs_floor=<lowest engine/floor> vs_loop=<c=16, the default, vs the loop> server_capacity=<req/s>``.
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

from emulator_throughput import server_capacity  # noqa: E402  the sibling benchmark's raw client

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


def run_floor(emu, invoices, creditor, *, concurrency: int) -> float:
    """A bare aiohttp client: ``concurrency`` senders POST the serialised bodies; seconds for all."""
    import aiohttp

    bodies = [
        to_se_registration(inv, account_id=creditor.account_id, creditor_id=creditor.creditor_id)
        .model_dump_json(exclude_none=True).encode()
        for inv in invoices
    ]

    async def go() -> float:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            async with http.post(emu.base_url + "/authenticates/api-code", json={"api_code": DEMO_SE_API_CODE}) as r:
                headers = {"X-API-Key": (await r.json())["token"], "Content-Type": "application/json"}
            todo = iter(bodies)

            async def sender() -> None:
                for body in todo:
                    async with http.post(emu.base_url + "/invoice--registrations", data=body, headers=headers) as r:
                        await r.read()
                        if r.status != 201:
                            raise SystemExit(f"floor: registration answered {r.status}")

            started = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(concurrency)))
            return time.perf_counter() - started

    return asyncio.run(go())


def run_engine(emu, invoices, creditors, *, concurrency: int, rps: float, db_path: Path) -> tuple[float, float, dict, dict]:
    """Outbox enqueue + concurrent send; returns (send seconds, enqueue + send seconds, metadata, stats)."""

    async def send(wh):
        client = AmiliSeClient(base_url=emu.base_url, api_code=SecretStr(DEMO_SE_API_CODE),
                               requests_per_second=rps, max_concurrency=concurrency)
        async with client as se:
            summary = await register_pending(wh, creditors=creditors, se_client=se)
            return summary, se.stats.snapshot()

    with open_warehouse(db_path) as wh:
        started = time.perf_counter()
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        sending = time.perf_counter()
        summary, stats = asyncio.run(send(wh))
        done = time.perf_counter()
    return done - sending, done - started, summary.metadata(), stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=2000, help="per engine variant")
    parser.add_argument("--baseline-invoices", type=int, default=300, help="for the one-at-a-time loop")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 128],
                        help="engine: AmiliSeClient max_concurrency levels (the first is the default, 16)")
    parser.add_argument("--rps", type=float, default=float("inf"), help="engine: client rate limit (inf = off)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="emulator: injected latency per request")
    parser.add_argument("--server-capacity", type=float, default=None,
                        help="the emulator's capacity in req/s for the bound (default: measured in this run with "
                             "emulator_throughput's raw client, no latency; issue 15 filed it at 4,500-5,200/s)")
    args = parser.parse_args()

    creditors = load_creditors(PROJECT_ROOT / "creditors.yaml")
    creditor = creditors.creditor("demo-se")
    n = args.invoices
    baseline_invoices = make_invoices(Market.SE, args.baseline_invoices, seed=11, prefix="BENCH-BASE")
    engine_invoices = make_invoices(Market.SE, n, seed=12, prefix="BENCH-ENG")
    floor_invoices = make_invoices(Market.SE, n, seed=13, prefix="BENCH-FLOOR")
    latency = args.latency_ms / 1000

    rows = []
    with running_emulator(subprocess=True) as emu, tempfile.TemporaryDirectory(prefix="amili-bench-") as tmp:
        emu.admin.reset()
        emu.admin.set_faults(latency_ms=args.latency_ms)
        print(f"emulator {emu.base_url} (subprocess pid {emu.process.pid}), latency {args.latency_ms:.0f} ms, "
              f"client limit {args.rps:g}/s, {n} invoices per engine variant", flush=True)

        base_s = run_baseline(emu, baseline_invoices, creditor)
        base_rate = args.baseline_invoices / base_s
        capacity = args.server_capacity
        if capacity is None:  # the same server, measured now by a client that is not its limit
            emu.admin.reset()
            emu.admin.clear_faults()  # no latency: the server's own pace
            capacity = server_capacity(emu.base_url, emu.se_token(), start=50_000_000)
        how = "given" if args.server_capacity is not None else "measured now: raw client, no latency, 20 in flight"
        print(f"server capacity {capacity:,.0f}/s ({how})", flush=True)

        for c in args.concurrency:
            emu.admin.reset()
            emu.admin.reset_stats()
            emu.admin.set_faults(latency_ms=args.latency_ms)
            send_s, eng_s, meta, stats = run_engine(emu, engine_invoices, creditors, concurrency=c,
                                                    rps=args.rps, db_path=Path(tmp) / f"bench-{c}.duckdb")
            posts = emu.admin.count(*SE_POST)
            emu.admin.reset()
            emu.admin.set_faults(latency_ms=args.latency_ms)
            floor_s = run_floor(emu, floor_invoices, creditor, concurrency=c)
            bound = min(c / latency, capacity, args.rps)
            rows.append((c, send_s, eng_s, floor_s, bound, posts, meta))

    print()
    print(f"{'variant':<44} {'invoices':>8} {'seconds':>8} {'inv/s':>8} {'bound/s':>8} {'of bound':>9} {'vs loop':>8}")
    print(f"{'loop (sync httpx.Client, 1 at a time)':<44} {args.baseline_invoices:>8} {base_s:>8.2f} "
          f"{base_rate:>8.1f} {1 / latency:>8.0f} {base_rate * latency:>9.1%} {1.0:>7.1f}x")
    for c, send_s, eng_s, floor_s, bound, posts, meta in rows:
        for label, seconds in ((f"engine, send phase (c={c})", send_s), (f"engine, enqueue + send (c={c})", eng_s),
                               (f"floor: bare aiohttp, no database (c={c})", floor_s)):
            print(f"{label:<44} {n:>8} {seconds:>8.2f} {n / seconds:>8.1f} {bound:>8.0f} {n / seconds / bound:>9.1%} "
                  f"{n / seconds / base_rate:>7.1f}x")
        print(f"{'':<44} engine/floor {floor_s / send_s:.1%}   posts={posts} registered={meta.get('registered')} "
              f"still_unknown={meta.get('still_unknown')}")
    print()
    bound_ratio = min(n / send_s / bound for _, send_s, _, _, bound, _, _ in rows)
    with_enqueue = min(n / eng_s / bound for _, _, eng_s, _, bound, _, _ in rows)
    floor_ratio = min(n / floor_s / bound for _, _, _, floor_s, bound, _, _ in rows)
    vs_floor = min(floor_s / send_s for _, send_s, _, floor_s, _, _, _ in rows)
    vs_loop = n / rows[0][1] / base_rate
    print(f"target >= 90% of bound at every level: {'MET' if bound_ratio >= 0.9 else 'NOT MET'} ({bound_ratio:.1%}; "
          f"with enqueue {with_enqueue:.1%}; a bare client gets {floor_ratio:.1%} from this server, "
          f"the engine at least {vs_floor:.1%} of that)")
    print(f"RESULT registration_throughput bound_ratio={bound_ratio:.3f} with_enqueue={with_enqueue:.3f} "
          f"floor_ratio={floor_ratio:.3f} vs_floor={vs_floor:.3f} vs_loop={vs_loop:.1f} server_capacity={capacity:.0f}")


if __name__ == "__main__":
    main()
