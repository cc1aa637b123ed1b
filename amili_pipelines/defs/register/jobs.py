"""The daily chain a finance team runs: extract, validate, register (and publish for analysts)."""

import dagster as dg

from amili_pipelines.defs.reconcile.checks import MONEY_GATES

EXTRACT_VALIDATE_REGISTER_JOB = "extract_validate_register"

extract_validate_register_job = dg.define_asset_job(
    name=EXTRACT_VALIDATE_REGISTER_JOB,
    # The money checks on the stored reconciliation gate the books (and the published copy) here too.
    selection=dg.AssetSelection.groups("extract", "validate", "register", "publish", "books")
    | dg.AssetSelection.checks(*MONEY_GATES),
    description="Read every configured source for the day, validate, register what is valid with Amili, "
    "refresh the analysts' published database, the files for the creditors' books and the report. The books "
    "are not written while a blocking money check on the reconciliation fails.",
)
