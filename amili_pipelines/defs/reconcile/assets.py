"""Reconciliation assets: each body opens the warehouse, calls one use case, returns its metadata."""


import asyncio
from contextlib import AsyncExitStack

import dagster as dg

from amili_pipelines.defs.partitions import DUCKDB_WRITER_POOL
from amili_pipelines.defs.reconcile.keys import (
    AMILI_CASES,
    CASE_ACTIONS,
    NO_REGISTRATIONS,
    NORWAY_BATCH_RESULTS,
    RECONCILIATION,
    SE_REGISTRATIONS,
    SETTLEMENT_LINES,
)
from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource, CreditorsResource, WarehouseResource
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.actions import report_back_to_amili
from amili_pipelines.reconciliation.batches import record_finished_batches
from amili_pipelines.reconciliation.cases import sync_cases
from amili_pipelines.reconciliation.reconcile import reconcile
from amili_pipelines.reconciliation.settlements import store_settlements

_COMMON = dict(group_name="reconcile", kinds={"duckdb", "amili"}, pool=DUCKDB_WRITER_POOL)


class BatchRefConfig(dg.Config):
    organization_id: str
    batch_id: str
    status: str = ""
    type: str = ""


class BatchResultsConfig(dg.Config):
    batches: list[BatchRefConfig] = []


def _markets(creditors_file) -> set[Market]:
    return {c.market for c in creditors_file.creditors}


async def _with_clients(fn, *, markets: set[Market], amili_se: AmiliSeResource, amili_no: AmiliNoResource):
    async with AsyncExitStack() as stack:
        se = await stack.enter_async_context(amili_se.client()) if Market.SE in markets else None
        no = await stack.enter_async_context(amili_no.client()) if Market.NO in markets else None
        return await fn(se, no)


@dg.asset(
    key=NORWAY_BATCH_RESULTS,
    deps=[NO_REGISTRATIONS],
    description=(
        "Outcome of every finished Norwegian batch: the case id of each invoice Amili accepted, Amili's own "
        "reasons for each one it refused, and the result of payments and credit notes we reported back. "
        "Started by the batch-status sensor when Amili finishes a batch; also picks up any batch still awaited."
    ),
    **_COMMON,
)
def norway_batch_results(
    context: dg.AssetExecutionContext, config: BatchResultsConfig, warehouse: WarehouseResource,
    creditors: CreditorsResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    refs = [(b.organization_id, b.batch_id) for b in config.batches]

    async def go():
        async with amili_no.client() as no:
            with warehouse.connect() as conn:
                return await record_finished_batches(conn, no_client=no, creditors=creditors_file, batches=refs,
                                                     run_id=context.run.run_id)

    summary = asyncio.run(go())
    return dg.MaterializeResult(metadata=summary.metadata())


@dg.asset(
    key=AMILI_CASES,
    deps=[SE_REGISTRATIONS, NO_REGISTRATIONS],
    description=(
        "Every collection case at Amili, both markets: its stage (invoice, reminder, debt collection), status, "
        "what capital, interest and fees remain, and whether and why it closed (paid, credited, cancelled, "
        "withdrawn). Only cases changed since the last read are fetched from Sweden."
    ),
    **_COMMON,
)
def amili_cases(
    warehouse: WarehouseResource, creditors: CreditorsResource, amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()

    async def go(se, no):
        with warehouse.connect() as conn:
            return await sync_cases(conn, creditors=creditors_file, se_client=se, no_client=no)

    summary = asyncio.run(_with_clients(go, markets=_markets(creditors_file), amili_se=amili_se, amili_no=amili_no))
    return dg.MaterializeResult(metadata={**summary.metadata(), "dagster/row_count": summary.se_cases_seen + summary.no_cases_seen})


@dg.asset(
    key=SETTLEMENT_LINES,
    deps=[AMILI_CASES],
    description=(
        "The money Amili collected and passes on: one line per Norwegian settlement and per Swedish payout "
        "specification line, split into principal, interest, fees, Amili's commission and VAT, and the amount "
        "paid out to the creditor; plus the Swedish payouts (bank transfers) that carry them. Each line is "
        "stored once, by Amili's own id, however often it is read."
    ),
    **_COMMON,
)
def settlement_lines(
    warehouse: WarehouseResource, creditors: CreditorsResource, amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()

    async def go(se, no):
        with warehouse.connect() as conn:
            return await store_settlements(conn, creditors=creditors_file, se_client=se, no_client=no)

    summary = asyncio.run(_with_clients(go, markets=_markets(creditors_file), amili_se=amili_se, amili_no=amili_no))
    return dg.MaterializeResult(metadata={**summary.metadata(), "dagster/row_count": summary.lines_total})


@dg.asset(
    key=CASE_ACTIONS,
    deps=[AMILI_CASES, SETTLEMENT_LINES],
    description=(
        "What the creditor's own books say happened to an invoice Amili is collecting — paid directly, credited, "
        "cancelled — reported to Amili exactly once (Sweden: creditor payments, creditings, cancellations; "
        "Norway: payments, corrections, withdrawal)."
    ),
    **_COMMON,
)
def case_actions(
    warehouse: WarehouseResource, creditors: CreditorsResource, amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()

    async def go(se, no):
        with warehouse.connect() as conn:
            return await report_back_to_amili(conn, creditors=creditors_file, se_client=se, no_client=no)

    summary = asyncio.run(_with_clients(go, markets=_markets(creditors_file), amili_se=amili_se, amili_no=amili_no))
    return dg.MaterializeResult(metadata=summary.metadata())


@dg.asset(
    key=RECONCILIATION,
    deps=[AMILI_CASES, SETTLEMENT_LINES, CASE_ACTIONS, NORWAY_BATCH_RESULTS],
    description=(
        "Per case and per creditor: the capital we claimed against what Amili paid out (principal, interest, fees, "
        "its commission and VAT), what was paid directly, credited, cancelled, and what is still outstanding; "
        "each case open, partly paid, settled or closed without payment; and every discrepancy found."
    ),
    **_COMMON,
)
def reconciliation(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        summary = reconcile(conn)
    return dg.MaterializeResult(
        metadata={
            **summary.metadata(),
            "dagster/row_count": summary.cases,
            "summary": dg.MetadataValue.md(f"```\n{summary.render()}\n```"),
        }
    )
