"""The register stage: both markets' registration assets, their checks, the daily job and its schedule."""

import dagster as dg

from amili_pipelines.defs.register.assets import (
    amili_no_registrations,
    amili_se_registrations,
)
from amili_pipelines.defs.register.checks import (
    no_no_invoice_with_two_cases,
    se_no_invoice_with_two_cases,
)
from amili_pipelines.defs.register.jobs import extract_validate_register_job
from amili_pipelines.defs.register.schedules import build_register_schedule
from amili_pipelines.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[amili_se_registrations, amili_no_registrations],
        asset_checks=[se_no_invoice_with_two_cases, no_no_invoice_with_two_cases],
        jobs=[extract_validate_register_job],
        schedules=[build_register_schedule(Settings().timezone)],
    )
