"""A ``.env`` file sets every AMILI_* variable the README lists, also the knobs a layer reads from the
environment itself (the writer-pool wait, the circuit thresholds, the DuckDB lock timeout); the
environment still wins over the file. A fresh process in a folder with a ``.env``, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
from amili_pipelines.settings import Settings
from amili_pipelines.headless.guard import pool_wait_bound
from amili_pipelines.warehouse.duckdb.connection import lock_timeout
print(pool_wait_bound(), lock_timeout(), Settings().stale_registration_hours)
"""


def _probe(folder: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=folder, env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_dotenv_file_sets_the_knobs_read_from_the_environment(tmp_path: Path):
    (tmp_path / ".env").write_text("AMILI_POOL_WAIT_S=7\nAMILI_DUCKDB_LOCK_TIMEOUT=3\n"
                                   "AMILI_STALE_REGISTRATION_HOURS=12\n", encoding="utf-8")
    assert _probe(tmp_path) == ["7.0", "3.0", "12.0"]
    assert _probe(tmp_path, AMILI_POOL_WAIT_S="9") == ["9.0", "3.0", "12.0"], "the environment wins"
