"""Starlette application factory for the Amili emulator."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from . import norway, sweden
from .common import JSON, error_for_path, read_json
from .config import EmulatorConfig, FaultConfig
from .engine import Engine
from .faults import EmulatorMiddleware, FaultState, Stats
from .util import dumps, iso, rfc1123


class Emulator:
    """Everything one running emulator holds: engine, stats, faults, persistence."""

    def __init__(self, config: EmulatorConfig, state_path: Path | None) -> None:
        self.initial_config = config.model_copy(deep=True)
        self.engine = Engine(config.model_copy(deep=True))
        self.stats = Stats()
        self.faults = FaultState(self.engine)
        self.state_path = Path(state_path) if state_path else None
        self.router: Router = Router()
        self.last_save = 0.0
        if self.state_path and self.state_path.exists():
            self.engine.load_json(json.loads(self.state_path.read_text(encoding="utf-8")))

    def save(self, force: bool = False) -> None:
        if not self.state_path:
            return
        engine = self.engine
        if not (engine.dirty or force):
            return
        with engine.lock:
            data = dumps(engine.to_json())
            engine.dirty = False
        tmp = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, self.state_path)
        self.last_save = time.time()

    def reset(self) -> None:
        engine = self.engine
        with engine.lock:
            engine.config.faults = self.initial_config.faults.model_copy(deep=True)
            engine.reset()
            self.stats.reset()
            self.faults.reseed()

    def clock_body(self) -> dict[str, Any]:
        now = self.engine.clock.now()
        return {"now": rfc1123(now), "iso": iso(now), "timestamp": now.timestamp(),
                "speed": self.engine.clock.speed}

    async def send_webhooks(self, client: Any) -> None:
        engine = self.engine
        if not engine.outbox:
            return
        with engine.lock:
            events, engine.outbox = engine.outbox, []
        wh = engine.config.norway.webhooks
        for event in events:
            body = dumps(event)
            sig = hmac.new(wh.secret.encode(), body, hashlib.sha256).hexdigest()
            delivery = engine.uuid()
            headers = {
                "Content-Type": "application/json",
                "X-Amili-Event": event["type"],
                "IdempotencyKey": delivery,
                "X-Amili-Request-Id": event["id"],
                "X-Webhook-Signature": sig,
            }
            entry: dict[str, Any] = {"event": event, "headers": headers, "url": wh.url, "attempts": 0,
                                     "status": None, "error": None}
            for attempt in range(3):
                entry["attempts"] = attempt + 1
                try:
                    resp = await client.post(wh.url, content=body, headers=headers, timeout=wh.timeout_seconds)
                    entry["status"] = resp.status_code
                    entry["error"] = None
                    if resp.status_code < 500:
                        break
                except Exception as exc:  # noqa: BLE001 - any delivery failure is logged
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2 * (attempt + 1))
            engine.webhook_log.append(entry)


def create_app(config: EmulatorConfig | None = None, *, state_path: Path | None = None) -> Starlette:
    """Build the emulator app. ``config`` is copied; the app never mutates the caller's object."""
    emu = Emulator(config or EmulatorConfig(), state_path)
    engine = emu.engine

    # ----------------------------------------------------------------- admin
    async def reset(request: Request) -> Response:
        emu.reset()
        return JSON({"status": "ok", **emu.clock_body()})

    async def clock(request: Request) -> Response:
        return JSON(emu.clock_body())

    async def advance(request: Request) -> Response:
        body, ok = await read_json(request)
        if not ok or not isinstance(body, dict):
            return JSON({"error": 'body must be {"days": n} or {"seconds": n}'}, status_code=400)
        try:
            seconds = float(body.get("seconds") or 0) + float(body.get("days") or 0) * 86400
        except (TypeError, ValueError):
            return JSON({"error": "days/seconds must be numbers"}, status_code=400)
        if seconds < 0:
            return JSON({"error": "the clock only moves forward"}, status_code=400)
        engine.advance(seconds)
        return JSON(emu.clock_body())

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSON(engine.config.faults.model_dump(mode="json"))
        if request.method == "DELETE":
            new = FaultConfig()
        else:
            body, ok = await read_json(request)
            if not ok or not isinstance(body, dict):
                return JSON({"error": "body must be a JSON object of fault fields"}, status_code=400)
            merged = engine.config.faults.model_dump()
            merged.update(body)
            try:
                new = FaultConfig.model_validate(merged)
            except ValidationError as exc:
                return JSON({"error": "invalid fault config",
                             "details": json.loads(exc.json(include_url=False))}, status_code=422)
        with engine.lock:
            engine.config.faults = new
            emu.faults.reseed()
        return JSON(new.model_dump(mode="json"))

    async def state(request: Request) -> Response:
        return JSON(engine.state_dump())

    async def stats(request: Request) -> Response:
        if request.method in ("DELETE", "POST"):
            emu.stats.reset()
        return JSON(emu.stats.as_dict())

    async def webhooks(request: Request) -> Response:
        return JSON({"deliveries": engine.webhook_log, "pending": len(engine.outbox)})

    async def config_view(request: Request) -> Response:
        return JSON(engine.config.model_dump(mode="json"))

    async def save(request: Request) -> Response:
        emu.save(force=True)
        return JSON({"saved": bool(emu.state_path), "path": str(emu.state_path) if emu.state_path else None})

    async def health(request: Request) -> Response:
        return JSON({"status": "ok"})

    async def process(request: Request) -> Response:
        engine.process()
        return JSON(emu.clock_body())

    admin = [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/clock", clock, methods=["GET"]),
        Route("/_emulator/clock/advance", advance, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/_emulator/state", state, methods=["GET"]),
        Route("/_emulator/stats", stats, methods=["GET", "DELETE"]),
        Route("/_emulator/stats/reset", stats, methods=["POST"]),
        Route("/_emulator/webhooks", webhooks, methods=["GET"]),
        Route("/_emulator/config", config_view, methods=["GET"]),
        Route("/_emulator/save", save, methods=["POST"]),
        Route("/_emulator/process", process, methods=["POST"]),
    ]
    routes = sweden.build_routes(engine) + norway.build_routes(engine) + admin

    # ----------------------------------------------------------------- lifespan
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import httpx

        stop = asyncio.Event()
        client = httpx.AsyncClient()

        async def ticker() -> None:
            while not stop.is_set():
                try:
                    engine.process()
                    await emu.send_webhooks(client)
                    if emu.state_path and time.time() - emu.last_save >= engine.config.save_interval_seconds:
                        emu.save()
                except Exception as exc:  # noqa: BLE001 - keep ticking, report
                    print(f"amili emulator: background tick failed: {exc!r}", flush=True)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=engine.config.tick_seconds)
                except asyncio.TimeoutError:
                    pass

        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=5)
            with contextlib.suppress(Exception):
                await emu.send_webhooks(client)
            await client.aclose()
            emu.save(force=True)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/_emulator"):
            return JSON({"error": exc.detail}, status_code=exc.status_code)
        return error_for_path(request.url.path, exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_for_path(request.url.path, 500)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(EmulatorMiddleware, emulator=emu)],
        exception_handlers={HTTPException: http_error, 500: server_error},
        lifespan=lifespan,
    )
    emu.router = app.router
    app.state.emulator = emu
    app.state.engine = engine
    return app
