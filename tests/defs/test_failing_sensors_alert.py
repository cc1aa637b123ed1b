"""A sensor that fails on every tick reaches a person.

Amili unreachable: ``case_status_sensor`` fails each tick, starts no run, so no run fails and the
run alerts stay quiet. The daemon's own sensor iteration (Dagster's, in process, on a real instance)
records the failed ticks; ``alert_on_failing_sensors`` reads them and tells a person once per spell.
"""

from __future__ import annotations

import logging

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import (
    InProcessTestWorkspaceLoadTarget,
    create_test_daemon_workspace_context,
    instance_for_test,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.sensor import execute_sensor_iteration

from amili_pipelines.defs.operate.failing_sensors import alert_on_failing_sensors
from amili_pipelines.defs.resources import CreditorsResource
from amili_pipelines.emulator.testing import free_port
from amili_pipelines.settings import PROJECT_ROOT
from tests.support.receivers import webhook_receiver

pytestmark = pytest.mark.integration


def _tick_once(instance, sensor_name: str) -> None:
    """One iteration of the sensor daemon over the code location, with ``sensor_name`` started."""
    target = InProcessTestWorkspaceLoadTarget(InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="amili_pipelines.definitions", working_directory=str(PROJECT_ROOT)),
        location_name="amili_pipelines"))
    with create_test_daemon_workspace_context(target, instance) as context:
        location = context.create_request_context().get_code_location("amili_pipelines")
        repository = next(iter(location.get_repositories().values()))
        instance.start_sensor(repository.get_sensor(sensor_name))
        list(execute_sensor_iteration(context, logging.getLogger("sensor-daemon"), None, None))


def test_a_sensor_failing_on_every_tick_is_announced_once(tmp_path, monkeypatch):
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: Amili unreachable
    for key, value in {"AMILI_SE_BASE_URL": down, "AMILI_NO_BASE_URL": f"{down}/collection/v1",
                       "AMILI_NO_AUTH_URL": f"{down}/token", "AMILI_SE_API_CODE": "demo-api-code",
                       "AMILI_NO_CLIENT_SECRET": "demo-secret", "AMILI_DUCKDB_PATH": str(tmp_path / "amili.duckdb"),
                       "AMILI_CREDITORS_FILE": str(PROJECT_ROOT / "creditors.yaml")}.items():
        monkeypatch.setenv(key, value)
    resources = {"creditors": CreditorsResource(path=str(PROJECT_ROOT / "creditors.yaml"))}
    with instance_for_test() as instance:
        _tick_once(instance, "case_status_sensor")

        with webhook_receiver() as (url, hook):
            monkeypatch.setenv("AMILI_ALERT_WEBHOOK_URL", f"{url}/hook")
            young = dg.build_sensor_context(instance=instance, resources=resources)
            assert isinstance(alert_on_failing_sensors(young), dg.SkipReason), "30 minutes by default: not yet"

            monkeypatch.setenv("AMILI_FAILING_SENSOR_MINUTES", "0")
            context = dg.build_sensor_context(instance=instance, resources=resources)
            assert alert_on_failing_sensors(context) is None
            [post] = hook.posts
            assert "A sensor keeps failing" in post["text"]
            assert "case_status_sensor has failed on every tick since" in post["text"]
            assert "AllSourcesFailed" in post["text"] or "could not" in post["text"].lower(), post["text"]
            assert "demo-secret" not in post["text"] and "demo-api-code" not in post["text"]

            again = dg.build_sensor_context(instance=instance, cursor=context.cursor, resources=resources)
            assert isinstance(alert_on_failing_sensors(again), dg.SkipReason), "once per failing spell"
            assert len(hook.posts) == 1
