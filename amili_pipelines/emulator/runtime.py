"""One running emulator: the engine plus what only a server has (request stats, the fault RNG, the state
file, the webhook delivery book).

:func:`~.app.create_app` builds one per app and shares it with the middleware, the admin API and the
background tick (``app.state.emulator``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from starlette.routing import Router

from . import persistence
from .config import EmulatorConfig
from .dates import iso, rfc1123
from .engine import Engine
from .faults import FaultState
from .stats import Stats
from .webhook_delivery import DeliveryBook


class Emulator:
    """Everything one running emulator holds: engine, stats, faults, persistence."""

    def __init__(self, config: EmulatorConfig, state_path: Path | None) -> None:
        self.initial_config = config.model_copy(deep=True)
        self.engine = Engine(config.model_copy(deep=True))
        self.stats = Stats()
        self.faults = FaultState(self.engine)
        self.webhooks = DeliveryBook(self.engine)
        self.state_path = Path(state_path) if state_path else None
        self.router: Router = Router()
        self.last_save = 0.0
        if self.state_path and self.state_path.exists():
            self.engine.load_json(json.loads(self.state_path.read_text(encoding="utf-8")))

    def save(self, force: bool = False) -> None:
        if not self.state_path:
            return
        if persistence.write_state_file(self.engine, self.state_path, force):
            self.last_save = time.time()

    def reset(self) -> None:
        """Back to the start: empty state, zero stats, the configured faults and webhook settings (not the
        ones set at run time), no webhook deliveries."""
        engine = self.engine
        with engine.lock:
            engine.config.faults = self.initial_config.faults.model_copy(deep=True)
            engine.config.norway.webhooks = self.initial_config.norway.webhooks.model_copy(deep=True)
            engine.reset()
            self.stats.reset()
            self.faults.reseed()
            self.webhooks.clear()

    def clock_body(self) -> dict[str, Any]:
        now = self.engine.clock.now()
        return {"now": rfc1123(now), "iso": iso(now), "timestamp": now.timestamp(),
                "speed": self.engine.clock.speed}
