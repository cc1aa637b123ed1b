"""A partly paid invoice must be claimed at its open balance, never at its original total."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.batches import settle_waiting_batches
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_exactly_once_under_faults import no_client, se_client
from tests.support.invoices import make_invoices


def _partly_paid(market: Market):
    out = []
    for inv in make_invoices(market, 3, prefix="PART"):
        out.append(inv.model_copy(update={"open_balance": (inv.total_amount / 2).quantize(Decimal("0.01"))}))
    return out


def test_amili_claims_only_what_is_still_open(tmp_path, fresh_emulator, creditors):
    se_invoices, no_invoices = _partly_paid(Market.SE), _partly_paid(Market.NO)

    async def go(wh):
        async with se_client(fresh_emulator) as se, no_client(fresh_emulator) as no:
            await register_pending(wh, creditors=creditors, se_client=se, no_client=no)
            await settle_waiting_batches(wh, creditors=creditors, no_client=no, timeout_s=10, poll_s=0.05)

    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, se_invoices + no_invoices, creditors=creditors)
        asyncio.run(go(wh))
        cases = dict(wh.connection.execute("SELECT invoice_key, case_id FROM registrations").fetchall())
    state = fresh_emulator.admin.state()
    se_cases = {c["_id"]: c for c in state["se"]["cases"]}
    for inv in se_invoices:
        case = se_cases[cases[inv.invoice_key]]
        assert Decimal(str(case["local_remaining_capital_amount"])) == inv.open_balance
    no_invoices_at_amili = {i["uniqueSourceInvoiceId"]: i for i in state["no"]["invoices"]}
    for inv in no_invoices:
        assert Decimal(str(no_invoices_at_amili[inv.invoice_key]["remainingAmount"])) == inv.open_balance
