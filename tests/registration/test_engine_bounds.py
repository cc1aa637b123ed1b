"""The engine stops resending when Amili keeps failing, and wrong credentials fail a run loudly."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import AuthenticationFailed
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.engine import (
    MAX_SENDS_PER_RUN,
    enqueue_valid_invoices,
    register_pending,
)
from amili_pipelines.warehouse import open_warehouse
from tests.registration.test_exactly_once_under_faults import se_client
from tests.support.invoices import make_invoices

POST = ("POST", "/invoice--registrations")


def test_a_run_sends_an_invoice_amili_keeps_refusing_at_most_a_few_times(tmp_path, fresh_emulator, creditors):
    invoices = make_invoices(Market.SE, 5, prefix="DOWN")
    fresh_emulator.admin.set_faults(error_rates={500: 1.0}, methods=["POST"], path_prefixes=["/invoice--registrations"])

    async def go(wh):
        async with se_client(fresh_emulator) as se:
            return await register_pending(wh, creditors=creditors, se_client=se)

    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        summary = asyncio.run(go(wh))
        states = dict(wh.connection.execute("SELECT state, count(*) FROM registration_outbox GROUP BY state").fetchall())
    fresh_emulator.admin.clear_faults()
    assert fresh_emulator.admin.count(*POST) == MAX_SENDS_PER_RUN * len(invoices)
    assert summary.registered == 0
    assert states == {"pending": len(invoices)}, "left for the next run, not lost and not looping"


def test_refused_credentials_fail_the_run_and_the_next_run_resolves_by_lookup(tmp_path, fresh_emulator, creditors):
    invoices = make_invoices(Market.SE, 4, prefix="CRED")
    wrong = AmiliSeClient(base_url=fresh_emulator.base_url, api_code=SecretStr("not-the-code"), max_retries=0)

    async def go(wh, client):
        async with client as se:
            return await register_pending(wh, creditors=creditors, se_client=se)

    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        enqueue_valid_invoices(wh, invoices, creditors=creditors)
        with pytest.raises(AuthenticationFailed) as info:
            asyncio.run(go(wh, wrong))
        assert "not-the-code" not in str(info.value) and "not-the-code" not in repr(info.value)
        assert fresh_emulator.admin.count(*POST) == 0
        summary = asyncio.run(go(wh, se_client(fresh_emulator)))
        assert summary.registered == len(invoices)
    assert fresh_emulator.admin.count(*POST) == len(invoices)
