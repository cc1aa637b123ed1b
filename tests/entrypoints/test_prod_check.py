"""``make prod-check`` as a test: the production profile (PostgreSQL, code server, daemon,
webserver) registers 3 partitions x 2 creditors at once, survives a SIGKILLed run and a daemon
restart, and registers nothing twice and loses nothing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from amili_pipelines.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


@pytest.mark.timeout(900)
def test_prod_check_registers_everything_once_through_a_killed_run_and_a_daemon_restart():
    done = subprocess.run([sys.executable, "deploy/prod_check.py"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=850)
    out = done.stdout + done.stderr
    summary = re.search(r"^prod-check: runs=(\d+) failed=(\d+) duplicates=(\d+) lost=(\d+)$", done.stdout, re.M)
    assert summary, out[-4000:]
    runs, failed, duplicates, lost = map(int, summary.groups())
    assert (duplicates, lost) == (0, 0), out[-4000:]
    assert "killed run" in out and failed == 1, "exactly the killed run failed"
    assert runs >= 8 and done.returncode == 0, out[-4000:]
