"""Run the receiver with uvicorn: ``amili-pipelines webhooks --host --port``."""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn

from amili_pipelines.domain.masking import install_log_masking
from amili_pipelines.settings import Settings
from amili_pipelines.warehouse.spool import open_inbox
from amili_pipelines.webhooks.app import PATH, ReceiverConfig, ReceiverMisconfigured, create_app


def serve(host: str = "127.0.0.1", port: int = 8766, *, settings: Settings | None = None) -> None:
    """Start the receiver and block until interrupted; one line says where it listens when it does.

    Raises :class:`~amili_pipelines.webhooks.app.ReceiverMisconfigured` before binding anything when
    the secret is missing, and when the port cannot be bound (another process holds it)."""
    settings = settings or Settings()
    config = ReceiverConfig.from_settings(settings)
    inbox = open_inbox(settings.webhook_inbox)
    install_log_masking()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    repaired = inbox.repair()
    if repaired:
        logging.getLogger("amili_pipelines.webhooks").warning(
            "%d stored deliveries were not queued (the receiver stopped in between): queued now", repaired)
    server = uvicorn.Server(uvicorn.Config(create_app(config, inbox), host=host, port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ReceiverMisconfigured(f"cannot listen on {host}:{port}: {exc.strerror} "
                                    "(another process holds the port? choose another with --port)") from None
    shown = f"[{host}]" if ":" in host else host

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"Amili webhook receiver ready at http://{shown}:{sock.getsockname()[1]}{PATH} "
                  f"(inbox {inbox.location})", flush=True)
        await task

    asyncio.run(main())
