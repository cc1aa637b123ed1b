"""Running the Dagster job without the UI: the same assets, checks and resources, in this process.

``make demo`` and ``amili-pipelines run`` use this. With ``DAGSTER_HOME`` set the run is recorded
in that instance, so it shows up in ``make dev``'s UI afterwards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import dagster as dg

from amili_pipelines.config import Settings


def export_secret_env(settings: Settings) -> None:
    """Resources read secrets through dg.EnvVar; make sure the configured values are in the environment.

    Values already set (or loaded from .env by pydantic-settings) win; nothing is printed.
    """
    os.environ.setdefault("AMILI_SE_API_CODE", settings.se_api_code.get_secret_value())
    os.environ.setdefault("AMILI_NO_CLIENT_SECRET", settings.no_client_secret.get_secret_value())


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    partition: str
    metadata: dict[str, dict]  # asset key -> materialization metadata (plain values)
    failed_checks: list[str]


def _plain(value):
    return getattr(value, "value", value)


def run_daily_job(
    *, partition: date, settings: Settings | None = None, instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
) -> RunOutcome:
    from amili_pipelines.definitions import build_definitions
    from amili_pipelines.defs.register.jobs import EXTRACT_VALIDATE_REGISTER_JOB

    settings = settings or Settings()
    export_secret_env(settings)
    defs = build_definitions(settings)
    job = defs.resolve_job_def(EXTRACT_VALIDATE_REGISTER_JOB)
    own_instance = instance is None
    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    try:
        result = job.execute_in_process(
            partition_key=partition.isoformat(), instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        metadata: dict[str, dict] = {}
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            metadata[mat.asset_key.to_user_string()] = {k: _plain(v) for k, v in mat.metadata.items()}
        failed = [
            f"{e.asset_key.to_user_string()}:{e.check_name}"
            for e in result.get_asset_check_evaluations()
            if not e.passed
        ]
        return RunOutcome(success=result.success, run_id=result.run_id, partition=partition.isoformat(),
                          metadata=metadata, failed_checks=failed)
    finally:
        if own_instance:
            instance.dispose()
