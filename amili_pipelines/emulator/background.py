"""The app's lifespan: the background tasks that keep the emulator moving between requests.

The tick runs due work every ``tick_seconds`` (so a batch finishes and a case moves even when nobody
asks) and saves the state file when it changed; a failing tick is reported and the tick goes on, since
one bad event must not stop the clock. The webhook sender is a task of its own, so a slow receiver or a
retry backoff never delays due work. On shutdown, pending webhooks get one last chance and the state is
saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette

from .runtime import Emulator
from .webhook_delivery import WebhookSender

SHUTDOWN_WEBHOOK_BUDGET_SECONDS = 5.0


async def _tick_until(emu: Emulator, stop: asyncio.Event) -> None:
    engine = emu.engine
    while not stop.is_set():
        try:
            engine.process()
            if emu.state_path and time.time() - emu.last_save >= engine.config.save_interval_seconds:
                emu.save()
        except Exception as exc:  # noqa: BLE001 - keep ticking, report
            print(f"amili emulator: background tick failed: {exc!r}", flush=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=engine.config.tick_seconds)
        except asyncio.TimeoutError:
            pass


def lifespan_for(emu: Emulator) -> Callable[[Starlette], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import httpx

        stop = asyncio.Event()
        client = httpx.AsyncClient()
        sender = WebhookSender(emu.engine, emu.webhooks, client)
        tasks = [asyncio.create_task(_tick_until(emu, stop)), asyncio.create_task(sender.run(stop))]
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
            await sender.flush(SHUTDOWN_WEBHOOK_BUDGET_SECONDS)
            await client.aclose()
            emu.save(force=True)

    return lifespan
