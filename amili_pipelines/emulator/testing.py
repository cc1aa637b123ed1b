"""Test harness: start a real emulator server on a free loopback port.

    from amili_pipelines.emulator.testing import running_emulator

    with running_emulator() as emu:
        httpx.post(f"{emu.base_url}/authenticates/api-code", json={"api_code": "demo-api-code"})
        emu.admin.advance(days=30)
        assert emu.admin.count("POST", "/invoice--registrations") == 0

pytest fixture (e.g. in a conftest.py)::

    @pytest.fixture(scope="session")
    def amili_emulator():
        with running_emulator() as emu:
            yield emu

    @pytest.fixture
    def emulator(amili_emulator):
        amili_emulator.admin.reset()
        return amili_emulator

or simply ``emulator = emulator_fixture()`` / ``emulator_fixture(scope="session")``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess as _subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx

from .config import (
    DEMO_NO_CLIENT_ID,
    DEMO_NO_CLIENT_SECRET,
    DEMO_NO_ORG,
    DEMO_SE_ACCOUNT,
    DEMO_SE_API_CODE,
    DEMO_SE_CREDITOR,
    EmulatorConfig,
)

__all__ = ["AdminClient", "EmulatorHandle", "running_emulator", "emulator_fixture", "free_port"]


class AdminClient:
    """Small synchronous client for the ``/_emulator/`` admin endpoints."""

    def __init__(self, root_url: str) -> None:
        self.root_url = root_url
        self._http = httpx.Client(base_url=root_url, timeout=30.0)

    def _ok(self, resp: httpx.Response) -> Any:
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> dict[str, Any]:
        return self._ok(self._http.post("/_emulator/reset"))

    def advance(self, days: float = 0, seconds: float = 0) -> dict[str, Any]:
        return self._ok(self._http.post("/_emulator/clock/advance", json={"days": days, "seconds": seconds}))

    def clock(self) -> dict[str, Any]:
        return self._ok(self._http.get("/_emulator/clock"))

    def set_faults(self, **fields: Any) -> dict[str, Any]:
        return self._ok(self._http.put("/_emulator/faults", json=fields))

    def clear_faults(self) -> dict[str, Any]:
        return self._ok(self._http.delete("/_emulator/faults"))

    def faults(self) -> dict[str, Any]:
        return self._ok(self._http.get("/_emulator/faults"))

    def state(self) -> dict[str, Any]:
        return self._ok(self._http.get("/_emulator/state"))

    def stats(self) -> dict[str, Any]:
        return self._ok(self._http.get("/_emulator/stats"))

    def reset_stats(self) -> dict[str, Any]:
        return self._ok(self._http.post("/_emulator/stats/reset"))

    def count(self, method: str, route: str) -> int:
        """Requests received for ``METHOD /route/template`` (e.g. ``count("POST", "/invoice--registrations")``)."""
        return int(self.stats()["requests"].get(f"{method.upper()} {route}", 0))

    def webhooks(self) -> dict[str, Any]:
        """``{"deliveries": [...], "attempts": [...], "pending": n}`` (see the README)."""
        return self._ok(self._http.get("/_emulator/webhooks"))

    def set_webhooks(self, **fields: Any) -> dict[str, Any]:
        """Merge webhook settings (``url``, ``secret``, ``max_attempts``, ``backoff_seconds``, ``timeout_seconds``,
        ``duplicate_rate``, ``out_of_order``, ``drop_first_attempt_rate``, ...); ``url=None`` switches delivery off."""
        return self._ok(self._http.put("/_emulator/webhooks/config", json=fields))

    def webhook_config(self) -> dict[str, Any]:
        return self._ok(self._http.get("/_emulator/webhooks/config"))

    def process(self) -> dict[str, Any]:
        return self._ok(self._http.post("/_emulator/process"))

    def save(self) -> dict[str, Any]:
        return self._ok(self._http.post("/_emulator/save"))

    def close(self) -> None:
        self._http.close()


@dataclass
class EmulatorHandle:
    root_url: str
    config: EmulatorConfig
    admin: AdminClient
    app: Any = None
    process: _subprocess.Popen | None = None
    state_path: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Swedish API base (the server root)."""
        return self.root_url

    @property
    def no_base_url(self) -> str:
        return f"{self.root_url}/collection/v1"

    @property
    def no_auth_url(self) -> str:
        return f"{self.root_url}/token"

    @property
    def port(self) -> int:
        return int(self.root_url.rsplit(":", 1)[1])

    # demo credentials -------------------------------------------------------
    se_api_code = DEMO_SE_API_CODE
    se_account = DEMO_SE_ACCOUNT
    se_creditor = DEMO_SE_CREDITOR
    no_client_id = DEMO_NO_CLIENT_ID
    no_client_secret = DEMO_NO_CLIENT_SECRET
    no_org = DEMO_NO_ORG

    def se_token(self, api_code: str = DEMO_SE_API_CODE) -> str:
        r = httpx.post(f"{self.base_url}/authenticates/api-code", json={"api_code": api_code}, timeout=10)
        r.raise_for_status()
        return r.json()["token"]

    def se_headers(self, api_code: str = DEMO_SE_API_CODE) -> dict[str, str]:
        return {"X-API-Key": self.se_token(api_code)}

    def no_token(self, client_id: str = DEMO_NO_CLIENT_ID, client_secret: str = DEMO_NO_CLIENT_SECRET) -> str:
        r = httpx.post(self.no_auth_url, data={"grant_type": "client_credentials", "client_id": client_id,
                                               "client_secret": client_secret}, timeout=10)
        r.raise_for_status()
        return r.json()["access_token"]

    def no_headers(self, **kw: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.no_token(**kw)}"}

    @property
    def engine(self) -> Any:
        """In-process engine (thread mode only)."""
        if self.app is None:
            raise RuntimeError("engine is only available in thread mode")
        return self.app.state.engine


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, timeout: float, proc: _subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    # One client for every try: each new httpx client builds an SSL context (tens of ms, more under load).
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"emulator process exited with {proc.returncode}")
            try:
                if http.get(f"{url}/_emulator/health").status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)
    raise TimeoutError(f"emulator at {url} did not answer within {timeout}s: {last!r}")


@contextlib.contextmanager
def running_emulator(
    config: EmulatorConfig | None = None,
    *,
    subprocess: bool = False,
    state_path: str | Path | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[EmulatorHandle]:
    """Start the real emulator (uvicorn) on a free 127.0.0.1 port; yield an :class:`EmulatorHandle`.

    Default: in a background thread of this process (``handle.engine`` gives in-process access).
    ``subprocess=True``: in a separate Python process (``handle.process``), for benchmarks and kill tests.
    """
    config = config or EmulatorConfig()
    state = Path(state_path) if state_path else None
    if subprocess:
        yield from _run_subprocess(config, state, startup_timeout)
    else:
        yield from _run_thread(config, state, startup_timeout)


def _run_thread(config: EmulatorConfig, state: Path | None, timeout: float) -> Iterator[EmulatorHandle]:
    import asyncio

    import uvicorn

    from .app import create_app
    from .server import uvicorn_config

    app = create_app(config, state_path=state)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, port=port))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if uvicorn_config(app).loop == "uvloop":
                import uvloop

                uvloop.run(server.serve(sockets=[sock]))
            else:  # pragma: no cover
                asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"amili-emulator-{port}", daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"emulator failed to start: {errors!r}")
        if time.monotonic() > deadline:
            raise TimeoutError("emulator did not start")
        time.sleep(0.01)
    admin = AdminClient(root)
    handle = EmulatorHandle(root_url=root, config=app.state.engine.config, admin=admin, app=app, state_path=state)
    try:
        yield handle
    finally:
        admin.close()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _run_subprocess(config: EmulatorConfig, state: Path | None, timeout: float) -> Iterator[EmulatorHandle]:
    tmpdir = Path(tempfile.mkdtemp(prefix="amili-emulator-"))
    cfg_path = tmpdir / "config.json"
    cfg_path.write_text(config.model_dump_json(), encoding="utf-8")
    log_path = tmpdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_EMULATOR")}
    for attempt in range(5):
        # A free port can be taken between free_port() and the server's bind (another test process
        # picked it too): the server then exits at once, and another port is tried.
        port = free_port()
        cmd = [sys.executable, "-m", "amili_pipelines.emulator", "--host", "127.0.0.1", "--port", str(port),
               "--config", str(cfg_path)]
        if state:
            cmd += ["--state", str(state)]
        with open(log_path, "wb") as log:
            proc = _subprocess.Popen(cmd, stdout=log, stderr=_subprocess.STDOUT, env=env)
        root = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(root, timeout, proc)
            break
        except RuntimeError as exc:
            output = log_path.read_text(errors="replace")
            if attempt == 4 or "Address already in use" not in output:
                raise RuntimeError(f"{exc}; its output ends: {output[-2000:]}") from None
    admin = AdminClient(root)
    try:
        yield EmulatorHandle(root_url=root, config=config, admin=admin, process=proc, state_path=state)
    finally:
        admin.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except _subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def emulator_fixture(config: EmulatorConfig | None = None, *, scope: str = "session", reset: bool = True):
    """Build a pytest fixture that yields a running emulator (reset before each use when ``reset``)."""
    import pytest

    @pytest.fixture(scope=scope)
    def _emulator() -> Iterator[EmulatorHandle]:
        with running_emulator(config) as emu:
            if reset:
                emu.admin.reset()
            yield emu

    return _emulator
