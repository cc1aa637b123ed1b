"""The test harness itself, the admin API, the CLI entry point and state persistence."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from amili_pipelines.emulator import EmulatorConfig, create_app
from amili_pipelines.emulator.testing import free_port, running_emulator
from tests.support.emulator import make_config, se_invoice


def _register(emu, n: int, prefix: str) -> list[str]:
    h = emu.se_headers()
    out = []
    for i in range(n):
        r = httpx.post(f"{emu.base_url}/invoice--registrations", json=se_invoice(invoice_number=f"{prefix}-{i}"),
                       headers=h)
        assert r.status_code == 201
        out.append(r.json()["_case"])
    return out


def test_handle_urls_and_admin_helpers(emu):
    assert emu.no_base_url == f"{emu.base_url}/collection/v1"
    assert emu.no_auth_url == f"{emu.base_url}/token"
    assert emu.admin.count("POST", "/invoice--registrations") == 0
    _register(emu, 2, "H")
    httpx.get(f"{emu.base_url}/cases/{'a' * 24}", headers=emu.se_headers())
    stats = emu.admin.stats()
    assert emu.admin.count("POST", "/invoice--registrations") == 2
    assert emu.admin.count("GET", "/cases/{id}") == 1
    assert stats["responses"]["GET /cases/{id}"] == {"404": 1}
    assert stats["statuses"]["201"] == 2
    assert not any(k.startswith("GET /_emulator") for k in stats["requests"])  # admin calls are not counted
    state = emu.admin.state()
    assert set(state) >= {"se", "no", "now"}
    assert len(state["se"]["cases"]) == 2 and state["no"]["batches"] == []
    emu.admin.reset()
    assert emu.admin.count("POST", "/invoice--registrations") == 0
    assert emu.admin.state()["se"]["cases"] == []
    assert len(emu.admin.state()["se"]["creditors"]) == 2


def test_create_app_does_not_mutate_callers_config():
    cfg = make_config()
    app = create_app(cfg)
    app.state.engine.config.faults.latency_ms = 99
    assert cfg.faults.latency_ms == 0


def test_subprocess_mode_and_persistence_across_restarts(tmp_path):
    state = tmp_path / "state.json"
    cfg = EmulatorConfig()
    with running_emulator(cfg, subprocess=True, state_path=state) as emu:
        assert emu.process is not None and emu.process.poll() is None
        first = _register(emu, 3, "P1")
    assert state.exists()
    with running_emulator(cfg, subprocess=True, state_path=state) as emu:
        h = emu.se_headers()
        cases = httpx.get(f"{emu.base_url}/cases", headers=h).json()
        assert {c["_id"] for c in cases["_items"]} == set(first)
        second = _register(emu, 2, "P2")
        assert not set(second) & set(first)
    data = json.loads(state.read_text())
    assert len(data["db"]["se"]["cases"]) == 5


def test_periodic_save_survives_kill(tmp_path):
    state = tmp_path / "state.json"
    cfg = make_config(save_interval_seconds=0.2, tick_seconds=0.05)
    with running_emulator(cfg, subprocess=True, state_path=state) as emu:
        _register(emu, 2, "K")
        time.sleep(0.6)
        emu.process.send_signal(signal.SIGKILL)
        emu.process.wait(timeout=5)
    data = json.loads(state.read_text())
    assert len(data["db"]["se"]["invoice--registrations"]) == 2


def test_module_entry_point_prints_ready_line(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_EMULATOR")}
    proc = subprocess.Popen([sys.executable, "-m", "amili_pipelines.emulator", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        line = proc.stdout.readline().decode()
        assert f"http://127.0.0.1:{port}" in line
        assert httpx.get(f"http://127.0.0.1:{port}/_emulator/health").json() == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_config_from_yaml_file(tmp_path):
    p = tmp_path / "emu.yaml"
    p.write_text("seed: 5\nfaults:\n  latency_ms: 3\nnorway:\n  batch_delay_seconds: 2\n")
    cfg = EmulatorConfig.from_file(p)
    assert cfg.seed == 5 and cfg.faults.latency_ms == 3 and cfg.norway.batch_delay_seconds == 2
    assert cfg.sweden.api_codes == {"demo-api-code": "674dbeaf08847b9501cc9132"}


def test_fifty_concurrent_clients_keep_state_consistent(emu):
    import asyncio

    token = emu.se_token()

    async def main() -> list[int]:
        async def one(i: int) -> int:
            async with httpx.AsyncClient(base_url=emu.base_url, headers={"X-API-Key": token}) as c:
                codes = []
                for j in range(4):
                    r = await c.post("/invoice--registrations", json=se_invoice(invoice_number=f"C-{i}-{j}"))
                    codes.append(r.status_code)
                return codes

        return [c for codes in await asyncio.gather(*(one(i) for i in range(50))) for c in codes]

    codes = asyncio.run(main())
    assert codes == [201] * 200
    state = emu.admin.state()
    assert len(state["se"]["cases"]) == len(state["se"]["invoices"]) == 200
    ids = [c["_id"] for c in state["se"]["cases"]]
    assert len(set(ids)) == 200
    ocrs = [c["ocr_number_ocr"] for c in state["se"]["cases"]]
    assert len(set(ocrs)) == 200


def test_a_port_taken_before_the_emulator_binds_it_is_replaced_by_another(monkeypatch):
    # Two test processes can be handed the same free port; the one that binds second starts again elsewhere.
    import amili_pipelines.emulator.testing as testing

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        handed = iter([taken, taken])
        monkeypatch.setattr(testing, "free_port", lambda: next(handed, None) or free_port())
        with running_emulator(subprocess=True) as emu:
            assert not emu.root_url.endswith(f":{taken}")
            assert httpx.get(f"{emu.root_url}/_emulator/health").json() == {"status": "ok"}
        handed = iter([taken] * 5)
        try:
            with running_emulator(subprocess=True):
                raise AssertionError("five taken ports in a row cannot start")
        except RuntimeError as exc:
            assert f"cannot listen on 127.0.0.1:{taken}: Address already in use" in str(exc)
