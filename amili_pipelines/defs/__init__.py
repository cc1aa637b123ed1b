"""The Dagster layer: thin assets, checks, sensors and schedules over the use cases."""

import warnings

import dagster as dg

from amili_pipelines.domain.masking import install_log_masking

# Single-run backfills (BackfillPolicy) are "beta" in Dagster 1.13; we rely on them knowingly, and
# the warning would otherwise repeat for every asset in every log and CLI run.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# Every log record of a process that loads the definitions (code server, run worker) is masked
# by content before Dagster stores it in the run's event log.
install_log_masking()
