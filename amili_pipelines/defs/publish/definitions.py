"""Definitions of the publish stage, merged into the code location by ``amili_pipelines.definitions``."""

from __future__ import annotations

import dagster as dg

from amili_pipelines.defs.publish.assets import analytics_snapshot


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[analytics_snapshot])
