"""The validate stage: one asset over every extract asset of the creditors file."""

import dagster as dg

from amili_pipelines.defs.extract.assets import extract_asset_keys
from amili_pipelines.defs.validate.assets import build_validate_asset
from amili_pipelines.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_validate_asset(extract_asset_keys(Settings().creditors))])
