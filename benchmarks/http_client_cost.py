"""What an HTTP client costs per registration request: httpx vs. httpcore directly vs. aiohttp,
and the project's own transport (which chose aiohttp on these numbers).

Issue 15, point 1: "If a leaner HTTP client (h11/httpcore directly, aiohttp) is clearly faster per
request under the same safety rules, measure it against httpx and choose on the numbers."

The emulator runs in its own process (no latency, no rate limit). Each client, in a fresh process
of its own, POSTs the same Swedish registration body (a distinct invoice number per request,
serialised before the clock starts, as the outbox will store it) N times with ``c`` requests in
flight, and reads every answer in full. Each client is set up the way the project's transport
uses httpx (``amili/transport.py``): one keep-alive connection per request in flight, the same
per-phase timeouts (connect 5 s, read/write 30 s), idle connections dropped after 2 s. Measured:
the client process's CPU (``time.process_time``) per request, and the wall rate. A raw asyncio
HTTP/1.1 client (no parsing worth the name, no timeouts: not a candidate) shows the floor.
``project`` is ``amili.transport.Transport`` itself: httpx's request and response types over the
aiohttp wire (``amili/wire.py``), with its semaphore, retry and error sorting.

    .venv/bin/python benchmarks/http_client_cost.py [-n 3000] [-c 64] [--repeat 3]

Ends with ``RESULT http_client_cost project_cpu_ms=... httpx_cpu_ms=... httpcore_cpu_ms=... aiohttp_cpu_ms=...
raw_cpu_ms=... best=<the cheapest library>`` (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PATH = "/invoice--registrations"
CLIENTS = ["project", "httpx", "httpcore", "aiohttp", "raw"]
CONNECT_S, READ_S, WRITE_S, POOL_S, KEEPALIVE_S = 5.0, 30.0, 30.0, 30.0, 2.0


def _bodies(n: int, run: str) -> list[bytes]:
    body = json.loads((ROOT / "assets/seeds/invoice_registration_person.json").read_text())
    body.update(invoice_date="Wed, 21 Jan 2026 10:11:22 GMT", invoice_due_date="Sat, 21 Feb 2026 10:11:22 GMT")
    return [json.dumps({**body, "invoice_number": f"HC-{run}-{i}"}, separators=(",", ":")).encode() for i in range(n)]


async def _workers(concurrency: int, bodies: list[bytes], open_one, close_one, send) -> tuple[int, int]:
    """``concurrency`` senders, each with a one-connection client of its own (as the transport does)."""
    it = iter(bodies)
    ok = failed = 0

    async def worker() -> None:
        nonlocal ok, failed
        client = await open_one()
        try:
            for body in it:
                if await send(client, body) == 201:
                    ok += 1
                else:
                    failed += 1
        finally:
            await close_one(client)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


async def _httpx(url: str, headers: dict[str, str], bodies: list[bytes], c: int) -> tuple[int, int]:
    import httpx

    ssl_context = httpx.create_ssl_context()
    timeout = httpx.Timeout(connect=CONNECT_S, read=READ_S, write=WRITE_S, pool=POOL_S)

    async def open_one():
        transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=httpx.Limits(
            max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_S))
        return httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport, headers=headers,
                                 follow_redirects=False)

    async def send(client, body: bytes) -> int:
        response = await client.request("POST", PATH, content=body)
        await response.aread()
        return response.status_code

    return await _workers(c, bodies, open_one, lambda client: client.aclose(), send)


async def _httpcore(url: str, headers: dict[str, str], bodies: list[bytes], c: int) -> tuple[int, int]:
    import httpcore

    target = f"{url}{PATH}".encode()
    header_list = [(k.encode(), v.encode()) for k, v in headers.items()]
    extensions = {"timeout": {"connect": CONNECT_S, "read": READ_S, "write": WRITE_S, "pool": POOL_S}}

    async def open_one():
        return httpcore.AsyncConnectionPool(max_connections=1, max_keepalive_connections=1,
                                            keepalive_expiry=KEEPALIVE_S)

    async def send(pool, body: bytes) -> int:
        response = await pool.request(b"POST", target, headers=header_list, content=body, extensions=extensions)
        return response.status

    return await _workers(c, bodies, open_one, lambda pool: pool.aclose(), send)


async def _aiohttp(url: str, headers: dict[str, str], bodies: list[bytes], c: int) -> tuple[int, int]:
    import aiohttp

    # aiohttp has no write timeout; sock_read bounds the wait for the answer, sock_connect the connect.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_S, sock_read=READ_S, connect=POOL_S)
    target = f"{url}{PATH}"

    async def open_one():
        connector = aiohttp.TCPConnector(limit=1, keepalive_timeout=KEEPALIVE_S)
        return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers, auto_decompress=False)

    async def send(session, body: bytes) -> int:
        async with session.post(target, data=body, allow_redirects=False) as response:
            await response.read()
            return response.status

    return await _workers(c, bodies, open_one, lambda session: session.close(), send)


async def _project(url: str, headers: dict[str, str], bodies: list[bytes], c: int) -> tuple[int, int]:
    """The project's own ``amili.transport.Transport`` (httpx types over the aiohttp wire, with its
    semaphore, retries and error sorting), sending stored bytes as the registration window does."""
    import httpx

    from amili_pipelines.amili.transport import Transport

    ok = failed = 0
    timeout = httpx.Timeout(connect=CONNECT_S, read=READ_S, write=WRITE_S, pool=POOL_S)
    async with Transport(base_url=url, requests_per_second=float("inf"), max_concurrency=c, timeout=timeout,
                         headers=headers) as http:
        todo = iter(bodies)

        async def worker() -> None:
            nonlocal ok, failed
            for body in todo:
                response = await http.request("POST", PATH, content=body, authenticated=False)
                ok, failed = (ok + 1, failed) if response.status_code == 201 else (ok, failed + 1)

        await asyncio.gather(*(worker() for _ in range(c)))
    return ok, failed


async def _raw(url: str, headers: dict[str, str], bodies: list[bytes], c: int) -> tuple[int, int]:
    host, port = url.split("//", 1)[1].split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    async def open_one():
        return await asyncio.open_connection(host, int(port))

    async def close_one(conn) -> None:
        conn[1].close()

    async def send(conn, body: bytes) -> int:
        reader, writer = conn
        writer.write(f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
                     + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        return int(status_line.split()[1])

    return await _workers(c, bodies, open_one, close_one, send)


def _child(name: str, url: str, token: str, n: int, c: int, run: str) -> dict:
    client = {"project": _project, "httpx": _httpx, "httpcore": _httpcore, "aiohttp": _aiohttp, "raw": _raw}[name]
    headers = {"X-API-Key": token, "Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": "amili-pipelines"}
    bodies = _bodies(n, run)
    cpu, wall = time.process_time(), time.perf_counter()
    ok, failed = asyncio.run(client(url, headers, bodies, c))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"ok": ok, "failed": failed, "cpu_ms": cpu / n * 1000, "per_second": n / wall}


def _available(name: str) -> bool:
    if name != "aiohttp":
        return True
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3000, help="requests per client per repetition")
    ap.add_argument("-c", type=int, default=64, help="requests in flight")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("CLIENT", "URL", "RUN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        # The token comes in the environment: one starting with "-" would read as an option.
        name, url, run = args.child
        token = os.environ["BENCH_TOKEN"]
        print(json.dumps(_child(name, url, token, args.n, args.c, run)))
        return

    from amili_pipelines.emulator.testing import running_emulator

    clients = [name for name in CLIENTS if _available(name)]
    missing = [name for name in CLIENTS if name not in clients]
    results: dict[str, list[dict]] = {name: [] for name in clients}
    loads = ["/".join(f"{x:.2f}" for x in os.getloadavg())]
    with running_emulator(subprocess=True) as emu:
        for rep in range(args.repeat):
            for name in clients if rep % 2 == 0 else clients[::-1]:
                emu.admin.reset()  # the same server work for every client: an empty registry
                token = emu.se_token()
                done = subprocess.run([sys.executable, __file__, "-n", str(args.n), "-c", str(args.c), "--child", name,
                                       emu.base_url, f"{rep}{name}"], capture_output=True, text=True, cwd=ROOT,
                                      env={**os.environ, "BENCH_TOKEN": token})
                if done.returncode != 0:
                    sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            loads.append("/".join(f"{x:.2f}" for x in os.getloadavg()))

    med = {name: statistics.median(r["cpu_ms"] for r in runs) for name, runs in results.items()}
    base = med["httpx"]
    print(f"{'client':<10}{'CPU ms/request (runs)':>34}{'median':>8}{'vs httpx':>9}{'requests/s (median)':>21}"
          f"{'non-201':>8}")
    for name, runs in results.items():
        cpus = ", ".join(f"{r['cpu_ms']:.3f}" for r in runs)
        rate = statistics.median(r["per_second"] for r in runs)
        failed = sum(r["failed"] for r in runs)
        print(f"{name:<10}{cpus:>34}{med[name]:>8.3f}{med[name] / base:>8.2f}x{rate:>21.0f}{failed:>8}")
    candidates = {k: v for k, v in med.items() if k not in ("raw", "project")}
    best = min(candidates, key=candidates.get)
    print(f"{args.n} POST {PATH} per client and repetition, {args.c} in flight, one keep-alive connection each, "
          f"emulator without latency in its own process; load average: {' | '.join(loads)}"
          + (f"; not installed: {', '.join(missing)}" if missing else ""))
    print(f"RESULT http_client_cost project_cpu_ms={med['project']:.3f} "
          + " ".join(f"{k}_cpu_ms={v:.3f}" for k, v in candidates.items())
          + (" aiohttp_cpu_ms=na" if "aiohttp" in missing else "") + f" raw_cpu_ms={med['raw']:.3f} best={best}")


if __name__ == "__main__":
    main()
