"""The books on their own: ``amili-pipelines books`` runs this job (re-run a day, or a period's workbook)."""

import dagster as dg

from amili_pipelines.defs.books.assets import BOOKS_KEYS

BOOKS_JOB = "books_job"

books_job = dg.define_asset_job(
    name=BOOKS_JOB,
    selection=dg.AssetSelection.assets(*BOOKS_KEYS),
    description="Write what the creditors' ERP and ledger need back, the controllers' workbooks and the report.",
    tags={"amili/stage": "books"},
)
