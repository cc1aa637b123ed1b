"""Run the emulator with uvicorn."""

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

    class _Coalescing:
        """Holds a response's status line + headers until its first body write, so that a small
        response leaves in one write (one TCP segment) instead of two."""

        __slots__ = ("_t", "_pending")

        def __init__(self, transport: Any) -> None:
            self._t = transport
            self._pending: bytes | None = None

        def write(self, data: bytes) -> None:
            if self._pending is not None:
                data, self._pending = self._pending + data, None
                self._t.write(data)
            elif data[:9] == b"HTTP/1.1 " and data[9:12] != b"100" and data.endswith(b"\r\n\r\n"):
                self._pending = data
            else:
                self._t.write(data)

        def flush(self) -> None:
            if self._pending is not None:
                data, self._pending = self._pending, None
                self._t.write(data)

        def close(self) -> None:
            self.flush()
            self._t.close()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._t, name)

    class EmulatorHttpToolsProtocol(HttpToolsProtocol):
        """Exposes the real transport to the app (for 'drop' faults) and coalesces response writes."""

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope["amili.transport"] = self.transport  # type: ignore[typeddict-unknown-key]

        def on_headers_complete(self) -> None:
            real = self.transport
            coalescing = getattr(self, "_amili_coalescing", None)
            if coalescing is None or coalescing._t is not real:
                coalescing = self._amili_coalescing = _Coalescing(real)
            self.transport = coalescing  # the request/response cycle created now writes through it
            try:
                super().on_headers_complete()
            finally:
                self.transport = real

        def on_response_complete(self) -> None:
            coalescing = getattr(self, "_amili_coalescing", None)
            if coalescing is not None:
                coalescing.flush()
            super().on_response_complete()

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
    sock.bind((host, port))
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
