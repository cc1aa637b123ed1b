"""Faults on demand: each kind happens at about the configured rate (deterministic seed), applies to
API endpoints only, honours path/method filters and stops when switched off."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from amili_pipelines.emulator.config import EmulatorConfig
from amili_pipelines.emulator.testing import running_emulator
from tests.support.emulator import (
    NO_ORG,
    SE_CREDITOR,
    make_config,
    no_invoice,
    se_invoice,
)


def _statuses(se: httpx.Client, n: int, path: str = "/cases") -> Counter:
    return Counter(se.get(path).status_code for _ in range(n))


def test_faults_are_off_by_default(emu):
    f = emu.admin.faults()
    assert f["error_rates"] == {} and f["latency_ms"] == 0 and f["committed_then_failed_rate"] == 0
    assert f["unique_invoice_numbers"] is False and f["rate_429"] == 0


@pytest.mark.serial
def test_latency_fixed_and_jitter(emu, se):
    emu.admin.set_faults(latency_ms=60, latency_jitter_ms=20)
    t = time.perf_counter()
    for _ in range(5):
        se.get("/cases")
    per = (time.perf_counter() - t) / 5
    assert 0.06 <= per < 0.3
    emu.admin.clear_faults()
    t = time.perf_counter()
    for _ in range(5):
        se.get("/cases")
    assert (time.perf_counter() - t) / 5 < 0.05
    assert emu.admin.stats()["faults"]["latency"] == 5


def test_error_rates_per_status_are_seeded_and_stop(emu, se):
    emu.admin.set_faults(error_rates={"500": 0.2, "502": 0.1, "503": 0.1}, seed=42)
    first = [se.get("/cases").status_code for _ in range(400)]
    c = Counter(first)
    assert 50 <= c[500] <= 110 and 20 <= c[502] <= 60 and 20 <= c[503] <= 60
    assert c[200] == 400 - c[500] - c[502] - c[503]
    bad = se.get("/cases")
    while bad.status_code == 200:
        bad = se.get("/cases")
    assert bad.json()["_status"] == "ERR" and bad.json()["_error"]["code"] == bad.status_code
    # same seed -> same sequence
    emu.admin.set_faults(seed=42)
    assert [se.get("/cases").status_code for _ in range(400)] == first
    # the admin API is never affected
    emu.admin.set_faults(error_rates={"503": 1.0})
    assert all(emu.admin.clock() for _ in range(20))
    assert _statuses(se, 10) == Counter({503: 10})
    emu.admin.clear_faults()
    assert _statuses(se, 50) == Counter({200: 50})


def test_norway_errors_are_problem_json(emu, no):
    emu.admin.set_faults(error_rates={"500": 1.0})
    r = no.get("/invoices")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 500


def test_429_with_retry_after(emu, se):
    emu.admin.set_faults(rate_429=0.3, retry_after_seconds=7, seed=1)
    results = [se.get("/cases") for _ in range(300)]
    limited = [r for r in results if r.status_code == 429]
    assert 60 <= len(limited) <= 120
    assert all(r.headers["Retry-After"] == "7" for r in limited)
    assert limited[0].json() == {"_status": "ERR", "_error": {"code": 429, "message": "Rate limit exceeded"}}
    emu.admin.clear_faults()
    assert _statuses(se, 30) == Counter({200: 30})


def test_real_rate_limit_window(emu, se):
    emu.admin.set_faults(rate_limit_requests=5, rate_limit_window_seconds=60)
    rs = [se.get("/cases") for _ in range(8)]
    assert [r.status_code for r in rs[:5]] == [200] * 5
    ok = rs[0]
    assert ok.headers["X-RateLimit-Limit"] == "5" and ok.headers["X-RateLimit-Remaining"] == "4"
    assert "X-RateLimit-Reset" in ok.headers
    assert [r.status_code for r in rs[5:]] == [429] * 3
    assert int(rs[-1].headers["Retry-After"]) >= 1
    emu.admin.clear_faults()
    assert se.get("/cases").status_code == 200


def test_path_and_method_filters(emu, se):
    emu.admin.set_faults(error_rates={"503": 1.0}, path_prefixes=["/invoice--registrations"], methods=["POST"])
    assert se.get("/invoice--registrations").status_code == 200
    assert se.get("/cases").status_code == 200
    assert se.post("/invoice--registrations", json=se_invoice()).status_code == 503
    assert emu.admin.count("POST", "/invoice--registrations") == 1
    assert len(emu.admin.state()["se"]["invoice--registrations"]) == 0


def test_committed_then_failed_502(emu, se):
    emu.admin.set_faults(committed_then_failed_rate=0.5, committed_then_failed_mode="502", seed=3)
    codes = Counter(se.post("/invoice--registrations", json=se_invoice()).status_code for _ in range(200))
    assert 70 <= codes[502] <= 130 and codes[201] == 200 - codes[502]
    # every one of them was stored, including the ones the client saw fail
    assert len(emu.admin.state()["se"]["invoice--registrations"]) == 200
    assert se.get("/cases").json()["_meta"]["total"] == 200
    # reads are never "committed then failed"
    assert _statuses(se, 20) == Counter({200: 20})
    emu.admin.clear_faults()
    assert se.post("/invoice--registrations", json=se_invoice()).status_code == 201


def test_committed_then_dropped_connection(emu, se):
    emu.admin.set_faults(committed_then_failed_rate=1.0, committed_then_failed_mode="drop")
    with pytest.raises(httpx.TransportError):
        se.post("/invoice--registrations", json=se_invoice(invoice_number="DROP-1"))
    regs = emu.admin.state()["se"]["invoice--registrations"]
    assert [r["invoice_number"] for r in regs] == ["DROP-1"]
    emu.admin.clear_faults()
    assert se.post("/invoice--registrations", json=se_invoice()).status_code == 201


def test_committed_then_timeout(emu, se):
    emu.admin.set_faults(committed_then_failed_rate=1.0, committed_then_failed_mode="timeout", hang_seconds=1.0)
    with pytest.raises(httpx.TimeoutException):
        se.post("/invoice--registrations", json=se_invoice(invoice_number="HANG-1"), timeout=0.3)
    assert [r["invoice_number"] for r in emu.admin.state()["se"]["invoice--registrations"]] == ["HANG-1"]
    emu.admin.clear_faults()


def test_committed_then_failed_norway(emu, no):
    emu.admin.set_faults(committed_then_failed_rate=1.0)
    r = no.post("/invoices", json={"invoices": [no_invoice()]})
    assert r.status_code == 502 and r.headers["content-type"].startswith("application/problem+json")
    emu.admin.clear_faults()
    batches = no.get("/batches").json()["data"]
    assert len(batches) == 1 and batches[0]["status"] == "SUCCESS"


@pytest.mark.serial
def test_token_expires_earlier_than_announced(emu):
    emu.admin.set_faults(token_actual_ttl_seconds=1.0)
    r = httpx.post(f"{emu.base_url}/authenticates/api-code", json={"api_code": "demo-api-code"})
    token = r.json()["token"]
    assert r.json()["expires"]  # still announces the configured lifetime
    nt = emu.no_token()
    assert httpx.get(f"{emu.base_url}/cases", headers={"X-API-Key": token}).status_code == 200
    time.sleep(1.1)
    assert httpx.get(f"{emu.base_url}/cases", headers={"X-API-Key": token}).status_code == 401
    r = httpx.get(f"{emu.no_base_url}/orgs/{NO_ORG}/invoices", headers={"Authorization": f"Bearer {nt}"})
    assert r.status_code == 401
    emu.admin.clear_faults()
    token = emu.se_token()
    time.sleep(1.1)
    assert httpx.get(f"{emu.base_url}/cases", headers={"X-API-Key": token}).status_code == 200


def test_slow_and_partial_batches(emu, no):
    emu.admin.set_faults(batch_extra_delay_seconds=1.0)
    r = no.post("/invoices", json={"invoices": [no_invoice()]})
    bid = r.json()["data"]["batchId"]
    assert no.get(f"/batches/{bid}").json()["data"]["status"] == "QUEUED"
    time.sleep(1.2)
    assert no.get(f"/batches/{bid}").json()["data"]["status"] == "SUCCESS"
    emu.admin.set_faults(batch_extra_delay_seconds=0, batch_item_failure_rate=0.5, seed=5)
    r = no.post("/invoices", json={"invoices": [no_invoice() for _ in range(200)]})
    batch = no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]
    assert batch["status"] == "PARTIAL" and 70 <= len(batch["failed"]) <= 130
    assert {e["errors"][0]["code"] for e in batch["failed"]} == {"EMULATOR_FAULT"}
    emu.admin.clear_faults()
    r = no.post("/invoices", json={"invoices": [no_invoice() for _ in range(20)]})
    assert no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]["status"] == "SUCCESS"


def test_unique_invoice_numbers_switch(emu, se, no):
    body = se_invoice(invoice_number="DUP-1")
    assert se.post("/invoice--registrations", json=body).status_code == 201
    assert se.post("/invoice--registrations", json=body).status_code == 201  # default: accepted, 2nd case
    emu.admin.set_faults(unique_invoice_numbers=True)
    r = se.post("/invoice--registrations", json=body)
    assert r.status_code == 422
    assert r.json()["_issues"] == {"invoice_number": "value 'DUP-1' is not unique"}
    # another creditor may use the same number
    other = se_invoice(invoice_number="DUP-1", creditor="674dbeb208847b9501cc9139")
    assert se.post("/invoice--registrations", json=other).status_code == 201
    inv = no_invoice(invoiceNumber="NDUP")
    no.post("/invoices", json={"invoices": [inv]})
    r = no.post("/invoices", json={"invoices": [inv]})
    batch = no.get(f"/batches/{r.json()['data']['batchId']}").json()["data"]
    assert batch["status"] == "FAILED" and batch["failed"][0]["errors"][0]["code"] == "DUPLICATE"
    emu.admin.clear_faults()
    assert se.post("/invoice--registrations", json=body).status_code == 201
    assert SE_CREDITOR


def test_invalid_fault_settings_are_rejected(emu):
    r = httpx.put(f"{emu.base_url}/_emulator/faults", json={"error_rates": {"500": 2}})
    assert r.status_code == 422
    r = httpx.put(f"{emu.base_url}/_emulator/faults", json={"no_such_fault": 1})
    assert r.status_code == 422


def test_faults_from_config_and_env(monkeypatch):
    monkeypatch.setenv("AMILI_EMULATOR_FAULTS", '{"error_rates": {"503": 1.0}}')
    monkeypatch.setenv("AMILI_EMULATOR__FAULTS__LATENCY_MS", "5")
    cfg = EmulatorConfig.from_env(make_config())
    assert cfg.faults.error_rates == {503: 1.0} and cfg.faults.latency_ms == 5
    with running_emulator(cfg) as emu:
        assert httpx.get(f"{emu.base_url}/cases").status_code == 503
        emu.admin.reset()  # reset goes back to the configured faults
        assert httpx.get(f"{emu.base_url}/cases").status_code == 503
        emu.admin.clear_faults()
        assert httpx.get(f"{emu.base_url}/cases").status_code == 401
