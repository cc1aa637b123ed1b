"""Running the Dagster jobs without the UI: the same assets, checks and resources, in this process.

``make demo`` and ``amili-pipelines run`` use this. With ``DAGSTER_HOME`` set the run is recorded
in that instance and takes part in its pools, so it shows up in ``make dev``'s UI afterwards. A
run whose process died never blocks the next one (:mod:`amili_pipelines.headless.guard`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from amili_pipelines.defs.books.jobs import BOOKS_JOB
from amili_pipelines.defs.operate.alerts import error_summary
from amili_pipelines.defs.reconcile.jobs import FOLLOWUP_JOB
from amili_pipelines.defs.register.jobs import EXTRACT_VALIDATE_REGISTER_JOB
from amili_pipelines.defs.run_tags import own_tags
from amili_pipelines.headless.guard import (
    Watchdog,
    ensure_pool_limit,
    reap_dead_runs,
    wait_for_writer_slot,
)
from amili_pipelines.settings import Settings

Say = Callable[[str], None]


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
    job: str
    partition: str | None
    metadata: dict[str, dict] = field(default_factory=dict)  # asset key -> materialization metadata (plain values)
    failed_checks: list[str] = field(default_factory=list)
    recovered_runs: list[str] = field(default_factory=list)  # dead runs this run marked failed first
    failed_steps: dict[str, str] = field(default_factory=dict)  # step key -> its error, one line
    interrupted: bool = False  # stopped by Ctrl-C / SIGINT: not a failure of the pipeline


def _set_up_key() -> tuple:
    """What the code location is built from: the environment and the creditors file (its sources
    become assets). Unchanged, the definitions already built in this process are reused."""
    from amili_pipelines.settings import PROJECT_ROOT

    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("AMILI_", "DAGSTER_"))))
    files = []
    for path in (Path(Settings().creditors_file), Path.cwd() / ".env", PROJECT_ROOT / ".env"):
        try:
            st = path.stat()
            files.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            files.append((str(path), None, None))
    return env, tuple(files)


_DEFINITIONS: dict[tuple, dg.Definitions] = {}


def definitions() -> dg.Definitions:
    """The code location's definitions, built once per process for the same environment and
    creditors file (loading them takes a noticeable share of a small run)."""
    from amili_pipelines.definitions import build_definitions

    key = _set_up_key()
    if key not in _DEFINITIONS:
        _DEFINITIONS.clear()
        _DEFINITIONS[key] = build_definitions()
    return _DEFINITIONS[key]


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


@contextmanager
def open_instance(instance: dg.DagsterInstance | None = None) -> Iterator[dg.DagsterInstance]:
    """``instance`` if given; else the ``DAGSTER_HOME`` instance (an ephemeral one without it),
    disposed at the end. Several runs in one block share it (its storages are set up once)."""
    if instance is not None:
        yield instance
        return
    own = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    try:
        yield own
    finally:
        own.dispose()


def _quiet(_: str) -> None:
    pass


def run_job(
    job_name: str, *, partition: date | None = None, run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None, log_level: str = "INFO", say: Say = _quiet,
) -> RunOutcome:
    """Execute one job of the code location in this process and report what it materialized.

    Dead runs of this host are cleaned up first and a live holder of the writer slot is waited
    for (bounded, with ``say`` telling who holds it); a bound passed raises ``PoolBusy``.
    """
    export_secret_env(Settings())
    job = definitions().resolve_job_def(job_name)
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}}
    with open_instance(instance) as inst:
        ensure_pool_limit(inst)
        recovered = reap_dead_runs(inst, say)
        wait_for_writer_slot(inst, say)
        run_id = str(uuid.uuid4())
        with Watchdog(inst, run_id, say):
            result = job.execute_in_process(
                partition_key=partition.isoformat() if partition else None, instance=inst, raise_on_error=False,
                run_config=config, run_id=run_id, tags=own_tags(),
            )
    metadata: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        metadata[mat.asset_key.to_user_string()] = {k: _plain(v) for k, v in mat.metadata.items()}
    failed = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in result.get_asset_check_evaluations()
              if not e.passed]
    steps = {e.step_key: error_summary(e.step_failure_data.error) for e in result.all_events if e.is_step_failure}
    errors = [getattr(e.event_specific_data, "error", None) for e in result.all_events
              if e.is_step_failure or e.event_type == dg.DagsterEventType.RUN_FAILURE]
    interrupted = any(getattr(err, "cls_name", None) == "DagsterExecutionInterruptedError" for err in errors)
    return RunOutcome(success=result.success, run_id=result.run_id, job=job_name,
                      partition=partition.isoformat() if partition else None, metadata=metadata, failed_checks=failed,
                      recovered_runs=recovered, failed_steps=steps, interrupted=interrupted)


def run_daily_job(
    *, partition: date, instance: dg.DagsterInstance | None = None, wait_for_batches_s: float = 0.0,
    log_level: str = "INFO", say: Say = _quiet,
) -> RunOutcome:
    """The daily hand-over (extract, validate, register, publish) for one partition.

    ``wait_for_batches_s`` > 0 makes the Norwegian registration wait that long for its batches to
    finish, as the batch-status sensor would record them under the Dagster daemon.
    """
    run_config = {"ops": {"register__amili_no_registrations": {"config": {"wait_for_batches_s": wait_for_batches_s}}}}
    return run_job(EXTRACT_VALIDATE_REGISTER_JOB, partition=partition, run_config=run_config, instance=instance,
                   log_level=log_level, say=say)


def run_followup_job(*, instance: dg.DagsterInstance | None = None, log_level: str = "INFO",
                     say: Say = _quiet) -> RunOutcome:
    """Everything after registration: batches, cases, settlements, report-back, reconciliation, publish."""
    return run_job(FOLLOWUP_JOB, instance=instance, log_level=log_level, say=say)


def run_books_job(*, day: date | None = None, periods: list[str] | None = None,
                  instance: dg.DagsterInstance | None = None, log_level: str = "INFO", say: Say = _quiet) -> RunOutcome:
    """The files for the creditors' books, the workbooks and the report; ``day`` re-runs a past day."""
    day_config = {"config": {"day": day.isoformat() if day else ""}}
    run_config = {"ops": {
        "books__erp_feedback_files": day_config, "books__ledger_files": day_config,
        "books__controller_workbooks": {"config": {"as_of": day.isoformat() if day else "", "periods": periods or []}},
    }}
    return run_job(BOOKS_JOB, run_config=run_config, instance=instance, log_level=log_level, say=say)
