"""The Dagster layer: thin assets, checks, sensors and schedules over the use cases."""

import warnings

import dagster as dg

# Single-run backfills (BackfillPolicy) are "beta" in Dagster 1.13; we rely on them knowingly, and
# the warning would otherwise repeat for every asset in every log and CLI run.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
