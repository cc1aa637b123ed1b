"""A registration run in its own process, so a test can SIGKILL it mid-flight.

usage: python -m tests.registration.register_worker STORE (DuckDB path or PostgreSQL URL) SE_BASE_URL NO_BASE_URL NO_AUTH_URL N_PER_MARKET
"""

from __future__ import annotations

import asyncio
import sys
import time

from pydantic import SecretStr

from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.batches import settle_waiting_batches
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.settings import PROJECT_ROOT, load_creditors
from amili_pipelines.warehouse import open_warehouse
from tests.support.invoices import make_invoices


async def main(db: str, se_url: str, no_url: str, auth_url: str, n: int) -> None:
    creditors = load_creditors(PROJECT_ROOT / "creditors.yaml")
    with open_warehouse(db) as wh:
        enqueue_valid_invoices(wh, make_invoices(Market.SE, n) + make_invoices(Market.NO, n), creditors=creditors)
        async with (
            AmiliSeClient(base_url=se_url, api_code=SecretStr("demo-api-code"), requests_per_second=250,
                          max_concurrency=16, max_retries=8, backoff_base=0.02, backoff_cap=0.5) as se,
            AmiliNoClient(base_url=no_url, auth_url=auth_url, client_id="demo-client",
                          client_secret=SecretStr("demo-secret"), requests_per_second=50, max_concurrency=4,
                          max_retries=8, backoff_base=0.02, backoff_cap=0.5) as no,
        ):
            # Until every invoice is registered: other runs may hold some rows for a while (parallel
            # runs on PostgreSQL), or a dead run's rows wait for their lease to pass.
            deadline = time.monotonic() + 240
            while True:
                await register_pending(wh, creditors=creditors, se_client=se, no_client=no, chunk_size=100,
                                       no_batch_size=25)
                await settle_waiting_batches(wh, creditors=creditors, no_client=no, timeout_s=30, poll_s=0.1)
                left = wh.connection.execute("SELECT count(*) FROM registration_outbox WHERE state <> 'registered'").fetchone()[0]
                if not left or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
    print("done", flush=True)


if __name__ == "__main__":
    db, se_url, no_url, auth_url, n = sys.argv[1:6]
    asyncio.run(main(db, se_url, no_url, auth_url, int(n)))
