"""The Starlette application: both markets' routes, the admin API, the fault middleware, the background
tick, and error handlers that answer in each market's own error format.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from . import admin, norway, sweden
from .background import lifespan_for
from .config import EmulatorConfig
from .errors import http_error, server_error
from .faults import EmulatorMiddleware
from .runtime import Emulator

__all__ = ["Emulator", "create_app"]


def create_app(config: EmulatorConfig | None = None, *, state_path: Path | None = None) -> Starlette:
    """Build the emulator app. ``config`` is copied; the app never mutates the caller's object."""
    emu = Emulator(config or EmulatorConfig(), state_path)
    routes = sweden.build_routes(emu.engine) + norway.build_routes(emu.engine) + admin.build_routes(emu)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(EmulatorMiddleware, emulator=emu)],
        exception_handlers={HTTPException: http_error, 500: server_error},
        lifespan=lifespan_for(emu),
    )
    emu.router = app.router
    app.state.emulator = emu
    app.state.engine = emu.engine
    return app
