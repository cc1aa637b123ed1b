"""Run the emulator with uvicorn: ``serve()`` for the CLI, ``uvicorn_config()`` for the test harness.

The socket is bound before uvicorn starts so the "ready" line can name the real port (``--port 0``),
and the httptools protocol is extended to hand the transport to the app, which the ``drop`` fault needs
to close a connection without answering.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .config import EmulatorConfig


def _protocol_class() -> Any:
    """uvicorn's httptools protocol, extended to expose the transport to the app (for 'drop' faults)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools missing
        return "auto"

    class EmulatorHttpToolsProtocol(HttpToolsProtocol):
        """Exposes the transport to the app, so a 'drop' fault can close the socket without a response."""

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope["amili.transport"] = self.transport  # type: ignore[typeddict-unknown-key]

    return EmulatorHttpToolsProtocol


def _loop() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:  # pragma: no cover
        return "asyncio"


def uvicorn_config(app: Any, host: str = "127.0.0.1", port: int = 8765, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=kwargs.pop("loop", _loop()),
        http=_protocol_class(),
        access_log=False,
        log_level=kwargs.pop("log_level", "warning"),
        lifespan="on",
        timeout_keep_alive=30,
        backlog=2048,
        **kwargs,
    )


def load_config(config_path: Path | None) -> EmulatorConfig:
    base = EmulatorConfig.from_file(config_path) if config_path else None
    return EmulatorConfig.from_env(base)


def serve(host: str = "127.0.0.1", port: int = 8765, *, state_path: Path | None = None,
          config_path: Path | None = None) -> None:
    """Start the emulator and block until interrupted. Prints one line with the base URL when ready."""
    config = load_config(Path(config_path) if config_path else None)
    app = create_app(config, state_path=Path(state_path) if state_path else None)
    server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"Amili emulator: cannot listen on {host}:{port}: {exc.strerror} "
                         "(choose another port with --port; 0 picks a free one)") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"Amili emulator ready at http://{shown}:{bound_port}", flush=True)
        await task

    if _loop() == "uvloop":
        import uvloop

        uvloop.run(main())
    else:  # pragma: no cover
        asyncio.run(main())
