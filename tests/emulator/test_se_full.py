"""Sweden beyond the first slice: JWT auth, token expiry, case registrations, creditor actions,
respite, creditors (Partner API), media upload, finance resources."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from amili_pipelines.emulator.testing import running_emulator
from tests.support.emulator import SE_ACCOUNT, SE_CREDITOR, make_config, se_invoice

EVE_401 = {"_status": "ERR", "_error": {"code": 401, "message": "Please provide proper credentials"}}


def _keypair():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, pem


# ---------------------------------------------------------------- auth: JWT + expiry

def test_get_api_code_with_jwt_signed_by_registered_key():
    key, pem = _keypair()
    other, _ = _keypair()
    cfg = make_config(sweden={"jwt_public_keys": [pem]})
    with running_emulator(cfg) as emu:
        url = f"{emu.base_url}/authenticates/api-code"
        good = jwt.encode({"api_code": "demo-api-code", "exp": int(time.time()) + 600}, key, algorithm="ES256")
        r = httpx.get(url, headers={"X-API-Key": good})
        assert r.status_code == 200 and r.json()["_status"] == "OK"
        token = r.json()["token"]
        assert httpx.get(f"{emu.base_url}/cases", headers={"X-API-Key": token}).status_code == 200
        cases = [
            jwt.encode({"api_code": "demo-api-code", "exp": int(time.time()) + 600}, other, algorithm="ES256"),
            jwt.encode({"api_code": "demo-api-code", "exp": int(time.time()) - 10}, key, algorithm="ES256"),
            jwt.encode({"api_code": "nope", "exp": int(time.time()) + 600}, key, algorithm="ES256"),
            jwt.encode({"exp": int(time.time()) + 600}, key, algorithm="ES256"),
            "garbage",
        ]
        for bad in cases:
            r = httpx.get(url, headers={"X-API-Key": bad})
            assert r.status_code == 401 and r.json() == EVE_401
        assert httpx.get(url).status_code == 401


@pytest.mark.serial
def test_tokens_expire_after_configured_lifetime():
    with running_emulator(make_config(sweden={"token_ttl_seconds": 1.0})) as emu:
        r = httpx.post(f"{emu.base_url}/authenticates/api-code", json={"api_code": "demo-api-code"})
        token = r.json()["token"]
        assert httpx.get(f"{emu.base_url}/cases", headers={"X-API-Key": token}).status_code == 200
        time.sleep(1.2)
        r = httpx.get(f"{emu.base_url}/cases", headers={"X-API-Key": token})
        assert r.status_code == 401 and r.json() == EVE_401


# ---------------------------------------------------------------- case registrations

CASE_REG = {
    "account": SE_ACCOUNT,
    "creditor": SE_CREDITOR,
    "first_action": "reminder",
    "currency": "SEK",
    "customer": {"name": "Sven Svensson", "id_number": "19800101-0000", "is_person": True,
                 "address": {"address_line_1": "Gatan 1", "zip_code": "11122", "city": "Stockholm", "country": "SE"},
                 "mobile_number": "+46700000000", "email": "sven@example.se"},
    "debts": [
        {"invoice_number": "CR-1", "debt_description": "Rent", "invoice_date": "Mon, 02 Feb 2026 00:00:00 GMT",
         "capital_to_claim": 1000, "invoice_due_days_after_invoice_date": 30,
         "fees_included_in_capital_to_claim": {"invoice_fee": 29},
         "fees_already_claimed": {"reminder": {"amount": 60, "fee_registration_date": "Mon, 09 Mar 2026 00:00:00 GMT"}}},
        {"invoice_number": "CR-2", "invoice_date": "2026-02-03T00:00:00Z", "capital_to_claim": 250.5},
    ],
}


def test_case_registration_creates_one_case_per_debt(se):
    r = se.post("/case--registrations", json=CASE_REG)
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"_id", "_created", "_updated", "_etag", "_status", "_cases", "_ocr_numbers",
                        "_ocr_numbers_ocr"}
    assert len(out["_cases"]) == len(out["_ocr_numbers"]) == len(out["_ocr_numbers_ocr"]) == 2
    c1 = se.get(f"/cases/{out['_cases'][0]}").json()
    assert c1["state"] == "reminder" and c1["case_registration"] == out["_id"]
    assert c1["local_remaining_capital_amount"] == 1000 and c1["local_remaining_costs_amount"] == 60
    c2 = se.get(f"/cases/{out['_cases'][1]}").json()
    assert c2["local_remaining_capital_amount"] == 250.5
    listed = se.get("/case--registrations").json()
    assert listed["_meta"]["total"] == 1
    assert se.get(f"/case--registrations/{out['_id']}").json()["cases"] == out["_cases"]


def test_case_registration_validation(se):
    bad = {**CASE_REG, "first_action": "sue", "debts": [{"capital_to_claim": "x"}]}
    r = se.post("/case--registrations", json=bad)
    assert r.status_code == 422
    issues = r.json()["_issues"]
    assert issues["first_action"] == "unallowed value sue"
    assert issues["debts"]["0"]["invoice_number"] == "required field"
    assert issues["debts"]["0"]["capital_to_claim"] == "must be of number type"


# ---------------------------------------------------------------- creditor actions

def _pay(se, **kw):
    body = {"creditor": SE_CREDITOR, "currency": "SEK", "amount": 100,
            "bank_transaction_date": "Mon, 05 Jan 2026 10:00:00 GMT", "origin": "creditor_system"}
    body.update(kw)
    return se.post("/creditor--payments", json=body)


def test_creditor_payment_by_case_and_by_invoice_number(se, register):
    reg = register(invoice_number="PAY-1")
    r = _pay(se, case=reg["_case"], amount=100, account=SE_ACCOUNT)
    assert r.status_code == 201
    out = r.json()
    assert set(out) == {"_id", "_created", "_updated", "_etag", "_status", "_payment_status"}
    assert out["_payment_status"] == "completed"
    case = se.get(f"/cases/{reg['_case']}").json()
    assert case["local_remaining_capital_amount"] == 525 and case["closed"] is None
    r = _pay(se, invoice_number="PAY-1", amount=525)
    assert r.json()["_payment_status"] == "completed"
    case = se.get(f"/cases/{reg['_case']}").json()
    assert case["closed"]["reason"] == "paid" and case["state"] == "closed"
    assert case["local_remaining_capital_amount"] == 0
    doc = se.get(f"/creditor--payments/{r.json()['_id']}").json()
    assert doc["status"] == "completed" and doc["settled_amount"] == 525 and doc["case"] == reg["_case"]
    assert se.get("/creditor--payments").json()["_meta"]["total"] == 2
    # closed case: request succeeds, status warning
    r = _pay(se, case=reg["_case"])
    assert r.status_code == 201 and r.json()["_payment_status"] == "warning"


def test_overpayment_is_a_warning(se, register):
    reg = register()
    r = _pay(se, case=reg["_case"], amount=1000)
    assert r.json()["_payment_status"] == "warning"
    doc = se.get("/creditor--payments/" + r.json()["_id"]).json()
    assert doc["settled_amount"] == 625 and doc["status_reason_locale"]


@pytest.mark.parametrize("kw,field", [
    ({}, "case"),
    ({"case": "0" * 24, "invoice_number": "X"}, "invoice_number"),
    ({"case": "0" * 24}, "case"),
    ({"invoice_number": "does-not-exist"}, "invoice_number"),
    ({"origin": "web"}, "origin"),
])
def test_creditor_action_errors(se, kw, field):
    body = {"creditor": SE_CREDITOR, "currency": "SEK", "amount": 1,
            "bank_transaction_date": "Mon, 05 Jan 2026 10:00:00 GMT", "origin": "creditor_system"}
    body.update(kw)
    r = se.post("/creditor--payments", json=body)
    assert r.status_code == 422
    assert field in r.json()["_issues"]


def test_crediting_and_cancellation(se, register):
    a = register()
    r = se.post("/creditor--creditings", json={"creditor": SE_CREDITOR, "case": a["_case"], "currency": "SEK",
                                               "amount": 125, "origin": "creditor_system"})
    assert r.status_code == 201 and r.json()["_payment_status"] == "completed"
    case = se.get(f"/cases/{a['_case']}").json()
    assert case["local_remaining_capital_amount"] == 500
    r = se.post("/creditor--creditings", json={"creditor": SE_CREDITOR, "case": a["_case"], "currency": "SEK",
                                               "amount": 500, "origin": "creditor_system"})
    assert se.get(f"/cases/{a['_case']}").json()["closed"]["reason"] == "credited"
    b = register()
    r = se.post("/creditor--cancellations", json={"creditor": SE_CREDITOR, "case": b["_case"],
                                                  "origin": "creditor_system"})
    assert r.status_code == 201
    assert set(r.json()) == {"_id", "_created", "_updated", "_etag", "_status", "_cancellation_status"}
    assert r.json()["_cancellation_status"] == "completed"
    case = se.get(f"/cases/{b['_case']}").json()
    assert case["closed"]["reason"] == "cancelled" and case["local_cancelled_amount"] == 625
    r = se.post("/creditor--cancellations", json={"creditor": SE_CREDITOR, "case": b["_case"],
                                                  "origin": "creditor_system"})
    assert r.json()["_cancellation_status"] == "warning"
    assert se.get("/creditor--cancellations").json()["_meta"]["total"] == 2
    assert se.get("/creditor--creditings").json()["_meta"]["total"] == 2
    closed = se.get("/cases", params={"where": json.dumps({"closed": {"$ne": None}})}).json()
    assert closed["_meta"]["total"] == 2


# ---------------------------------------------------------------- respite

def test_respite(se, register):
    reg = register()
    body = {"respite_until": "Mon, 01 Jun 2026 00:00:00 GMT", "origin": "creditor_system"}
    r = se.post(f"/cases/{reg['_case']}/respite", json=body)
    assert r.status_code == 201
    assert set(r.json()) == {"_id", "_created", "_updated", "_etag", "_status", "_respite_status"}
    assert r.json()["_respite_status"] == "completed"
    assert se.get(f"/cases/{reg['_case']}").json()["respite_until"] == "Mon, 01 Jun 2026 00:00:00 GMT"
    assert se.post(f"/cases/{'a' * 24}/respite", json=body).status_code == 404
    se.post("/creditor--cancellations", json={"creditor": SE_CREDITOR, "case": reg["_case"],
                                              "origin": "creditor_system"})
    r = se.post(f"/cases/{reg['_case']}/respite", json=body)
    assert r.status_code == 422 and r.json()["_status"] == "ERR"


def test_respite_delays_the_next_state(emu, se, register):
    a, b = register(), register()
    se.post(f"/cases/{a['_case']}/respite", json={"respite_until": "Sat, 01 Aug 2026 00:00:00 GMT",
                                                  "origin": "creditor_system"})
    with emu.engine.lock:
        for led in emu.engine.ledgers.values():
            led.pay_at = None  # nobody pays in this test
        emu.engine.reschedule()
    emu.admin.advance(days=40)
    assert se.get(f"/cases/{a['_case']}").json()["state"] == "invoice"
    assert se.get(f"/cases/{b['_case']}").json()["state"] == "reminder"


# ---------------------------------------------------------------- creditors (Partner API)

def test_creditor_crud_with_etags(se):
    body = {"account": SE_ACCOUNT, "name": "New Creditor AB", "organization_no": "556000-1111"}
    r = se.post("/creditors", json=body)
    assert r.status_code == 201
    cid, etag = r.json()["_id"], r.json()["_etag"]
    assert se.get(f"/creditors/{cid}").json()["is_active"] is False
    assert se.patch(f"/creditors/{cid}", json={"description": "x"}).status_code == 428
    assert se.patch(f"/creditors/{cid}", json={"description": "x"}, headers={"If-Match": "nope"}).status_code == 412
    r = se.patch(f"/creditors/{cid}", json={"description": "x"}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["_etag"] != etag
    r2 = se.patch(f"/creditors/{cid}", json={"creditor_number": 5}, headers={"If-Match": r.json()["_etag"]})
    assert r2.status_code == 422 and r2.json()["_issues"]["creditor_number"] == "field is read-only"
    inactive = se.post("/invoice--registrations", json=se_invoice(creditor=cid))
    assert inactive.status_code == 422 and "creditor" in inactive.json()["_issues"]
    assert se.delete(f"/creditors/{cid}", headers={"If-Match": r.json()["_etag"]}).status_code == 204
    assert se.get(f"/creditors/{cid}").status_code == 404
    r = se.post("/creditors", json={"account": SE_ACCOUNT, "name": "A", "is_active": True})
    assert r.status_code == 422 and "is_active" in r.json()["_issues"]


# ---------------------------------------------------------------- media upload

def test_media_upload(se, register):
    reg = register()
    files = {"file": ("invoice.pdf", b"%PDF-1.4 demo", "application/pdf")}
    r = se.post(f"/media--upload/{reg['_case']}", files=files, data={"domain": "cases", "dotted_path": "original_invoice"})
    assert r.status_code == 201, r.text
    assert r.json()["_status"] == "OK" and r.json()["url"].startswith("https://")
    r = se.post(f"/media--upload/{reg['_case']}", files=files, data={"domain": "nope", "dotted_path": "x"})
    assert r.status_code == 400 and r.json()["_error"]["message"] == "Domain 'nope' is not valid."
    r = se.post(f"/media--upload/{reg['_case']}", files=files, data={"domain": "cases"})
    assert r.json()["_error"]["message"] == "Dotted Path Not Found in request form"
    r = se.post(f"/media--upload/{reg['_case']}", files=files, data={"domain": "cases", "dotted_path": "zzz"})
    assert r.json()["_error"]["message"] == "Dotted Path is not valid"
    r = se.post(f"/media--upload/{reg['_case']}", files={"file": ("a.txt", b"x", "text/plain")},
                data={"domain": "cases", "dotted_path": "original_invoice"})
    assert r.json()["_error"]["message"] == "The provided file's content type is not allowed."
    r = se.post(f"/media--upload/{reg['_case']}", data={"domain": "cases", "dotted_path": "original_invoice"},
                files={"other": ("a", b"x", "application/pdf")})
    assert r.json()["_error"]["message"] == "File is a required attribute."
    r = se.post(f"/media--upload/{'b' * 24}", files=files, data={"domain": "cases", "dotted_path": "original_invoice"})
    assert r.status_code == 404 and r.json()["_error"]["message"] == "Resource Document Not Found"


# ---------------------------------------------------------------- finance

def test_finance_endpoints_and_lines(emu, se, register):
    regs = [register() for _ in range(3)]
    with emu.engine.lock:
        for led in emu.engine.ledgers.values():
            led.pay_at = led.stage_entered + 2 * 86400  # everyone pays in full after 2 days
            led.pay_percent = 100
        emu.engine.reschedule()
    emu.admin.advance(days=10)
    specs = se.get("/finance--payout-specifications", params={"max_results": 100}).json()["_items"]
    assert specs
    keys = {"_id", "_created", "_updated", "_etag", "creditor", "creditor_name", "currency", "amount", "vat_amount",
            "total_amount", "article", "state", "booking_date", "finance_category", "invoice_number",
            "reference_number", "payout_reference", "payout_date", "payout", "case"}
    for s in specs:
        assert keys <= set(s)
        assert s["finance_category"] in {"capital", "interest", "creditor_commission", "creditor_outlay"}
    payouts = se.get("/finance--payouts").json()["_items"]
    assert payouts
    p = payouts[0]
    assert {"creditor", "currency", "amount", "vat_amount", "total_amount", "status", "summary", "finance_interval",
            "payout_date", "payout_reference"} <= set(p)
    lines = se.get("/finance--payout-specifications",
                   params={"where": json.dumps({"payout": p["_id"]}), "max_results": 100}).json()["_items"]
    assert round(sum(x["total_amount"] for x in lines), 2) == p["total_amount"]
    assert se.get(f"/finance--payouts/{p['_id']}").json()["_id"] == p["_id"]
    for reg in regs:
        case = se.get(f"/cases/{reg['_case']}").json()
        assert case["closed"]["reason"] == "paid"
    assert {x["status"] for x in payouts} <= {"scheduled", "paid"}
    emu.admin.advance(days=3)
    assert {x["status"] for x in se.get("/finance--payouts").json()["_items"]} == {"paid"}


def test_bulk_insert_is_all_or_nothing(se):
    bad = se_invoice()
    del bad["currency"]
    r = se.post("/invoice--registrations", json=[se_invoice(), bad])
    assert r.status_code == 422
    out = r.json()
    assert out["_status"] == "ERR" and [i["_status"] for i in out["_items"]] == ["OK", "ERR"]
    assert out["_items"][1]["_issues"] == {"currency": "required field"}
    assert se.get("/invoice--registrations").json()["_meta"]["total"] == 0
    r = se.post("/invoice--registrations", json=[se_invoice(), se_invoice()])
    assert r.status_code == 201 and len(r.json()["_items"]) == 2
    assert all(i["_status"] == "OK" and "_case" in i for i in r.json()["_items"])
