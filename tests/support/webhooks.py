"""The webhook receiver as its own process (``amili-pipelines webhooks``), for tests over real HTTP.

``crash_after_store=True`` runs ``tests/support/crashing_receiver.py`` instead: the same app, but the
process dies (``os._exit``) right after it stored its first delivery, before answering.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from amili_pipelines.emulator.testing import free_port
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.webhooks.signature import sign

SECRET = "receiver-test-secret-7f3a"


@dataclass
class ReceiverProcess:
    url: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def post(self, body: bytes, *, key: str | None = "key-1", signature: str | None = None, secret: str = SECRET,
             headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Content-Type": "application/json"}
        if key is not None:
            sent["IdempotencyKey"] = key
        sent["X-Webhook-Signature"] = signature if signature is not None else sign(secret.encode(), body)
        sent.update(headers or {})
        return httpx.post(self.url, content=body, headers=sent, timeout=10)


def _wait(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(f"receiver did not start: {log_path.read_text()[-2000:]}")


def _start_receiver(inbox: Path, port: int | None, *, crash_after_store: bool,
                    env: dict[str, str]) -> tuple[subprocess.Popen, int, Path]:
    """The receiver started and answering; a port chosen here that another test process took in
    the meantime (the receiver exits: address already in use) is replaced by another free one."""
    for attempt in range(5):
        chosen = port or free_port()
        log_path = inbox.parent / f"receiver-{chosen}-{time.monotonic_ns()}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if crash_after_store:
            cmd = [sys.executable, "-m", "tests.support.crashing_receiver", "--port", str(chosen)]
        else:
            cmd = [str(Path(sys.executable).with_name("amili-pipelines")), "webhooks", "--port", str(chosen)]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT)
        try:
            _wait(chosen, proc, log_path)
            return proc, chosen, log_path
        except RuntimeError:
            if port or attempt == 4 or "address already in use" not in log_path.read_text().lower():
                raise
    raise AssertionError("unreachable")


@contextmanager
def receiver_process(inbox: Path, *, secret: str | None = SECRET, port: int | None = None,
                     crash_after_store: bool = False, env: dict[str, str] | None = None) -> Iterator[ReceiverProcess]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    full_env.update({"AMILI_WEBHOOK_INBOX": str(inbox), **(env or {})})
    if secret is not None:
        full_env["AMILI_NO_WEBHOOK_SECRET"] = secret
    proc, port, log_path = _start_receiver(inbox, port, crash_after_store=crash_after_store, env=full_env)
    try:
        yield ReceiverProcess(url=f"http://127.0.0.1:{port}/webhooks/amili-no", port=port, proc=proc,
                              log_path=log_path)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
