"""The Dagster code location loads the way `make dev` and `dg` load it, from the project's own install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from amili_pipelines.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "AMILI_DUCKDB_PATH": str(tmp_path / "x.duckdb"),
           "DAGSTER_DISABLE_TELEMETRY": "1"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return subprocess.run(list(args), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_dg_check_defs_passes(tmp_path):
    proc = _run(tmp_path, str(BIN / "dg"), "check", "defs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr


def test_workspace_file_loads_the_same_location(tmp_path):
    proc = _run(tmp_path, str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "amili_pipelines" in proc.stdout + proc.stderr


def test_one_extract_asset_per_configured_source():
    from amili_pipelines.definitions import build_definitions
    from amili_pipelines.settings import load_creditors

    groups: dict[str, list[str]] = {}
    for spec in build_definitions().resolve_all_asset_specs():
        groups.setdefault(spec.group_name, []).append(spec.key.path[-1])
    sources = [s.name for c in load_creditors(PROJECT_ROOT / "creditors.yaml").creditors for s in c.sources]
    assert sorted(groups["extract"]) == sorted(sources)
