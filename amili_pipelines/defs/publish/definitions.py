"""The publish stage: the analysts' database."""

import dagster as dg

from amili_pipelines.defs.publish.assets import analytics_snapshot


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[analytics_snapshot])
