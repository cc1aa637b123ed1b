"""A snapshot of everything the code location defines, in the style of dagster-open-platform.

Any change to an asset's key, group, kinds, description, dependencies, partitions, backfill
policy, freshness or pool, to a check, job, schedule or sensor shows up as a diff of
``__snapshots__/test_asset_specs.ambr``: review it, then ``pytest tests/defs --snapshot-update``.
"""

from __future__ import annotations

from typing import Any

import pytest

from amili_pipelines.definitions import build_definitions


@pytest.fixture(scope="module")
def defs():
    return build_definitions()


def _partitions(partitions_def: Any) -> str | None:
    return None if partitions_def is None else str(partitions_def)


def test_asset_specs(defs, snapshot):
    graph = defs.resolve_asset_graph()
    specs = {}
    for assets_def in graph.assets_defs:
        for spec in assets_def.specs:
            specs[spec.key.to_user_string()] = {
                "group": spec.group_name,
                "kinds": sorted(spec.kinds),
                "description": spec.description,
                "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
                "partitions": _partitions(spec.partitions_def),
                "backfill_policy": str(assets_def.backfill_policy) if assets_def.backfill_policy else None,
                "pool": assets_def.op.pool,
                "freshness": str(spec.freshness_policy) if spec.freshness_policy else None,
                "checks": sorted(
                    (c.name, c.blocking, c.description) for c in assets_def.check_specs
                ),
            }
    assert specs == snapshot


def test_checks_jobs_schedules_and_sensors(defs, snapshot):
    repo = defs.get_repository_def()
    checks = {}
    for checks_def in repo.asset_checks_defs_by_key.values():
        for spec in checks_def.check_specs:
            checks[f"{spec.asset_key.to_user_string()}:{spec.name}"] = {
                "blocking": spec.blocking, "description": spec.description, "pool": checks_def.op.pool,
            }
    jobs = {
        job.name: sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        for job in repo.get_all_jobs() if not job.name.startswith("__")
    }
    schedules = {s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name,
                          "default_status": str(s.default_status)} for s in repo.schedule_defs}
    sensors = {s.name: {"job": (s.job_name if len(s.targets) == 1 else sorted(t.job_name for t in s.targets))
                        if s.has_jobs else None,
                        "minimum_interval_seconds": s.minimum_interval_seconds,
                        "default_status": str(s.default_status), "resources": sorted(s.required_resource_keys)}
               for s in repo.sensor_defs}
    assert {"checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors} == snapshot
