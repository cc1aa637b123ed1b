"""Back to Amili: what the creditor's books show is reported exactly once, also across unclear outcomes."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.actions import (
    confirm_action_batches,
    report_back_to_amili,
)
from amili_pipelines.reconciliation.cases import sync_cases
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs

pytestmark = pytest.mark.integration
DAY1, DAY2, DAY3 = date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)


def _balances(wh, day: date, rows: list[tuple[str, str, Decimal, str]]) -> None:
    """The source's view on `day`: (creditor, invoice_number, open_balance, status) per invoice present."""
    for i, (creditor, number, balance, status) in enumerate(rows):
        wh.connection.execute(
            "INSERT INTO source_balances VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, 'test', ?, ?)",
            [day, f"{creditor}-erp", creditor, f"{creditor}/{number}", number, balance, status, status == "unpaid",
             i + 1, datetime(2026, 5, 1)],
        )


def _run(env, wh, day: date):
    async def go(se, no):
        await sync_cases(wh, creditors=env.creditors, se_client=se, no_client=no)
        return await report_back_to_amili(wh, creditors=env.creditors, se_client=se, no_client=no, as_of=day)

    return asyncio.run(fs.with_clients(env.emulator, go))


def _docs(state: dict, market: str, coll: str) -> list[dict]:
    c = state[market].get(coll) or {}
    return list(c.values()) if isinstance(c, dict) else list(c)


def test_sweden_payment_crediting_cancellation_exactly_once(followup):
    emu = followup.emulator
    invoices = fs.make_invoices(Market.SE, 5)
    claimed = {i.invoice_number: i.open_balance for i in invoices}
    n = [i.invoice_number for i in invoices]
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, invoices)
        everything = [("demo-se", x, claimed[x], "unpaid") for x in n]
        _balances(wh, DAY1, everything)
        assert _run(followup, wh, DAY1).sent == 0, "nothing changed in the books yet"

        # Day 2: 100.00 paid directly on n0, n1 credited in full, n2 gone from the export.
        _balances(wh, DAY2, [
            ("demo-se", n[0], claimed[n[0]] - 100, "unpaid"),
            ("demo-se", n[1], Decimal("0.00"), "credited"),
            ("demo-se", n[3], claimed[n[3]], "unpaid"),
            ("demo-se", n[4], claimed[n[4]], "unpaid"),
        ])
        s = _run(followup, wh, DAY2)
        assert (s.detected_payments, s.detected_creditings, s.detected_cancellations, s.sent) == (1, 1, 1, 3)
        # The same books read again, the same day and the next: nothing is reported twice.
        assert _run(followup, wh, DAY2).sent == 0
        _balances(wh, DAY3, [
            ("demo-se", n[0], claimed[n[0]] - 100, "unpaid"),
            ("demo-se", n[1], Decimal("0.00"), "credited"),
            ("demo-se", n[3], claimed[n[3]], "unpaid"),
            ("demo-se", n[4], claimed[n[4]], "unpaid"),
        ])
        s3 = _run(followup, wh, DAY3)
        assert (s3.detected_payments, s3.detected_creditings, s3.detected_cancellations, s3.sent) == (0, 0, 0, 0)

        # An unclear outcome: Amili stores the payment but the answer is lost (502).
        emu.admin.set_faults(committed_then_failed_rate=1.0, path_prefixes=["/creditor--payments"], methods=["POST"])
        _balances(wh, date(2026, 5, 4), [
            ("demo-se", n[0], claimed[n[0]] - 100, "unpaid"),
            ("demo-se", n[1], Decimal("0.00"), "credited"),
            ("demo-se", n[3], claimed[n[3]] - 50, "unpaid"),
            ("demo-se", n[4], claimed[n[4]], "unpaid"),
        ])
        unclear = _run(followup, wh, date(2026, 5, 4))
        assert unclear.unknown_outcome == 1 and unclear.sent == 0
        emu.admin.clear_faults()
        resolved = _run(followup, wh, date(2026, 5, 4))
        assert resolved.resolved_by_lookup == 1 and resolved.sent == 0, "found at Amili, not sent again"
        states = dict(wh.connection.execute("SELECT state, count(*) FROM case_actions_outbox GROUP BY ALL").fetchall())
    assert states == {"sent": 4}
    state = emu.admin.state()
    payments = _docs(state, "se", "creditor--payments")
    assert sorted(Decimal(str(p["amount"])) for p in payments) == [Decimal(50), Decimal(100)]
    assert all(p["origin"] == "creditor_system" for p in payments)
    assert len(_docs(state, "se", "creditor--creditings")) == 1
    assert len(_docs(state, "se", "creditor--cancellations")) == 1


def test_norway_payment_and_withdrawal_exactly_once(followup):
    emu = followup.emulator
    invoices = fs.make_invoices(Market.NO, 3)
    claimed = {i.invoice_number: i.open_balance for i in invoices}
    n = [i.invoice_number for i in invoices]
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, invoices)
        _balances(wh, DAY1, [("demo-no", x, claimed[x], "unpaid") for x in n])
        _balances(wh, DAY2, [("demo-no", n[0], claimed[n[0]] - Decimal("250.50"), "unpaid"),
                               ("demo-no", n[2], claimed[n[2]], "unpaid")])
        s = _run(followup, wh, DAY2)
        assert (s.detected_payments, s.detected_cancellations) == (1, 1)
        assert s.waiting_for_batch == 1 and s.sent == 1  # the payment batch is asynchronous

        async def confirm(se, no):
            return await confirm_action_batches(wh, no_client=no, creditors=followup.creditors)

        confirmed = asyncio.run(fs.with_clients(emu, confirm))
        assert confirmed.action_batches_sent == 1
        assert _run(followup, wh, DAY2).sent == 0
        states = dict(wh.connection.execute("SELECT state, count(*) FROM case_actions_outbox GROUP BY ALL").fetchall())
    assert states == {"sent": 2}
    state = emu.admin.state()
    payments = _docs(state, "no", "payments")
    assert len(payments) == 1
    statuses = sorted(c["status"] for c in _docs(state, "no", "cases"))
    assert statuses.count("WITHDRAWN") == 1
