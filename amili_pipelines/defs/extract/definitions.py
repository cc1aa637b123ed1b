"""The extract stage: one asset per source in the creditors file (read when the code location loads)."""

import dagster as dg

from amili_pipelines.defs.extract.assets import build_extract_assets
from amili_pipelines.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=build_extract_assets(Settings().creditors))
