"""Asset keys and job names of the follow-up stage (shared by assets, checks, sensors and jobs)."""

from __future__ import annotations

import dagster as dg

NORWAY_BATCH_RESULTS = dg.AssetKey(["reconcile", "norway_batch_results"])
AMILI_CASES = dg.AssetKey(["reconcile", "amili_cases"])
SETTLEMENT_LINES = dg.AssetKey(["reconcile", "settlement_lines"])
CASE_ACTIONS = dg.AssetKey(["reconcile", "case_actions"])
RECONCILIATION = dg.AssetKey(["reconcile", "reconciliation"])
ANALYTICS_SNAPSHOT = dg.AssetKey(["publish", "analytics_snapshot"])

# The lead's registration assets (defs/register/assets.py), for lineage only.
SE_REGISTRATIONS = dg.AssetKey(["register", "amili_se_registrations"])
NO_REGISTRATIONS = dg.AssetKey(["register", "amili_no_registrations"])

NORWAY_BATCH_RESULTS_JOB = "norway_batch_results_job"
SETTLEMENTS_JOB = "settlements_job"
CASE_STATUS_JOB = "case_status_job"
FOLLOWUP_JOB = "followup_job"
EXTRACT_VALIDATE_REGISTER_JOB = "extract_validate_register"  # defined by the lead in defs/register/jobs.py
