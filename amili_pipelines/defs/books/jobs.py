"""The books on their own: ``amili-pipelines books`` runs this job (re-run a day, or a period's workbook)."""

import dagster as dg

from amili_pipelines.defs.books.assets import BOOKS_KEYS
from amili_pipelines.defs.reconcile.checks import MONEY_GATES

BOOKS_JOB = "books_job"

books_job = dg.define_asset_job(
    name=BOOKS_JOB,
    # The money checks on the stored reconciliation gate the books here too: never files from wrong figures.
    selection=dg.AssetSelection.assets(*BOOKS_KEYS) | dg.AssetSelection.checks(*MONEY_GATES),
    description="Write what the creditors' ERP and ledger need back, the controllers' workbooks and the report. "
                "Not written while a blocking money check on the reconciliation fails.",
    tags={"amili/stage": "books"},
)
