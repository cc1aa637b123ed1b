"""Issue 'Exactly-once registration': re-materializing and backfilling registered partitions sends nothing."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from amili_pipelines.definitions import build_definitions
from amili_pipelines.defs.register.jobs import EXTRACT_VALIDATE_REGISTER_JOB
from amili_pipelines.headless import export_secret_env, run_daily_job
from amili_pipelines.settings import Settings

SE_POST = ("POST", "/invoice--registrations")
NO_POST = ("POST", "/collection/v1/orgs/{org}/invoices")


def _posts(emu) -> tuple[int, int]:
    return emu.admin.count(*SE_POST), emu.admin.count(*NO_POST)


def test_rematerialize_and_backfill_send_zero_registrations(pipeline_env, fresh_emulator):
    settings = Settings()
    today = date.today()
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_daily_job(partition=today, instance=instance)
        assert first.success
        se_posts, no_posts = _posts(fresh_emulator)
        assert se_posts > 100 and no_posts > 0

        # Re-materialize only the register assets for the same partition.
        export_secret_env(settings)
        defs = build_definitions()
        register_job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey(["register", "amili_se_registrations"]),
                             dg.AssetKey(["register", "amili_no_registrations"])})
        again = register_job.execute_in_process(partition_key=today.isoformat(), instance=instance)
        assert again.success
        assert _posts(fresh_emulator) == (se_posts, no_posts)

        # A single-run backfill over the last week of partitions.
        job = defs.resolve_job_def(EXTRACT_VALIDATE_REGISTER_JOB)
        backfill = job.execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": (today - timedelta(days=6)).isoformat(),
                  "dagster/asset_partition_range_end": today.isoformat()},
        )
        assert backfill.success
        assert _posts(fresh_emulator) == (se_posts, no_posts)
        mats = [e.step_materialization_data.materialization for e in backfill.get_asset_materialization_events()]
        sent = [m.metadata["sent"].value for m in mats if m.asset_key.path[0] == "register"]
        assert sent and all(s == 0 for s in sent)
