"""Issue 15: Sweden sends through a sliding window, with no barrier between pages, and a crash
mid-window leaves only in-flight rows that the next run looks up before anything is sent again;
refused credentials mid-window record every answer seen before the run fails."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import AuthenticationFailed
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration import routes
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse
from tests.support.invoices import make_invoices

POST = ("POST", "/invoice--registrations")
LOOKUP = ("GET", "/invoice--registrations")


def test_the_window_keeps_requests_in_flight_across_page_boundaries(tmp_path, fresh_emulator, creditors, monkeypatch):
    slots, page, invoices = 8, 20, make_invoices(Market.SE, 160, prefix="WIN")
    fresh_emulator.admin.set_faults(latency_ms=40)
    in_flight, starts = [0], []  # starts: how many others were in flight as each request left
    send_one = routes.SwedenRoute.send_one

    async def counted(self, row):
        starts.append(in_flight[0])
        in_flight[0] += 1
        try:
            return await send_one(self, row)
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(routes.SwedenRoute, "send_one", counted)

    async def go(wh):
        async with AmiliSeClient(base_url=fresh_emulator.base_url, api_code=SecretStr("demo-api-code"),
                                 requests_per_second=float("inf"), max_concurrency=slots) as se:
            return await register_pending(wh, creditors=creditors, se_client=se, chunk_size=page)

    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        summary = asyncio.run(go(wh))
    assert summary.registered == len(invoices) and fresh_emulator.admin.count(*POST) == len(invoices)
    assert max(starts) + 1 == slots, "the window fills every slot"
    # A chunk barrier would leave the window empty at each of the 7 page boundaries: here, after
    # the first request, none leaves into an empty window until the last one.
    assert starts.count(0) == 1, f"the window ran empty {starts.count(0) - 1} time(s) between pages"
    # And it stays (nearly) full: once the first slots filled, requests leave into a full window.
    assert Counter(starts)[slots - 1] >= len(invoices) // 2


def _worker(db, emu) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.registration.register_worker", str(db), emu.base_url, emu.no_base_url,
         emu.no_auth_url, "600"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_a_crash_mid_window_leaves_in_flight_rows_that_the_next_run_looks_up(tmp_path, fresh_emulator, creditors):
    db = tmp_path / "amili.duckdb"
    fresh_emulator.admin.set_faults(latency_ms=50)
    worker = _worker(db, fresh_emulator)
    deadline = time.monotonic() + 120
    while fresh_emulator.admin.count(*POST) < 150:
        assert worker.poll() is None, f"worker ended before it could be killed: {worker.stdout.read()}"
        assert time.monotonic() < deadline, "worker too slow to reach the kill point"
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    fresh_emulator.admin.clear_faults()

    with open_warehouse(db) as wh:
        left = dict(wh.connection.execute(
            "SELECT state, count(*) FROM registration_outbox WHERE market = 'SE' GROUP BY state").fetchall())
        flying = {k for (k,) in wh.connection.execute(
            "SELECT invoice_key FROM registration_outbox WHERE market = 'SE' AND state = 'in_flight'").fetchall()}
    assert left.get("pending", 0) > 0, "the kill must have interrupted the Swedish window"
    # What a crash leaves unclear is bounded: the window (16), the claimed pages (<= 2 x 100) and
    # the outcomes not yet written (<= 200 or 50 ms worth).
    assert 0 < len(flying) <= 16 + 2 * 100 + 200, left

    fresh_emulator.admin.reset_stats()
    se = make_invoices(Market.SE, 600)
    with open_warehouse(db) as wh:
        async def again():
            async with AmiliSeClient(base_url=fresh_emulator.base_url, api_code=SecretStr("demo-api-code"),
                                     requests_per_second=float("inf"), max_concurrency=16) as client:
                return await register_pending(wh, creditors=creditors, se_client=client, chunk_size=100)

        summary = asyncio.run(again())
        assert summary.still_pending == 0 and summary.still_unknown == 0
        # Every row left in flight was looked up before it could be sent again.
        assert fresh_emulator.admin.count(*LOOKUP) >= len(flying)
        for key in flying:
            events = wh.outbox.events(Market.SE, key)
            left_at = max(i for i, e in enumerate(events) if e.to_state == "in_flight" and e.run_id != events[-1].run_id)
            answer = events[left_at + 1]
            assert answer.from_state == "in_flight" and answer.detail.startswith(("found at Amili by lookup",
                                                                                  "not at Amili")), events
        rows = wh.connection.execute("SELECT state, count(*) FROM registration_outbox WHERE market = 'SE'"
                                     " GROUP BY state").fetchall()
        assert rows == [("registered", len(se))]
    registered = Counter(d["invoice_number"] for d in fresh_emulator.admin.state()["se"]["invoice--registrations"])
    for inv in se:
        assert registered[inv.invoice_number] == 1, f"{inv.invoice_number} registered {registered[inv.invoice_number]}x"


def test_refused_credentials_mid_window_record_what_was_seen_before_the_run_fails(tmp_path, fresh_emulator, creditors,
                                                                                  monkeypatch):
    invoices = make_invoices(Market.SE, 120, prefix="AUTH")
    calls = [0]
    send_one = routes.SwedenRoute.send_one

    async def refused_after_40(self, row):
        calls[0] += 1
        if calls[0] > 40:
            raise AuthenticationFailed("refused", status_code=401)
        return await send_one(self, row)

    monkeypatch.setattr(routes.SwedenRoute, "send_one", refused_after_40)

    async def go(wh):
        async with AmiliSeClient(base_url=fresh_emulator.base_url, api_code=SecretStr("demo-api-code"),
                                 requests_per_second=float("inf"), max_concurrency=8) as se:
            return await register_pending(wh, creditors=creditors, se_client=se, chunk_size=20)

    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        with pytest.raises(AuthenticationFailed):
            asyncio.run(go(wh))
        states = dict(wh.connection.execute(
            "SELECT state, count(*) FROM registration_outbox GROUP BY state").fetchall())
        # Every answer Amili gave was recorded before the error surfaced; the requests that failed
        # stay in flight (looked up next run); rows never handed to a sender went back to pending.
        assert states.get("registered") == fresh_emulator.admin.count(*POST) == 40
        assert 1 <= states.get("in_flight", 0) <= 8
        assert sum(states.values()) == len(invoices) and states.get("pending", 0) > 0
        monkeypatch.undo()

        async def again():
            async with AmiliSeClient(base_url=fresh_emulator.base_url, api_code=SecretStr("demo-api-code"),
                                     requests_per_second=float("inf"), max_concurrency=8) as se:
                return await register_pending(wh, creditors=creditors, se_client=se, chunk_size=20)

        summary = asyncio.run(again())
        assert summary.still_pending == 0 and summary.still_unknown == 0
    assert fresh_emulator.admin.count(*POST) == len(invoices), "each invoice sent once"
