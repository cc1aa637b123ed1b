"""The admin and inspection API under ``/_emulator/`` (no auth, never faulted, not counted in stats).

Tests and demos use it to reset the emulator, move the simulated clock, switch faults on and off, and
look at everything that reached "Amili"; ``testing.AdminClient`` wraps it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .config import FaultConfig
from .ledger import DAY
from .responses import JSON, read_json
from .runtime import Emulator


def _error(message: str, status: int = 400, **extra: Any) -> JSON:
    return JSON({"error": message, **extra}, status_code=status)


async def _merged(request: Request, current: BaseModel, what: str) -> BaseModel | JSON:
    """``current`` with the request body's fields merged in, validated (or the error response)."""
    body, ok = await read_json(request)
    if not ok or not isinstance(body, dict):
        return _error(f"body must be a JSON object of {what} fields")
    merged = current.model_dump()
    merged.update(body)
    try:
        return type(current).model_validate(merged)
    except ValidationError as exc:
        return _error(f"invalid {what} config", 422, details=json.loads(exc.json(include_url=False)))


class AdminAPI:
    """One handler per admin endpoint, all working on the same running :class:`~.runtime.Emulator`."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.engine = emu.engine

    def routes(self) -> list[Route]:
        return [
            Route("/_emulator/health", self.health, methods=["GET"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
            Route("/_emulator/clock", self.clock, methods=["GET"]),
            Route("/_emulator/clock/advance", self.advance, methods=["POST"]),
            Route("/_emulator/faults", self.faults, methods=["GET", "PUT", "PATCH", "DELETE"]),
            Route("/_emulator/state", self.state, methods=["GET"]),
            Route("/_emulator/stats", self.stats, methods=["GET", "DELETE"]),
            Route("/_emulator/stats/reset", self.stats, methods=["POST"]),
            Route("/_emulator/webhooks", self.webhooks, methods=["GET"]),
            Route("/_emulator/webhooks/config", self.webhook_config, methods=["GET", "PUT", "PATCH"]),
            Route("/_emulator/config", self.config, methods=["GET"]),
            Route("/_emulator/save", self.save, methods=["POST"]),
            Route("/_emulator/process", self.process, methods=["POST"]),
        ]

    async def health(self, request: Request) -> Response:
        return JSON({"status": "ok"})

    async def reset(self, request: Request) -> Response:
        self.emu.reset()
        return JSON({"status": "ok", **self.emu.clock_body()})

    async def clock(self, request: Request) -> Response:
        return JSON(self.emu.clock_body())

    async def advance(self, request: Request) -> Response:
        body, ok = await read_json(request)
        if not ok or not isinstance(body, dict):
            return _error('body must be {"days": n} or {"seconds": n}')
        try:
            seconds = float(body.get("seconds") or 0) + float(body.get("days") or 0) * DAY
        except (TypeError, ValueError):
            return _error("days/seconds must be numbers")
        if seconds < 0:
            return _error("the clock only moves forward")
        self.engine.advance(seconds)
        return JSON(self.emu.clock_body())

    async def faults(self, request: Request) -> Response:
        """GET the faults; PUT/PATCH merge fields into them; DELETE switches all off. Re-seeds the RNG."""
        engine = self.engine
        if request.method == "GET":
            return JSON(engine.config.faults.model_dump(mode="json"))
        new = FaultConfig() if request.method == "DELETE" else await _merged(request, engine.config.faults, "fault")
        if isinstance(new, Response):
            return new
        with engine.lock:
            engine.config.faults = new
            self.emu.faults.reseed()
        return JSON(new.model_dump(mode="json"))

    async def state(self, request: Request) -> Response:
        return JSON(self.engine.state_dump())

    async def stats(self, request: Request) -> Response:
        if request.method in ("DELETE", "POST"):
            self.emu.stats.reset()
        return JSON(self.emu.stats.as_dict())

    async def webhooks(self, request: Request) -> Response:
        with self.engine.lock:
            return JSON(self.emu.webhooks.view())

    async def webhook_config(self, request: Request) -> Response:
        """GET the webhook settings; PUT/PATCH merge fields into them (``url: null`` switches delivery off).
        Re-seeds the delivery-fault RNG."""
        engine = self.engine
        if request.method == "GET":
            return JSON(engine.config.norway.webhooks.model_dump(mode="json"))
        new = await _merged(request, engine.config.norway.webhooks, "webhook")
        if isinstance(new, Response):
            return new
        with engine.lock:
            engine.config.norway.webhooks = new
            self.emu.webhooks.reseed()
        return JSON(new.model_dump(mode="json"))

    async def config(self, request: Request) -> Response:
        return JSON(self.engine.config.model_dump(mode="json"))

    async def save(self, request: Request) -> Response:
        emu = self.emu
        emu.save(force=True)
        return JSON({"saved": bool(emu.state_path), "path": str(emu.state_path) if emu.state_path else None})

    async def process(self, request: Request) -> Response:
        self.engine.process()
        return JSON(self.emu.clock_body())


def build_routes(emu: Emulator) -> list[Route]:
    return AdminAPI(emu).routes()
