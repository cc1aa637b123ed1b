"""Throughput benchmark for the Amili emulator.

Starts the emulator in a subprocess (faults off), then drives N Swedish invoice registrations
(`POST /invoice--registrations`) with a raw keep-alive HTTP/1.1 client (or httpx, `--client httpx`),
and prints registrations/s, p50/p95/p99 latency and the server's CPU per registration; last,
``RESULT emulator_throughput per_second=... server_cpu_ms=...``.

    .venv/bin/python benchmarks/emulator_throughput.py            # 5000 registrations, raw client
    .venv/bin/python benchmarks/emulator_throughput.py -n 20000 -c 100 --client-procs 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from amili_pipelines.emulator.config import EmulatorConfig  # noqa: E402
from amili_pipelines.emulator.testing import running_emulator  # noqa: E402

# The seed documents' person example (assets/seeds/), with fixed RFC 1123 dates.
BODY = {
    **json.loads((Path(__file__).resolve().parents[1] / "assets/seeds/invoice_registration_person.json").read_text()),
    "invoice_number": "BENCH-0",
    "invoice_date": "Wed, 21 Jan 2026 10:11:22 GMT",
    "invoice_due_date": "Sat, 21 Feb 2026 10:11:22 GMT",
}


async def _drive(base_url: str, token: str, start: int, count: int, concurrency: int) -> tuple[list[float], int]:
    """``concurrency`` workers, each with its own keep-alive httpx.AsyncClient (one connection each:
    httpcore's shared pool gets slow with many connections)."""
    latencies: list[float] = []
    errors = 0
    next_i = start
    end = start + count

    async def worker() -> None:
        nonlocal next_i, errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        headers = {"X-API-Key": token, "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                     timeout=30, trust_env=False) as client:
            while next_i < end:
                i = next_i
                next_i += 1
                body = json.dumps({**BODY, "invoice_number": f"BENCH-{i}"}).encode()
                t = time.perf_counter()
                r = await client.post("/invoice--registrations", content=body)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 201:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def _drive_raw(base_url: str, token: str, start: int, count: int,
                     concurrency: int) -> tuple[list[float], int]:
    """Minimal keep-alive HTTP/1.1 client on raw asyncio streams: measures the server, not httpx."""
    host, port = base_url.split("//", 1)[1].split(":")
    latencies: list[float] = []
    errors = 0
    ids = iter(range(start, start + count))

    async def conn() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in ids:
            body = json.dumps({**BODY, "invoice_number": f"BENCH-{i}"}).encode()
            head = (f"POST /invoice--registrations HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            t = time.perf_counter()
            writer.write(head + body)
            status_and_headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in status_and_headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not status_and_headers.startswith(b"HTTP/1.1 201"):
                errors += 1
        writer.close()

    await asyncio.gather(*(conn() for _ in range(concurrency)))
    return latencies, errors


def _proc(args: tuple[str, str, int, int, int, str]) -> tuple[list[float], int]:
    drive = _drive_raw if args[5] == "raw" else _drive
    try:
        import uvloop

        return uvloop.run(drive(*args[:5]))
    except ImportError:  # pragma: no cover
        return asyncio.run(drive(*args[:5]))


def server_capacity(base_url: str, token: str, *, n: int = 5000, concurrency: int = 20, start: int = 0) -> float:
    """Registrations/s this running emulator serves to the raw client (no latency fault set): the
    server's capacity, for benchmarks that bound a client by it. Invoice numbers from ``start``."""
    started = time.perf_counter()
    _, errors = _proc((base_url, token, start, n, concurrency, "raw"))
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"server capacity: {errors} of {n} registrations were not answered 201")
    return n / elapsed


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run(n: int, concurrency: int, client_procs: int, client: str = "httpx") -> dict[str, float]:
    with running_emulator(EmulatorConfig(), subprocess=True) as emu:
        token = emu.se_token()
        # warm-up
        asyncio.run(_drive(emu.base_url, token, 10_000_000, 200, 10))
        per = [n // client_procs + (1 if i < n % client_procs else 0) for i in range(client_procs)]
        conc = max(1, concurrency // client_procs)
        jobs = []
        offset = 0
        for count in per:
            jobs.append((emu.base_url, token, offset, count, conc, client))
            offset += count
        cpu0 = _cpu_seconds(emu.process.pid)
        if client_procs == 1:
            t0 = time.perf_counter()
            results = [_proc(jobs[0])]
            elapsed = time.perf_counter() - t0
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(client_procs) as pool:
                t0 = time.perf_counter()
                results = pool.map(_proc, jobs)
                elapsed = time.perf_counter() - t0
        cpu1 = _cpu_seconds(emu.process.pid)
        received = emu.admin.count("POST", "/invoice--registrations")
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    return {
        "registrations": len(lat),
        "errors": errors,
        "seconds": elapsed,
        "per_second": len(lat) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(lat) * 1000,
        "server_counted": received,
        "server_cpu_ms": (cpu1 - cpu0) * 1000 / max(1, len(lat)) if cpu0 is not None and cpu1 is not None else -1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="registrations to send (default 5000)")
    parser.add_argument("-c", "--concurrency", type=int, default=20, help="concurrent requests in total")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="client processes (default 1: on 2 cores, 1 server + 1 client process is fastest)")
    parser.add_argument("--client", choices=["httpx", "raw"], default="raw",
                        help="a minimal raw-socket HTTP/1.1 client (default: the client is not the bottleneck, "
                             "so the figure is the server's) or httpx.AsyncClient per worker")
    args = parser.parse_args()
    res = run(args.n, args.concurrency, args.client_procs, args.client)
    rows = [
        ("registrations", f"{res['registrations']:.0f}"),
        ("errors (non-201)", f"{res['errors']:.0f}"),
        ("received by server", f"{res['server_counted'] - 200:.0f}"),
        ("client", f"{args.client}, {args.concurrency} concurrent, {args.client_procs} client process(es)"),
        ("wall time", f"{res['seconds']:.2f} s"),
        ("registrations/s", f"{res['per_second']:.0f}"),
        ("latency p50", f"{res['p50_ms']:.1f} ms"),
        ("latency p95", f"{res['p95_ms']:.1f} ms"),
        ("latency p99", f"{res['p99_ms']:.1f} ms"),
        ("server CPU / registration", f"{res['server_cpu_ms']:.3f} ms" if res["server_cpu_ms"] >= 0 else "n/a"),
        ("server capacity (1 core)", f"~{1000 / res['server_cpu_ms']:.0f} registrations/s"
         if res["server_cpu_ms"] > 0 else "n/a"),
    ]
    width = max(len(k) for k, _ in rows)
    print("Amili emulator throughput: POST /invoice--registrations, faults off")
    print("-" * (width + 30))
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"RESULT emulator_throughput per_second={res['per_second']:.0f} server_cpu_ms={res['server_cpu_ms']:.3f} "
          f"errors={res['errors']:.0f} client={args.client}")


if __name__ == "__main__":
    main()
