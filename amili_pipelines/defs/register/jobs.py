"""The daily chain a finance team runs: extract, validate, register (and publish for analysts)."""

import dagster as dg

EXTRACT_VALIDATE_REGISTER_JOB = "extract_validate_register"

extract_validate_register_job = dg.define_asset_job(
    name=EXTRACT_VALIDATE_REGISTER_JOB,
    selection=dg.AssetSelection.groups("extract", "validate", "register", "publish", "books"),
    description="Read every configured source for the day, validate, register what is valid with Amili, "
    "refresh the analysts' published database, the files for the creditors' books and the report.",
)
