"""Property tests: whatever happens, every case's money adds up.

Per case (see ledger.py):  claimed = paid_direct + paid_to_agency + credited + cancelled + remaining,
where claimed = added capital + added costs + added interest. "paid_direct" is money the debtor paid
the creditor (SE creditor--payments, NO DIRECT_PAYMENT); "paid_to_agency" is money the debtor paid
Amili (simulated by the lifecycle). Only the latter is "paid out" to the creditor, through SE payout
specifications / NO settlements, and what is paid out never exceeds it (so never exceeds the claim).
"""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amili_pipelines.emulator.engine import Engine
from amili_pipelines.emulator.money import to_minor
from tests.support.emulator import (
    NO_ORG,
    SE_ACCOUNT,
    SE_CREDITOR,
    make_config,
    no_invoice,
    se_invoice,
)

amounts = st.decimals(min_value="0.01", max_value="5000", places=2).map(float)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("se_register"), amounts, st.sampled_from(["0%", "6%", "12%", "25%"])),
        st.tuples(st.just("no_register"), amounts, st.sampled_from(["NOTICE", "PAYMENT_REMINDER",
                                                                    "COLLECTION_NOTICE"])),
        st.tuples(st.just("se_pay"), st.integers(0, 50), amounts),
        st.tuples(st.just("se_credit"), st.integers(0, 50), amounts),
        st.tuples(st.just("se_cancel"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("no_pay"), st.integers(0, 50), amounts),
        st.tuples(st.just("no_correct"), st.integers(0, 50), amounts),
        st.tuples(st.just("no_action"), st.integers(0, 50), st.sampled_from(["pause", "resume", "withdraw"])),
        st.tuples(st.just("advance"), st.floats(0.1, 60), st.just(0)),
    ),
    min_size=3,
    max_size=60,
)


def check_engine(eng: Engine) -> None:
    specs_by_case: dict[str, int] = {}
    for s in eng.db["se"]["finance--payout-specifications"].values():
        specs_by_case[s["case"]] = specs_by_case.get(s["case"], 0) + to_minor(s["total_amount"])
    sett_by_case: dict[str, list[dict]] = {}
    for s in eng.db["no"]["settlements"].values():
        sett_by_case.setdefault(s["caseId"], []).append(s)
    for led in eng.ledgers.values():
        assert led.rem_capital >= 0 and led.rem_interest >= 0 and all(v >= 0 for v in led.rem_fees.values())
        assert led.claimed == led.paid_direct + led.paid_agency + led.credited + led.cancelled + led.remaining
        assert 0 <= led.paid_out <= led.paid_agency <= led.claimed
        if not led.is_open:
            assert led.remaining == 0
        if led.market == "se":
            assert specs_by_case.get(led.case_id, 0) == led.paid_out
            case = eng.db["se"]["cases"][led.case_id]
            assert to_minor(case["local_remaining_capital_amount"]) == led.rem_capital
            assert (case["closed"] is None) == led.is_open
        else:
            items = sett_by_case.get(led.case_id, [])
            assert sum(to_minor(s["payoutAmount"]) for s in items) == led.paid_out
            assert sum(to_minor(s["principalAmount"]) for s in items) <= led.capital_added
            for s in items:
                assert to_minor(s["payoutAmount"]) == (to_minor(s["principalAmount"]) + to_minor(s["interestAmount"])
                                                       - to_minor(s["commissionAmount"]) - to_minor(s["vatAmount"]))
    for p in eng.db["se"]["finance--payouts"].values():
        lines = [s for s in eng.db["se"]["finance--payout-specifications"].values() if s["payout"] == p["_id"]]
        assert sum(to_minor(s["total_amount"]) for s in lines) == to_minor(p["total_amount"])


def run_ops(eng: Engine, sequence: list[tuple]) -> None:
    se_cases: list[str] = []
    no_invoices: list[dict] = []
    for op, a, b in sequence:
        if op == "se_register":
            status, out = eng.se_register_invoice(
                se_invoice(matrix=[{"article_description": "x", "total_price_excluding_vat": a,
                                    "unit_vat_percent": b}]), SE_ACCOUNT)
            assert status == 201
            se_cases.append(out["_case"])
        elif op == "no_register":
            ref = eng.no_create_batch(NO_ORG, "demo-client", "INVOICE", [
                no_invoice(type=b, claims=[{"type": "PRINCIPAL", "remainingAmount": a},
                                           {"type": "FEE", "remainingAmount": 35}])], None, "http://x")
            batch = eng.db["no"]["batches"][ref["batchId"]]
            no_invoices.extend(batch["succeeded"])
        elif op in ("se_pay", "se_credit", "se_cancel") and se_cases:
            case = se_cases[a % len(se_cases)]
            kind = {"se_pay": "creditor--payments", "se_credit": "creditor--creditings",
                    "se_cancel": "creditor--cancellations"}[op]
            body = {"creditor": SE_CREDITOR, "case": case, "origin": "creditor_system"}
            if op != "se_cancel":
                body.update(currency="SEK", amount=b)
            if op == "se_pay":
                body["bank_transaction_date"] = "Mon, 05 Jan 2026 10:00:00 GMT"
            status, _ = eng.se_creditor_action(kind, body, SE_ACCOUNT)
            assert status == 201
        elif op in ("no_pay", "no_correct") and no_invoices:
            inv = no_invoices[a % len(no_invoices)]
            kind = "PAYMENT" if op == "no_pay" else "CORRECTION"
            item = {"invoiceId": inv["invoiceId"], "amount": b, "currency": "NOK"}
            if kind == "PAYMENT":
                item["type"] = "DIRECT_PAYMENT"
            eng.no_create_batch(NO_ORG, "demo-client", kind, [item], None, "http://x")
        elif op == "no_action" and no_invoices:
            eng.no_case_action(NO_ORG, no_invoices[a % len(no_invoices)]["caseId"], b)
        elif op == "advance":
            eng.advance(a * 86400)
        check_engine(eng)
    eng.advance(400 * 86400)
    check_engine(eng)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.integers(0, 1000))
def test_amounts_always_add_up_in_process(sequence, seed):
    cfg = make_config(seed=seed, lifecycle={"pay_share": 0.7, "partial_share": 0.5, "pay_within_days": 60})
    run_ops(Engine(cfg), sequence)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["register", "pay", "credit", "cancel", "advance"]),
                          st.integers(0, 20), amounts), min_size=1, max_size=15))
def test_amounts_add_up_over_http(emu, sequence):
    emu.admin.reset()
    with httpx.Client(base_url=emu.base_url, headers=emu.se_headers(), timeout=10) as se:
        cases: list[str] = []
        for op, idx, amount in sequence:
            if op == "register":
                cases.append(se.post("/invoice--registrations", json=se_invoice()).json()["_case"])
            elif op == "advance":
                emu.admin.advance(days=idx * 3)
            elif cases:
                body = {"creditor": SE_CREDITOR, "case": cases[idx % len(cases)], "origin": "creditor_system"}
                if op != "cancel":
                    body.update(currency="SEK", amount=amount, bank_transaction_date="Mon, 05 Jan 2026 10:00:00 GMT")
                if op == "credit":
                    body.pop("bank_transaction_date")
                path = {"pay": "/creditor--payments", "credit": "/creditor--creditings",
                        "cancel": "/creditor--cancellations"}[op]
                assert se.post(path, json=body).status_code == 201
        emu.admin.advance(days=200)
        state = emu.admin.state()
    specs: dict[str, int] = {}
    for s in state["se"]["finance--payout-specifications"]:
        specs[s["case"]] = specs.get(s["case"], 0) + to_minor(s["total_amount"])
    for c in state["se"]["cases"]:
        claimed = sum(to_minor(c[k]) for k in ("local_added_capital_amount", "local_added_costs_amount",
                                               "local_added_interest_amount"))
        accounted = sum(to_minor(c[k]) for k in ("local_paid_amount", "local_creditor_paid_amount",
                                                 "local_credited_amount", "local_cancelled_amount",
                                                 "total_remaining_amount"))
        assert claimed == accounted
        assert specs.get(c["_id"], 0) == to_minor(c["local_paid_out_amount"]) <= to_minor(c["local_paid_amount"])
