"""Simulated clock and case lifecycle: states, fees, interest, payments, payouts, settlements, determinism."""

from __future__ import annotations

import json
import time

import httpx

from amili_pipelines.emulator.dates import parse_date
from amili_pipelines.emulator.engine import Engine
from amili_pipelines.emulator.testing import running_emulator
from tests.support.emulator import NO_ORG, make_config, no_invoice, se_invoice


def _nobody_pays(**lc):
    return make_config(lifecycle={"pay_share": 0.0, **lc})


def test_clock_endpoints(emu):
    c = emu.admin.clock()
    assert c["iso"] == "2026-01-05T08:00:00Z" and c["now"] == "Mon, 05 Jan 2026 08:00:00 GMT"
    c2 = emu.admin.advance(days=1, seconds=30)
    assert c2["iso"] == "2026-01-06T08:00:30Z"
    r = httpx.post(f"{emu.base_url}/_emulator/clock/advance", json={"days": -1})
    assert r.status_code == 400


def test_se_states_fees_interest():
    with running_emulator(_nobody_pays(invoice_days=30, reminder_days=14)) as emu, \
            httpx.Client(base_url=emu.base_url, headers=emu.se_headers()) as se:
        reg = se.post("/invoice--registrations", json=se_invoice()).json()
        case_url = f"/cases/{reg['_case']}"
        first = se.get(case_url).json()
        emu.admin.advance(days=29)
        assert se.get(case_url).json()["state"] == "invoice"
        emu.admin.advance(days=2)
        c = se.get(case_url).json()
        assert c["state"] == "reminder" and c["status"] == "reminder_active"
        assert c["local_remaining_costs_amount"] == 60
        assert parse_date(c["_updated"]) > parse_date(first["_updated"])
        assert c["_etag"] != first["_etag"]
        emu.admin.advance(days=14)
        c = se.get(case_url).json()
        assert c["state"] == "debt_collection" and c["status"] == "debt_collection_active"
        assert c["local_remaining_costs_amount"] == 240
        assert [h["state"] for h in c["state_history"]] == ["initializing", "invoice", "reminder", "debt_collection"]
        assert [h["status"] for h in c["status_history"]][-1] == "debt_collection_active"
        emu.admin.advance(days=365)
        c = se.get(case_url).json()
        assert c["local_added_interest_amount"] > 0
        assert c["local_remaining_interest_amount"] == c["local_added_interest_amount"]
        # the polling pattern clients use: only documents changed since a timestamp
        since = emu.admin.clock()["now"]
        assert se.get("/cases", params={"where": json.dumps({"_updated": {"$gt": since}})}).json()["_meta"]["total"] == 0
        emu.admin.advance(days=60)
        assert se.get("/cases", params={"where": json.dumps({"_updated": {"$gt": since}})}).json()["_meta"]["total"] == 1


def test_no_types_and_status():
    with running_emulator(_nobody_pays(invoice_days=10, reminder_days=10)) as emu:
        h = emu.no_headers()
        base = f"{emu.no_base_url}/orgs/{NO_ORG}"
        r = httpx.post(f"{base}/invoices", json={"invoices": [no_invoice()]}, headers=h)
        ref = httpx.get(r.json()["data"]["batchUrl"], headers=h).json()["data"]["succeeded"][0]
        types = []
        for _ in range(3):
            case = httpx.get(f"{base}/cases/{ref['caseId']}", headers=h).json()["data"]
            types.append(case["type"])
            emu.admin.advance(days=10.5)
        assert types == ["NOTICE", "PAYMENT_REMINDER", "COLLECTION_NOTICE"]
        inv = httpx.get(f"{base}/invoices/{ref['invoiceId']}", headers=h).json()["data"]
        assert inv["type"] == "COLLECTION_NOTICE" and inv["remainingFees"] == 105
        httpx.post(f"{base}/payments", headers=h, json={"payments": [
            {"invoiceId": ref["invoiceId"], "type": "DIRECT_PAYMENT", "amount": inv["remainingAmount"],
             "currency": "NOK"}]})
        case = httpx.get(f"{base}/cases/{ref['caseId']}", headers=h).json()["data"]
        assert case["status"] == "CLOSED"


def test_paused_case_does_not_move():
    with running_emulator(_nobody_pays(invoice_days=5)) as emu:
        h = emu.no_headers()
        base = f"{emu.no_base_url}/orgs/{NO_ORG}"
        r = httpx.post(f"{base}/invoices", json={"invoices": [no_invoice()]}, headers=h)
        ref = httpx.get(r.json()["data"]["batchUrl"], headers=h).json()["data"]["succeeded"][0]
        httpx.post(f"{base}/cases/{ref['caseId']}/pause", headers=h)
        emu.admin.advance(days=30)
        assert httpx.get(f"{base}/cases/{ref['caseId']}", headers=h).json()["data"]["type"] == "NOTICE"
        httpx.post(f"{base}/cases/{ref['caseId']}/resume", headers=h)
        emu.admin.advance(days=4)  # paused time does not count: 5 days of NOTICE remain
        assert httpx.get(f"{base}/cases/{ref['caseId']}", headers=h).json()["data"]["type"] == "NOTICE"
        emu.admin.advance(days=1.1)
        assert httpx.get(f"{base}/cases/{ref['caseId']}", headers=h).json()["data"]["type"] == "PAYMENT_REMINDER"


def test_seeded_share_of_debtors_pay():
    cfg = make_config(lifecycle={"pay_share": 0.5, "partial_share": 0.3, "pay_within_days": 30})
    eng = Engine(cfg)
    for _ in range(400):
        eng.se_register_invoice(se_invoice(), "674dbeaf08847b9501cc9132")
    eng.advance(40 * 86400)
    leds = list(eng.ledgers.values())
    payers = [led for led in leds if led.paid_agency > 0]
    full = [led for led in payers if not led.is_open]
    assert 0.4 < len(payers) / len(leds) < 0.6
    assert 0.55 < len(full) / len(payers) < 0.85  # ~70 % of payers pay in full
    assert eng.db["se"]["finance--payout-specifications"]
    assert eng.db["se"]["finance--payouts"]


def _history(seed: int) -> str:
    eng = Engine(make_config(seed=seed))
    for i in range(60):
        eng.se_register_invoice(se_invoice(invoice_number=f"D-{i}"), "674dbeaf08847b9501cc9132")
        if i % 10 == 0:
            eng.advance(86400)
    eng.no_create_batch(NO_ORG, "demo-client", "INVOICE", [no_invoice(invoiceNumber=f"N-{i}", uniqueSourceInvoiceId=f"U-{i}") for i in range(40)],
                        None, "http://x")
    for _ in range(12):
        eng.advance(7 * 86400)
    return json.dumps(eng.state_dump(), sort_keys=True)


def test_same_seed_same_history():
    a, b = _history(11), _history(11)
    assert a == b
    assert _history(12) != a


def test_real_time_speed_factor():
    cfg = make_config(clock={"speed": 86400.0 * 20}, tick_seconds=0.05,
                      lifecycle={"pay_share": 0.0, "invoice_days": 10})
    with running_emulator(cfg) as emu, httpx.Client(base_url=emu.base_url, headers=emu.se_headers()) as se:
        reg = se.post("/invoice--registrations", json=se_invoice()).json()
        time.sleep(1.0)  # = 20 simulated days
        assert se.get(f"/cases/{reg['_case']}").json()["state"] == "reminder"


def test_initializing_delay_and_start_flow():
    with running_emulator(make_config(sweden={"initializing_seconds": 3600})) as emu, \
            httpx.Client(base_url=emu.base_url, headers=emu.se_headers()) as se:
        a = se.post("/invoice--registrations", json=se_invoice()).json()
        b = se.post("/invoice--registrations", json=se_invoice(start_flow=False)).json()
        assert se.get(f"/cases/{a['_case']}").json()["state"] == "initializing"
        emu.admin.advance(seconds=3600)
        assert se.get(f"/cases/{a['_case']}").json()["state"] == "invoice"
        emu.admin.advance(days=100)
        assert se.get(f"/cases/{b['_case']}").json()["state"] == "initializing"
