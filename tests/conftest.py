"""Fixtures shared by every area: a real emulator on loopback and settings pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from amili_pipelines.settings import PROJECT_ROOT

# Tests must never read a developer's .env or write the demo's data/ folder, and never use the
# Dagster instance `make` points DAGSTER_HOME at (it may not exist yet on a fresh clone): a test
# that needs a persistent instance makes its own under tmp_path.
for _var in [v for v in os.environ if v.startswith("AMILI_")] + ["DAGSTER_HOME"]:
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def emulator() -> Iterator:
    """One real emulator (uvicorn, 127.0.0.1, free port) for the session; tests reset it as needed."""
    from amili_pipelines.emulator.testing import running_emulator

    with running_emulator() as emu:
        yield emu


@pytest.fixture()
def fresh_emulator(emulator):
    """The session emulator, reset to its demo state with every fault off."""
    emulator.admin.reset()
    emulator.admin.clear_faults()
    return emulator


@pytest.fixture()
def pipeline_env(tmp_path: Path, fresh_emulator, monkeypatch) -> Path:
    """Environment for a pipeline run against the emulator into a DuckDB file under tmp_path."""
    env = {
        "AMILI_SE_BASE_URL": fresh_emulator.base_url,
        "AMILI_NO_BASE_URL": fresh_emulator.no_base_url,
        "AMILI_NO_AUTH_URL": fresh_emulator.no_auth_url,
        "AMILI_SE_API_CODE": "demo-api-code",
        "AMILI_NO_CLIENT_SECRET": "demo-secret",
        "AMILI_DUCKDB_PATH": str(tmp_path / "amili.duckdb"),
        "AMILI_ANALYTICS_PATH": str(tmp_path / "amili_analytics.duckdb"),
        "AMILI_CREDITORS_FILE": str(PROJECT_ROOT / "creditors.yaml"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return tmp_path


@pytest.fixture()
def followup(fresh_emulator, tmp_path: Path):
    """A reset emulator, a creditors file for its demo creditors, and warehouse paths under tmp_path."""
    from tests.support import followup as fs

    return fs.make_env(fresh_emulator, tmp_path)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real PostgreSQL server in a throwaway cluster (installed with apt-get when missing)."""
    from tests.support.postgres import LocalPostgres

    with LocalPostgres(tmp_path_factory.mktemp("pg")) as pg:
        yield pg
