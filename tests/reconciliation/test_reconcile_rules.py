"""Reconciliation rules on hand-made facts: statuses, every discrepancy, idempotent line upserts,
and the asset checks that fail when money is wrong (real Dagster materializations)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import pytest

from amili_pipelines.defs.reconcile.assets import reconciliation
from amili_pipelines.defs.reconcile.checks import CHECKS
from amili_pipelines.defs.resources import CreditorsResource, WarehouseResource
from amili_pipelines.domain.cases import CaseRecord, SettlementLine
from amili_pipelines.reconciliation.reconcile import reconcile
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse

NOW = datetime(2026, 6, 1, 12, 0)
D = Decimal


def outbox(wh, market: str, number: str, case_id: str, claimed: str, creditor: str = "demo-se") -> None:
    wh.connection.execute(
        """INSERT INTO registration_outbox (market, invoice_key, creditor, invoice_number, idempotency_key, state,
               payload_json, claimed_amount, currency, case_id, created_at, updated_at, registered_at)
           VALUES (?, ?, ?, ?, ?, 'registered', '{}', ?, ?, ?, ?, ?, ?)""",
        [market, f"{creditor}/{number}", creditor, number, f"k-{market}-{number}", D(claimed),
         "SEK" if market == "SE" else "NOK", case_id, NOW, NOW, NOW],
    )


def case(market: str, case_id: str, number: str, claimed: str, remaining: str, *, closed: str | None = None,
         creditor: str = "demo-se") -> CaseRecord:
    return _record(CaseRecord, {
        "market": market, "case_id": case_id, "creditor": creditor, "invoice_number": number,
        "currency": "SEK" if market == "SE" else "NOK", "state": "closed" if closed else "reminder",
        "status": "closed" if closed else "reminder_active", "is_closed": closed is not None, "closed_reason": closed,
        "claimed_capital": D(claimed), "remaining_capital": D(remaining), "remaining_total": D(remaining),
        "api_updated_at": NOW,
    })


def line(market: str, line_id: str, case_id: str | None, principal: str, *, payout: str | None = None,
         number: str = "?") -> SettlementLine:
    p = D(principal)
    return _record(SettlementLine, {
        "market": market, "line_id": line_id, "source": "se_payout_specification" if market == "SE" else "no_settlement",
        "case_id": case_id, "invoice_number": number, "currency": "SEK", "settlement_date": date(2026, 5, 20),
        "principal_amount": p, "interest_amount": D(0), "fee_amount": D(0), "commission_amount": p / 10,
        "vat_amount": p / 40, "payout_amount": D(payout) if payout else p - p / 10 - p / 40,
    })


def _record(kind, given: dict):
    """A domain record with the given fields; everything else unknown (None)."""
    return kind(**{**{f.name: None for f in dataclasses.fields(kind)}, **given})


@pytest.fixture()
def facts(tmp_path):
    db = tmp_path / "amili.duckdb"
    with open_warehouse(db) as wh:
        outbox(wh, "SE", "A", "c-open", "100.00")
        outbox(wh, "SE", "B", "c-part", "200.00")
        outbox(wh, "SE", "C", "c-paid", "300.00")
        outbox(wh, "SE", "D", "c-cancel", "400.00")
        wh.cases.upsert_cases([
            case("SE", "c-open", "A", "100.00", "100.00"),
            case("SE", "c-part", "B", "200.00", "150.00"),
            case("SE", "c-paid", "C", "300.00", "0.00", closed="paid"),
            case("SE", "c-cancel", "D", "400.00", "0.00", closed="cancelled"),
        ])
        wh.settlements.upsert_lines([
            line("SE", "l1", "c-part", "50.00", number="B"),
            line("SE", "l2", "c-paid", "100.00", number="C"),
            line("SE", "l3", "c-paid", "200.00", number="C"),
        ])
    return db


def test_statuses_and_amounts(facts):
    with open_warehouse(facts) as wh:
        s = reconcile(wh, as_of=date(2026, 6, 1))
        rows = {r[0]: r[1:] for r in wh.connection.execute(
            "SELECT invoice_number, status, paid_principal, cancelled, remaining_capital FROM reconciliation").fetchall()}
    assert (s.open, s.partly_paid, s.settled, s.closed_without_payment) == (1, 1, 1, 1)
    assert rows["A"] == ("open", D("0.00"), D("0.00"), D("100.00"))
    assert rows["B"] == ("partly_paid", D("50.00"), D("0.00"), D("150.00"))
    assert rows["C"] == ("settled", D("300.00"), D("0.00"), D("0.00"))
    assert rows["D"] == ("closed_without_payment", D("0.00"), D("400.00"), D("0.00"))
    assert s.discrepancies == {} and s.errors == 0
    assert "settled: 1" in s.render()


def test_upserting_the_same_lines_again_counts_nothing_twice(facts):
    with open_warehouse(facts) as wh:
        before = wh.connection.execute("SELECT count(*), sum(payout_amount) FROM settlement_lines").fetchall()
        inserted, updated = wh.settlements.upsert_lines([line("SE", "l1", "c-part", "50.00", number="B"),
                                                           line("SE", "l2", "c-paid", "100.00", number="C")])
        after = wh.connection.execute("SELECT count(*), sum(payout_amount) FROM settlement_lines").fetchall()
    assert (inserted, updated) == (0, 2)
    assert before == after


def test_every_discrepancy_is_found(facts):
    with open_warehouse(facts) as wh:
        wh.settlements.upsert_lines([
            line("SE", "l4", "c-part", "500.00", number="B"),          # B: paid out more than claimed
            line("SE", "l5", "c-nobody", "10.00", number="ZZZ"),       # a case we never registered
        ])
        wh.connection.execute("INSERT INTO amili_registrations_seen VALUES ('SE', 'demo-se/A', 'c-other', NULL, ?)", [NOW])
        wh.connection.execute(
            "INSERT INTO source_balances VALUES (?, 'erp', 'demo-se', 'demo-se/C', 'C', 120.00, NULL, 'unpaid', true,"
            " 'test', 1, ?)", [date(2026, 5, 30), NOW])
        wh.cases.upsert_cases([case("SE", "c-open", "A", "90.00", "100.00")])  # Amili holds another capital
        s = reconcile(wh, as_of=date(2026, 6, 1))
        found = {(r[0], r[1]) for r in wh.connection.execute(
            "SELECT reason, severity FROM reconciliation_discrepancies").fetchall()}
    assert found == {
        ("paid_out_exceeds_claimed", "error"), ("settlement_for_unknown_case", "error"),
        ("invoice_with_two_cases", "error"), ("closed_but_source_unpaid", "warning"),
        ("amounts_do_not_match_case", "warning"),
    }
    assert s.errors == 3


def _materialize(db, analytics):
    return dg.materialize(
        [reconciliation, *CHECKS],
        resources={"warehouse": WarehouseResource(path=str(db), analytics_path=str(analytics)),
                   "creditors": CreditorsResource(path=str(PROJECT_ROOT / "creditors.yaml"))},
        raise_on_error=False,
    )


def test_checks_pass_when_the_money_adds_up(facts, tmp_path):
    result = _materialize(facts, tmp_path / "pub.duckdb")
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"settlements_within_claimed": True, "settlements_for_known_cases": True,
                           "no_invoice_with_two_cases": True, "reconciliation_warnings": True}


def test_checks_fail_when_money_is_wrong(facts, tmp_path):
    with open_warehouse(facts) as wh:
        wh.settlements.upsert_lines([line("SE", "l4", "c-part", "500.00", number="B"),
                                       line("SE", "l5", "c-nobody", "10.00", number="ZZZ")])
        wh.connection.execute("INSERT INTO amili_registrations_seen VALUES ('SE', 'demo-se/A', 'c-other', NULL, ?)", [NOW])
    result = _materialize(facts, tmp_path / "pub.duckdb")
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["settlements_within_claimed"].passed
    assert not evaluations["settlements_for_known_cases"].passed
    assert not evaluations["no_invoice_with_two_cases"].passed
    assert evaluations["settlements_within_claimed"].severity == dg.AssetCheckSeverity.ERROR
    assert evaluations["settlements_within_claimed"].metadata["discrepancies"].value == 1
