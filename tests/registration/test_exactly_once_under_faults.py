"""Issue 'Exactly-once registration': every valid invoice registered exactly once through faults.

1,000 Swedish and 1,000 Norwegian invoices against the emulator over loopback with 10% 500/502,
5% 429, 3% committed-then-failed and tokens expiring mid-run, while the emulator accepts duplicate
invoice numbers (so only the client can prevent a double registration). Each test ends with a check
of what the emulator really stored.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from pydantic import SecretStr

from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.batches import settle_waiting_batches
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.warehouse import open_warehouse
from tests.support.invoices import make_invoices

FAULTS = dict(
    error_rates={500: 0.05, 502: 0.05},
    rate_429=0.05,
    retry_after_seconds=0,  # Retry-After itself is unit-tested; here it would only make the run wait
    committed_then_failed_rate=0.03,
    committed_then_failed_mode="502",
    token_actual_ttl_seconds=1.5,
    unique_invoice_numbers=False,
    seed=11,
)


def se_client(emu) -> AmiliSeClient:
    return AmiliSeClient(base_url=emu.base_url, api_code=SecretStr("demo-api-code"), requests_per_second=2000,
                         max_concurrency=32, max_retries=8, backoff_base=0.02, backoff_cap=0.5)


def no_client(emu) -> AmiliNoClient:
    return AmiliNoClient(base_url=emu.no_base_url, auth_url=emu.no_auth_url, client_id="demo-client",
                         client_secret=SecretStr("demo-secret"), requests_per_second=2000, max_concurrency=8,
                         max_retries=8, backoff_base=0.02, backoff_cap=0.5)


async def _register_all(wh, creditors, emu, *, rounds: int = 5):
    async with se_client(emu) as se, no_client(emu) as no:
        summary = None
        for _ in range(rounds):  # a later run picks up what an earlier one could not finish
            summary = await register_pending(wh, creditors=creditors, se_client=se, no_client=no, chunk_size=200,
                                             no_batch_size=50)
            await settle_waiting_batches(wh, creditors=creditors, no_client=no, timeout_s=30, poll_s=0.1)
            open_rows = wh.connection.execute(
                "SELECT count(*) FROM registration_outbox WHERE state <> 'registered'").fetchone()[0]
            if open_rows == 0:
                break
        return summary


def assert_exactly_once_at_emulator(emu, wh, se_invoices, no_invoices) -> None:
    state = emu.admin.state()
    se_numbers = Counter(d["invoice_number"] for d in state["se"]["invoice--registrations"])
    se_cases = {c["_id"] for c in state["se"]["cases"]}
    for inv in se_invoices:
        assert se_numbers[inv.invoice_number] == 1, f"{inv.invoice_number} registered {se_numbers[inv.invoice_number]}x"
    no_ids = Counter(d.get("uniqueSourceInvoiceId") for d in state["no"]["invoices"])
    for inv in no_invoices:
        assert no_ids[inv.invoice_key] == 1, f"{inv.invoice_key} registered {no_ids[inv.invoice_key]}x in Norway"
    no_cases = {c.get("caseId") or c.get("id") for c in state["no"]["cases"]}

    rows = wh.connection.execute("SELECT market, invoice_key, case_id FROM registrations").fetchall()
    by_market = Counter(m for m, _, _ in rows)
    assert by_market == {"SE": len(se_invoices), "NO": len(no_invoices)}, "nothing lost: every invoice has a case"
    for market, _, case_id in rows:
        assert case_id in (se_cases if market == "SE" else no_cases)
    assert wh.connection.execute("SELECT count(*) FROM registration_outbox WHERE state <> 'registered'").fetchone()[0] == 0


def test_every_invoice_registered_exactly_once_through_faults(tmp_path, fresh_emulator, creditors):
    se_invoices = make_invoices(Market.SE, 1000)
    no_invoices = make_invoices(Market.NO, 1000)
    fresh_emulator.admin.set_faults(**FAULTS)
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, se_invoices + no_invoices, creditors=creditors)
        summary = asyncio.run(_register_all(wh, creditors, fresh_emulator))
        fresh_emulator.admin.clear_faults()
        stats = fresh_emulator.admin.stats()
        assert summary is not None
        # The faults really happened.
        assert_exactly_once_at_emulator(fresh_emulator, wh, se_invoices, no_invoices)
        events = dict(wh.connection.execute(
            "SELECT to_state, count(*) FROM registration_events GROUP BY to_state").fetchall())
        assert events.get("unknown_outcome", 0) > 0, "committed-then-failed and 5xx must have produced unclear outcomes"
    assert stats, "emulator stats readable"
