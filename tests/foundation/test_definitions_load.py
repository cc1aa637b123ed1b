"""The Dagster code location loads the way `make dev` loads it, with readable assets."""

from __future__ import annotations

import os
import subprocess
import sys

from amili_pipelines.config import PROJECT_ROOT


def test_workspace_validates_with_dagster_cli(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "AMILI_DUCKDB_PATH": str(tmp_path / "x.duckdb")}
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    proc = subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "amili_pipelines" in proc.stdout + proc.stderr


def test_assets_have_groups_and_descriptions_a_finance_person_can_read():
    from amili_pipelines.definitions import build_definitions

    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups.setdefault(node.group_name, []).append(key)
        assert node.description and len(node.description) > 40, f"{key} needs a description"
    assert {"extract", "validate", "register"} <= set(groups)
    # one extract asset per configured source
    from amili_pipelines.config import load_creditors

    sources = [s.name for c in load_creditors(PROJECT_ROOT / "creditors.yaml").creditors for s in c.sources]
    assert sorted(k.path[-1] for k in groups["extract"]) == sorted(sources)
    assert defs.resolve_job_def("extract_validate_register") is not None
