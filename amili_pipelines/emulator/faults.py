"""Fault injection on the API endpoints (pure ASGI middleware), plus per-route request counting.

Faults apply to API endpoints only, never to ``/_emulator/``. Decisions come from one
``random.Random`` seeded with ``FaultConfig.seed`` (or ``EmulatorConfig.seed``) and re-seeded
whenever the faults change, so a sequential client sees the same faults on every run.
Each request in scope draws exactly three numbers (latency jitter, error, committed-then-failed),
whatever it ends up doing: that is what keeps the sequence stable when one setting changes.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any

from starlette.routing import Match

from .config import FaultConfig
from .errors import error_for_path

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

InjectedError = tuple[int, "dict[str, str] | None"]


class FaultState:
    """The fault RNG and rate-limit windows of one running emulator."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.reseed()

    def reseed(self) -> None:
        f = self.engine.config.faults
        seed = f.seed if f.seed is not None else self.engine.config.seed
        self.rng = random.Random(f"faults:{seed}")
        self.windows: dict[str, tuple[float, int]] = {}
        self.engine.reset_fault_rng()

    @property
    def active(self) -> bool:
        f = self.engine.config.faults
        return bool(f.latency_ms or f.latency_jitter_ms or any(f.error_rates.values()) or f.rate_429
                    or f.committed_then_failed_rate or f.rate_limit_requests)


class EmulatorMiddleware:
    """Counts requests per route template and status, runs due work, injects faults."""

    def __init__(self, app: Any, emulator: Any) -> None:
        self.app = app
        self.emu = emulator

    def _template(self, scope: dict[str, Any]) -> str:
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return route.path
        router = self.emu.router
        partial = None
        for r in router.routes:
            match, _ = r.matches(scope)
            if match == Match.FULL:
                return r.path
            if match == Match.PARTIAL and partial is None:
                partial = r.path
        return partial or "<unmatched>"

    def _in_scope(self, f: FaultConfig, path: str, method: str) -> bool:
        return self.emu.faults.active and (not f.path_prefixes or any(path.startswith(p) for p in f.path_prefixes)) \
            and (not f.methods or method in f.methods)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        emu = self.emu
        engine = emu.engine
        path: str = scope["path"]
        method: str = scope["method"]
        status_holder: list[int] = []
        extra_headers: list[tuple[bytes, bytes]] = []

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder.append(message["status"])
                if extra_headers:
                    message["headers"] = list(message.get("headers", [])) + extra_headers
            await send(message)

        if engine.next_due <= engine.clock.now_ts() or engine.pending_batches:
            engine.process()

        f = engine.config.faults
        commit_fail = False
        if self._in_scope(f, path, method):
            injected, commit_fail = await self._draw(scope, f, method, extra_headers)
            if injected is not None:
                status, headers = injected
                emu.stats.faults[f"status_{status}"] += 1
                await error_for_path(path, status, headers=headers)(scope, receive, send_wrapper)
                emu.stats.record(f"{method} {self._template(scope)}", status)
                return

        if commit_fail:
            await self._committed_then_failed(scope, receive, send_wrapper, f.committed_then_failed_mode,
                                              f.hang_seconds, status_holder)
            emu.stats.record(f"{method} {self._template(scope)}", status_holder[-1] if status_holder else None)
            return

        await self.app(scope, receive, send_wrapper)
        emu.stats.record(f"{method} {self._template(scope)}", status_holder[0] if status_holder else None)

    async def _draw(self, scope: dict[str, Any], f: FaultConfig, method: str,
                    extra_headers: list[tuple[bytes, bytes]]) -> tuple[InjectedError | None, bool]:
        """Draw this request's three numbers; sleep the latency; return (injected error, commit-then-fail)."""
        rng = self.emu.faults.rng
        r_latency, r_error, r_commit = rng.random(), rng.random(), rng.random()
        delay = (f.latency_ms + f.latency_jitter_ms * r_latency) / 1000.0
        if delay > 0:
            self.emu.stats.faults["latency"] += 1
            await asyncio.sleep(delay)
        injected = self._pick_error(f, r_error)
        if injected is None and f.rate_limit_requests:
            injected = self._rate_limit(scope, f, extra_headers)
        if injected is not None:
            return injected, False
        return None, method in WRITE_METHODS and r_commit < f.committed_then_failed_rate

    @staticmethod
    def _pick_error(f: Any, r: float) -> InjectedError | None:
        acc = 0.0
        for status in sorted(f.error_rates):
            acc += f.error_rates[status]
            if r < acc:
                return status, None
        acc += f.rate_429
        if r < acc:
            return 429, {"Retry-After": str(f.retry_after_seconds)}
        return None

    def _rate_limit(self, scope: dict[str, Any], f: Any,
                    extra: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, str]] | None:
        headers = dict((k.decode().lower(), v.decode()) for k, v in scope["headers"])
        key = headers.get("x-api-key") or headers.get("authorization") or str(scope.get("client"))
        now = time.time()
        window = f.rate_limit_window_seconds
        start = math.floor(now / window) * window
        ws, count = self.emu.faults.windows.get(key, (start, 0))
        if ws != start:
            ws, count = start, 0
        count += 1
        self.emu.faults.windows[key] = (ws, count)
        reset = ws + window
        remaining = max(0, f.rate_limit_requests - count)
        rl = {"X-RateLimit-Limit": str(f.rate_limit_requests), "X-RateLimit-Remaining": str(remaining),
              "X-RateLimit-Reset": str(int(reset))}
        if count > f.rate_limit_requests:
            return 429, {**rl, "Retry-After": str(max(1, math.ceil(reset - now)))}
        extra.extend((k.encode(), v.encode()) for k, v in rl.items())
        return None

    async def _committed_then_failed(self, scope: dict[str, Any], receive: Any, send: Any, mode: str,
                                     hang: float, status_holder: list[int]) -> None:
        """Let the write happen, then fail the response the way a flaky network or proxy would."""
        emu = self.emu
        inner_status: list[int] = []

        async def swallow(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                inner_status.append(message["status"])

        await self.app(scope, receive, swallow)
        emu.stats.faults[f"committed_then_failed_{mode}"] += 1
        if inner_status and inner_status[0] >= 400:
            # nothing was committed: pass a plain error through instead
            resp = error_for_path(scope["path"], 502)
            await resp(scope, receive, send)
            return
        if mode == "502":
            resp = error_for_path(scope["path"], 502)
            await resp(scope, receive, send)
            return
        if mode == "timeout":
            await asyncio.sleep(hang)
        transport = scope.get("amili.transport")
        if transport is not None:
            transport.abort()
            for _ in range(3):
                await asyncio.sleep(0)
            return
        raise ConnectionAbortedError("emulator fault: dropped connection")
