"""Books assets: each body reads its config, opens the warehouse, calls one use case, returns metadata."""

from datetime import date

import dagster as dg

from amili_pipelines.books import write_erp_feedback, write_ledger, write_report, write_workbooks
from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.publish.assets import ANALYTICS_SNAPSHOT
from amili_pipelines.defs.reconcile.assets import (
    CASE_ACTIONS,
    NORWAY_BATCH_RESULTS,
    RECONCILIATION,
    SETTLEMENT_LINES,
)
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import BooksResource, CreditorsResource, WarehouseResource

ERP_FEEDBACK = dg.AssetKey(["books", "erp_feedback_files"])
LEDGER = dg.AssetKey(["books", "ledger_files"])
WORKBOOKS = dg.AssetKey(["books", "controller_workbooks"])
REPORT = dg.AssetKey(["books", "report"])
BOOKS_KEYS = [ERP_FEEDBACK, LEDGER, WORKBOOKS, REPORT]

_COMMON = dict(group_name="books", pool=WRITER_POOL)


class BooksDayConfig(dg.Config):
    day: str = ""  # YYYY-MM-DD; empty: today. Re-running a past day rebuilds its files byte for byte.

    def as_date(self) -> date | None:
        return date.fromisoformat(self.day) if self.day else None


class WorkbookConfig(dg.Config):
    as_of: str = ""  # YYYY-MM-DD; empty: today
    periods: list[str] = []  # YYYY-MM or YYYY; empty: the as-of month and year


@dg.asset(
    key=ERP_FEEDBACK,
    deps=[SE_REGISTRATIONS, NO_REGISTRATIONS, NORWAY_BATCH_RESULTS, CASE_ACTIONS, RECONCILIATION],
    kinds={"csv", "excel"},
    description=(
        "Files the creditor's ERP imports, per creditor and day (books/<creditor>/erp, listed in manifest.json): "
        "invoices handed over to Amili, money received via Amili (capital, interest, fees, commission, VAT, payout "
        "date and reference), cases closed without payment, and direct payments, credits and cancellations "
        "reported to Amili. Each fact is in exactly one file; re-running a day rebuilds the same bytes."
    ),
    **_COMMON,
)
def erp_feedback_files(context: dg.AssetExecutionContext, config: BooksDayConfig, warehouse: WarehouseResource,
                       creditors: CreditorsResource, books: BooksResource) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    with warehouse.open(log=context.log.warning) as wh:
        summary = write_erp_feedback(wh, creditors=creditors_file, books_dir=books.books_dir, day=config.as_date())
    return dg.MaterializeResult(metadata={**summary.metadata(), "books_dir": dg.MetadataValue.path(books.books_dir)})


@dg.asset(
    key=LEDGER,
    deps=[SETTLEMENT_LINES, RECONCILIATION],
    kinds={"csv", "excel"},
    description=(
        "The ledger's side of every Amili payout, one verification each: capital against accounts receivable, "
        "Amili's commission and its VAT as cost and input VAT, the net to the bank. Sweden: SIE 4 import files "
        "(books/<creditor>/ledger/*.si, BAS accounts unless configured); Norway: the same journal as CSV and Excel. "
        "A payout is booked once, however often the day is run."
    ),
    **_COMMON,
)
def ledger_files(context: dg.AssetExecutionContext, config: BooksDayConfig, warehouse: WarehouseResource,
                 creditors: CreditorsResource, books: BooksResource) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    with warehouse.open(log=context.log.warning) as wh:
        summary = write_ledger(wh, creditors=creditors_file, books_dir=books.books_dir, day=config.as_date())
    return dg.MaterializeResult(metadata=summary.metadata())


@dg.asset(
    key=WORKBOOKS,
    deps=[RECONCILIATION],
    kinds={"excel"},
    description=(
        "An Excel workbook for controllers per creditor and period (this month and this year by default): totals, "
        "money per month, reconciliation per case, open cases with ageing, payouts and discrepancies; amounts in "
        "kr, frozen headers, filters, identity numbers masked. books/<creditor>/workbooks/<creditor>_<period>.xlsx."
    ),
    **_COMMON,
)
def controller_workbooks(context: dg.AssetExecutionContext, config: WorkbookConfig, warehouse: WarehouseResource,
                         creditors: CreditorsResource, books: BooksResource) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    as_of = date.fromisoformat(config.as_of) if config.as_of else None
    with warehouse.open(log=context.log.warning) as wh:
        summary = write_workbooks(wh, creditors=creditors_file, books_dir=books.books_dir, as_of=as_of,
                                  periods=config.periods or None)
    return dg.MaterializeResult(metadata=summary.metadata())


@dg.asset(
    key=REPORT,
    deps=[ANALYTICS_SNAPSHOT, ERP_FEEDBACK, LEDGER, WORKBOOKS],
    kinds={"html"},
    description=(
        "The report people look at, one self-contained HTML page per run (reports/latest.html is the newest): "
        "ageing of open claims, cash collected per month by kind, collection rate and time to payment per "
        "creditor, quarantine and rejections by rule over time, discrepancies and the files for the books. "
        "The same figures show here as a markdown summary."
    ),
    **_COMMON,
)
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, creditors: CreditorsResource,
           books: BooksResource) -> dg.MaterializeResult:
    creditors_file = creditors.load()
    with warehouse.open(log=context.log.warning) as wh:
        summary = write_report(wh, creditors=creditors_file, reports_dir=books.reports_dir,
                               books_dir=books.books_dir, keep=books.reports_keep)
    return dg.MaterializeResult(metadata={
        **summary.metadata(), "latest": dg.MetadataValue.path(summary.latest),
        "summary": dg.MetadataValue.md(summary.markdown)})
