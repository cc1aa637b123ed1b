"""The one Dagster code location, ``amili_pipelines`` (loaded by workspace.yaml and by ``dg``).

Each stage folder under ``defs/`` (extract, validate, register, reconcile, publish) has a
``definitions.py``; ``load_from_defs_folder`` merges them with the resources in
``defs/resources.py``. Paths and endpoints come from the environment (``AMILI_*``); secrets are
bound as ``dg.EnvVar`` and resolved only when a run starts.
"""

from pathlib import Path

import dagster as dg

import amili_pipelines.defs  # noqa: F401 - registers the warning filter before the stages load


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def build_definitions() -> dg.Definitions:
    """The code location's definitions, read from the current environment (headless runs, tests)."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
