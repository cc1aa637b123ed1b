"""Sweden (ADA API): one conformance test per endpoint, written from the seeds and the reference."""

from __future__ import annotations

import copy
import json
import time

import httpx
import pytest

from amili_pipelines.emulator.dates import parse_date
from tests.support.emulator import (
    COMPANY,
    JANE_DOE,
    PERSON,
    SE_ACCOUNT,
    SE_CREDITOR,
    se_invoice,
)

REG_KEYS = {"_id", "_created", "_updated", "_etag", "_status", "_invoice", "_case", "_ocr_number",
            "ocr_number_ocr", "_ocr_number_ocr"}
EVE_401 = {"_status": "ERR", "_error": {"code": 401, "message": "Please provide proper credentials"}}


def _is_rfc1123(value: str) -> bool:
    return value.endswith(" GMT") and value[3:5] == ", " and parse_date(value) is not None


# ---------------------------------------------------------------- auth

def test_post_api_code_issues_token(emu):
    r = httpx.post(f"{emu.base_url}/authenticates/api-code", json={"api_code": "demo-api-code"})
    assert r.status_code == 200
    body = r.json()
    assert body["_status"] == "OK" and isinstance(body["token"], str) and body["token"]
    assert _is_rfc1123(body["expires"])


@pytest.mark.parametrize("payload", [{"api_code": "wrong"}, {}, None])
def test_post_api_code_rejects_unknown_or_missing_code(emu, payload):
    r = httpx.post(f"{emu.base_url}/authenticates/api-code", json=payload)
    assert r.status_code == 401
    assert r.json() == EVE_401


@pytest.mark.parametrize("path", ["/invoice--registrations", "/cases", "/invoices", "/creditors",
                                  "/finance--payouts", "/cases/674dbeb208847b9501cc9138"])
def test_x_api_key_required_everywhere(emu, path):
    assert httpx.get(emu.base_url + path).json() == EVE_401
    r = httpx.get(emu.base_url + path, headers={"X-API-Key": "not-a-token"})
    assert r.status_code == 401 and r.json() == EVE_401


def test_header_name_is_case_insensitive(emu):
    token = emu.se_token()
    assert httpx.get(f"{emu.base_url}/cases", headers={"x-api-key": token}).status_code == 200


# ---------------------------------------------------------------- invoice registration

@pytest.mark.parametrize("body", [PERSON, COMPANY, JANE_DOE], ids=["person", "company", "jane-doe"])
def test_seed_examples_are_accepted(se, body):
    r = se.post("/invoice--registrations", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == REG_KEYS
    assert out["_status"] == "OK"
    assert out["_invoice"] == out["_id"]  # as in both seed responses
    assert out["ocr_number_ocr"] == out["_ocr_number_ocr"] and out["ocr_number_ocr"].isdigit()
    for key in ("_created", "_updated"):
        assert _is_rfc1123(out[key])
    for key in ("_id", "_case", "_ocr_number"):
        assert len(out[key]) == 24 and int(out[key], 16) >= 0


def test_registration_creates_invoice_and_case(se):
    out = se.post("/invoice--registrations", json=PERSON).json()
    case = se.get(f"/cases/{out['_case']}").json()
    assert case["_id"] == out["_case"]
    assert case["creditor"] == SE_CREDITOR and case["account"] == SE_ACCOUNT
    assert case["customer_name"] == "Anna Andersson"
    assert case["state"] == "invoice" and case["status"] == "invoice_active"
    assert [h["state"] for h in case["state_history"]] == ["initializing", "invoice"]
    assert case["closed"] is None
    # 500.00 excl. VAT at 25 % -> 625.00 claimed
    assert case["local_added_capital_amount"] == 625
    assert case["local_remaining_capital_amount"] == 625
    assert case["debt"]["invoice_number"] == "INV-2026-001"
    assert _is_rfc1123(case["debt"]["invoice_due_date"])
    invoice = se.get(f"/invoices/{out['_invoice']}").json()
    assert invoice["total_amount"] == 625 and invoice["case"] == out["_case"]
    assert _is_rfc1123(invoice["invoice_date"])  # ISO on input, RFC 1123 on output
    reg = se.get(f"/invoice--registrations/{out['_id']}").json()
    assert reg["invoice_number"] == "INV-2026-001" and reg["_etag"] == out["_etag"]


def test_jane_doe_zero_vat_total(se):
    out = se.post("/invoice--registrations", json=JANE_DOE).json()
    assert se.get(f"/cases/{out['_case']}").json()["local_remaining_capital_amount"] == 500


def test_invalid_body_gives_422_with_issues_mirroring_the_path(se):
    body = copy.deepcopy(PERSON)
    del body["invoice_number"]
    body["currency"] = "EUR"
    body["surprise"] = 1
    body["customer"]["is_company"] = True
    body["matrix"][0].pop("article_description")
    r = se.post("/invoice--registrations", json=body)
    assert r.status_code == 422
    out = r.json()
    assert out["_status"] == "ERR"
    assert out["_error"] == {"code": 422, "message": "Insertion failure: 1 document(s) contain(s) error(s)"}
    issues = out["_issues"]
    assert issues["invoice_number"] == "required field"
    assert issues["currency"] == "unallowed value EUR"
    assert issues["surprise"] == "unknown field"
    assert "is_company" in issues["customer"]
    assert issues["matrix"] == {"0": {"article_description": "required field"}}


def test_customer_type_flag_required(se):
    body = copy.deepcopy(PERSON)
    del body["customer"]["is_person"]
    r = se.post("/invoice--registrations", json=body)
    assert r.status_code == 422 and "is_person" in r.json()["_issues"]["customer"]


def test_bad_date_and_types(se):
    r = se.post("/invoice--registrations", json=se_invoice(invoice_date="yesterday", matrix="x"))
    issues = r.json()["_issues"]
    assert issues["invoice_date"] == "must be of datetime type"
    assert issues["matrix"] == "must be of list type"


def test_unknown_creditor_and_account(se):
    r = se.post("/invoice--registrations", json=se_invoice(creditor="0" * 24))
    assert r.status_code == 422 and "creditor" in r.json()["_issues"]
    r = se.post("/invoice--registrations", json=se_invoice(account="1" * 24))
    assert r.status_code == 422 and "account" in r.json()["_issues"]


def test_bad_json_is_400(se):
    r = se.post("/invoice--registrations", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["_status"] == "ERR"


def test_duplicates_accepted_by_default_and_create_a_second_case(se):
    a = se.post("/invoice--registrations", json=PERSON).json()
    b = se.post("/invoice--registrations", json=PERSON).json()
    assert a["_case"] != b["_case"]
    where = json.dumps({"debt.invoice_number": "INV-2026-001"})
    assert se.get("/cases", params={"where": where}).json()["_meta"]["total"] == 2


# ---------------------------------------------------------------- lists (Eve semantics)

def test_list_envelope_and_pagination(se, register):
    for _ in range(30):
        register()
    r = se.get("/invoice--registrations")
    body = r.json()
    assert set(body) >= {"_items", "_meta"}
    assert body["_meta"] == {"page": 1, "max_results": 25, "total": 30}
    assert len(body["_items"]) == 25
    page2 = se.get("/invoice--registrations", params={"page": 2}).json()
    assert len(page2["_items"]) == 5 and page2["_meta"]["page"] == 2
    big = se.get("/invoice--registrations", params={"max_results": 1000}).json()
    assert big["_meta"]["max_results"] == 100 and len(big["_items"]) == 30


def test_where_dot_notation_operators_sort_projection(se, register):
    outs = [register(invoice_number=f"W-{i}") for i in range(5)]
    r = se.get("/cases", params={"where": json.dumps({"debt.invoice_number": {"$in": ["W-1", "W-3"]}})})
    assert {c["debt"]["invoice_number"] for c in r.json()["_items"]} == {"W-1", "W-3"}
    r = se.get("/cases", params={"where": json.dumps({"debt.invoice_number": {"$ne": "W-1"}})})
    assert r.json()["_meta"]["total"] == 4
    r = se.get("/cases", params={"where": json.dumps({"closed": None})})
    assert r.json()["_meta"]["total"] == 5
    r = se.get("/cases", params={"where": json.dumps({"local_remaining_capital_amount": {"$gte": 625}})})
    assert r.json()["_meta"]["total"] == 5
    r = se.get("/cases", params={"sort": "-debt.invoice_number"})
    assert [c["debt"]["invoice_number"] for c in r.json()["_items"]] == [f"W-{i}" for i in (4, 3, 2, 1, 0)]
    r = se.get("/cases", params={"projection": json.dumps({"state": 1})})
    item = r.json()["_items"][0]
    assert set(item) == {"_id", "_created", "_updated", "_etag", "state"}
    r = se.get("/cases", params={"projection": json.dumps({"debt": 0})})
    assert "debt" not in r.json()["_items"][0] and "state" in r.json()["_items"][0]
    r = se.get("/cases", params={"where": 'customer_name=="Anna Andersson"'})
    assert r.json()["_meta"]["total"] == 5
    assert outs


def test_where_on_updated_with_rfc1123_and_iso(emu, se, register):
    register()
    t0 = emu.admin.clock()["now"]
    emu.admin.advance(seconds=10)
    register()
    for since in (t0, parse_date(t0).strftime("%Y-%m-%dT%H:%M:%SZ")):
        r = se.get("/cases", params={"where": json.dumps({"_updated": {"$gt": since}})})
        assert r.json()["_meta"]["total"] == 1, since


def test_bad_where_is_400(se):
    r = se.get("/cases", params={"where": "{nope"})
    assert r.status_code == 400 and r.json()["_status"] == "ERR"
    r = se.get("/cases", params={"where": json.dumps({"a": {"$where": "1"}})})
    assert r.status_code == 400


def test_item_404_is_eve_error(se):
    r = se.get("/cases/" + "a" * 24)
    assert r.status_code == 404
    assert r.json()["_status"] == "ERR" and r.json()["_error"]["code"] == 404


def test_creditors_are_precreated(se):
    items = se.get("/creditors").json()["_items"]
    ids = {c["_id"] for c in items}
    assert SE_CREDITOR in ids
    c = se.get(f"/creditors/{SE_CREDITOR}").json()
    assert c["is_active"] is True and c["account"] == SE_ACCOUNT
    assert {"name", "organization_no", "case_config", "payout_details", "creditor_number"} <= set(c)


def test_responses_are_fast_enough(se):
    t = time.perf_counter()
    for _ in range(20):
        se.post("/invoice--registrations", json=se_invoice())
    assert time.perf_counter() - t < 5


def test_unknown_route_and_wrong_method_are_eve_errors(se):
    r = se.get("/no-such-resource")
    assert r.status_code == 404 and r.json()["_status"] == "ERR" and r.json()["_error"]["code"] == 404
    r = se.delete("/cases")
    assert r.status_code == 405 and r.json()["_error"]["code"] == 405


def test_if_none_match_gives_304(se, register):
    reg = register()
    r = se.get(f"/cases/{reg['_case']}")
    etag = r.headers["ETag"]
    assert se.get(f"/cases/{reg['_case']}", headers={"If-None-Match": etag}).status_code == 304


def test_invoices_list_and_item(se, register):
    regs = [register() for _ in range(3)]
    body = se.get("/invoices").json()
    assert body["_meta"]["total"] == 3
    inv = se.get(f"/invoices/{regs[1]['_invoice']}").json()
    assert inv["case"] == regs[1]["_case"] and inv["ocr_number_ocr"] == regs[1]["ocr_number_ocr"]
    assert inv["total_amount_excluding_vat"] == 500 and inv["total_vat_amount"] == 125
    assert inv["matrix"][0]["vat_amount"] == 125
