"""Readers and writers of the embedded DuckDB file coexist: a writer waits (bounded) for a reader
that holds the file and says who it is; read-only opens never create or migrate the file."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from amili_pipelines.warehouse import WarehouseLocked, WarehouseMissing, open_warehouse


def _hold(path, *, seconds: float) -> subprocess.Popen:
    code = (f"import duckdb, time; c = duckdb.connect({str(path)!r}, read_only=True); print('open', flush=True); "
            f"time.sleep({seconds}); c.close()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_a_writer_waits_for_an_analyst_and_says_who_holds_the_file(tmp_path):
    path = tmp_path / "amili.duckdb"
    with open_warehouse(path):
        pass
    holder = _hold(path, seconds=1.5)
    waits: list[str] = []
    try:
        started = time.monotonic()
        with open_warehouse(path, on_wait=waits.append) as wh:
            assert wh.status.registered_by_market() == {}
        assert time.monotonic() - started >= 0.5, "it did wait"
    finally:
        holder.wait(timeout=10)
    assert len(waits) == 1 and f"PID {holder.pid}" in waits[0] and "duckdb.connect" in waits[0]


def test_a_writer_gives_up_after_its_bound_naming_the_holder(tmp_path, monkeypatch):
    path = tmp_path / "amili.duckdb"
    with open_warehouse(path):
        pass
    holder = _hold(path, seconds=30)
    monkeypatch.setenv("AMILI_DUCKDB_LOCK_TIMEOUT", "1")
    try:
        with pytest.raises(WarehouseLocked) as locked, open_warehouse(path):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert f"PID {holder.pid}" in str(locked.value) and "published analytics copy" in str(locked.value)


def test_read_only_never_creates_the_file(tmp_path):
    with pytest.raises(WarehouseMissing), open_warehouse(tmp_path / "nothing.duckdb", read_only=True):
        pass
    assert not (tmp_path / "nothing.duckdb").exists()
