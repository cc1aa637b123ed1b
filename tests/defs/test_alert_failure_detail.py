"""A failed run's alert says why each step failed (Amili refused the credentials), not only which
steps failed: the person who reads it at night knows what to fix without opening the UI."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from amili_pipelines.defs.operate.alerts import alert_on_failed_run
from amili_pipelines.headless import run_daily_job
from tests.defs.test_alerts import HOOK_TOKEN, _creditors, _failure_event, channels  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def test_a_failed_runs_alert_names_each_failed_step_and_its_error(pipeline_env, channels, monkeypatch):  # noqa: F811
    hook, _ = channels
    monkeypatch.setenv("AMILI_SE_API_CODE", "refused-api-code")
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_daily_job(partition=date.today(), instance=instance)
        assert not outcome.success
        assert outcome.failed_steps["register__amili_se_registrations"].startswith("AuthenticationFailed: ")
        run = instance.get_run_by_id(outcome.run_id)
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_failed_run", dagster_instance=instance, dagster_run=run,
            dagster_event=_failure_event(instance, run.run_id), resources=_creditors()).for_run_failure()
        assert alert_on_failed_run(context) is None
    [post] = hook.posts
    assert ("- step register__amili_se_registrations: AuthenticationFailed: POST /authenticates/api-code: "
            "HTTP 401: Please provide proper credentials") in post["text"], post["text"]
    assert "refused-api-code" not in post["text"] and HOOK_TOKEN not in post["text"]
