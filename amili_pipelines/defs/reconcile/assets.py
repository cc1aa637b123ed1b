"""Reconciliation assets: each body opens the warehouse and the clients, calls a use case, returns metadata."""

from datetime import timedelta

import dagster as dg

from amili_pipelines.amili.clients import AmiliClients
from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import (
    AmiliNoResource,
    AmiliSeResource,
    CreditorsResource,
    WarehouseResource,
    run_with_clients,
)
from amili_pipelines.reconciliation.actions import (
    confirm_action_batches,
    report_back_to_amili,
)
from amili_pipelines.reconciliation.cases import CaseRef, sync_cases, sync_named_no_cases
from amili_pipelines.reconciliation.reconcile import reconcile
from amili_pipelines.reconciliation.settlements import store_settlements
from amili_pipelines.registration.batches import record_finished_batches
from amili_pipelines.settings import Settings

NORWAY_BATCH_RESULTS = dg.AssetKey(["reconcile", "norway_batch_results"])
AMILI_CASES = dg.AssetKey(["reconcile", "amili_cases"])
SETTLEMENT_LINES = dg.AssetKey(["reconcile", "settlement_lines"])
CASE_ACTIONS = dg.AssetKey(["reconcile", "case_actions"])
RECONCILIATION = dg.AssetKey(["reconcile", "reconciliation"])

_COMMON = dict(group_name="reconcile", kinds={"duckdb", "amili"}, pool=WRITER_POOL)


class BatchRefConfig(dg.Config):
    organization_id: str
    batch_id: str
    status: str = ""
    type: str = ""


class BatchResultsConfig(dg.Config):
    batches: list[BatchRefConfig] = []


class ReconciliationConfig(dg.Config):
    full: bool = False  # recompute every case, not only those whose facts changed (same result, slower)


class CaseRefConfig(dg.Config):
    organization_id: str
    case_id: str = ""
    case_number: str = ""


class CasesConfig(dg.Config):
    """Empty: every changed case is read. Named (by webhooks): just those Norwegian cases."""

    norway_cases: list[CaseRefConfig] = []


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
    creditors: CreditorsResource, amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    refs = [(b.organization_id, b.batch_id) for b in config.batches]

    async def work(clients: AmiliClients) -> dict:
        if clients.no is None:
            return {"batches_checked": 0}
        with warehouse.open(log=context.log.warning) as wh:
            invoices = await record_finished_batches(wh, no_client=clients.no, creditors=creditors_file,
                                                     batches=refs, run_id=context.run.run_id)
            actions = await confirm_action_batches(wh, no_client=clients.no, creditors=creditors_file)
        return {**invoices.metadata(), "action_batches_sent": actions.action_batches_sent,
                "action_batches_rejected": actions.action_batches_rejected}

    metadata = run_with_clients(work, creditors=creditors_file, amili_se=amili_se, amili_no=amili_no)
    if metadata.get("batches_failed"):
        # The readable batches are recorded; the run still fails, so what started it (a webhook's
        # claim, a sensor's request) is asked for again rather than taken as done.
        raise dg.Failure(description=f"{metadata['batches_failed']} Norwegian batch(es) could not be read: "
                                     f"{metadata['failed_batches']}", metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=AMILI_CASES,
    deps=[SE_REGISTRATIONS, NO_REGISTRATIONS],
    description=(
        "Every collection case at Amili, both markets: its stage (invoice, reminder, debt collection), status, "
        "what capital, interest and fees remain, and whether and why it closed (paid, credited, cancelled, "
        "withdrawn). Only cases changed since the last read are fetched from Sweden; when Amili Norway pushed "
        "which cases changed, only those are read."
    ),
    **_COMMON,
)
def amili_cases(
    context: dg.AssetExecutionContext, config: CasesConfig, warehouse: WarehouseResource,
    creditors: CreditorsResource, amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    named = [CaseRef(c.organization_id, c.case_id or None, c.case_number or None) for c in config.norway_cases]

    async def work(clients: AmiliClients):
        with warehouse.open(log=context.log.warning) as wh:
            if named and clients.no is not None:
                return await sync_named_no_cases(wh, creditors=creditors_file, no_client=clients.no, cases=named)
            return await sync_cases(wh, creditors=creditors_file, se_client=clients.se, no_client=clients.no)

    summary = run_with_clients(work, creditors=creditors_file, amili_se=amili_se, amili_no=amili_no)
    return dg.MaterializeResult(
        metadata={**summary.metadata(), "dagster/row_count": summary.se_cases_seen + summary.no_cases_seen})


@dg.asset(
    key=SETTLEMENT_LINES,
    deps=[AMILI_CASES],
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=Settings().stale_settlement_hours)),
    description=(
        "The money Amili collected and passes on: one line per Norwegian settlement and per Swedish payout "
        "specification line, split into principal, interest, fees, Amili's commission and VAT, and the amount "
        "paid out to the creditor; plus the Swedish payouts (bank transfers) that carry them. Each line is "
        "stored once, by Amili's own id, however often it is read."
    ),
    **_COMMON,
)
def settlement_lines(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource,
    amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()

    async def work(clients: AmiliClients):
        with warehouse.open(log=context.log.warning) as wh:
            return await store_settlements(wh, creditors=creditors_file, se_client=clients.se, no_client=clients.no,
                                           no_lookback_days=Settings().no_settlement_lookback_days)

    summary = run_with_clients(work, creditors=creditors_file, amili_se=amili_se, amili_no=amili_no)
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
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource,
    amili_se: AmiliSeResource, amili_no: AmiliNoResource,
) -> dg.MaterializeResult:
    creditors_file = creditors.load()

    async def work(clients: AmiliClients):
        with warehouse.open(log=context.log.warning) as wh:
            return await report_back_to_amili(wh, creditors=creditors_file, se_client=clients.se,
                                              no_client=clients.no)

    summary = run_with_clients(work, creditors=creditors_file, amili_se=amili_se, amili_no=amili_no)
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
def reconciliation(context: dg.AssetExecutionContext, config: ReconciliationConfig, warehouse: WarehouseResource,
                   creditors: CreditorsResource) -> dg.MaterializeResult:
    grace_days = creditors.load().grace_days()
    with warehouse.open(log=context.log.warning) as wh:
        summary = reconcile(wh, grace_days=grace_days, full=config.full)
    return dg.MaterializeResult(
        metadata={
            **summary.metadata(),
            "dagster/row_count": summary.cases,
            "summary": dg.MetadataValue.md(f"```\n{summary.render()}\n```"),
        }
    )
