"""The books stage: ERP feedback files, SIE / journal files, controllers' workbooks, the report."""

import dagster as dg

from amili_pipelines.defs.books.assets import controller_workbooks, erp_feedback_files, ledger_files, report
from amili_pipelines.defs.books.jobs import books_job


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[erp_feedback_files, ledger_files, controller_workbooks, report], jobs=[books_job])
