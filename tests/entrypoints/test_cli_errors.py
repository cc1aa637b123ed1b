"""What a person sees when a command cannot do its work: one line saying what and what next, and an
exit status that tells the truth (2 for an unusable option, 1 for a failure, 130 for Ctrl-C), never
a Python traceback unless AMILI_DEBUG asks for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amili_pipelines.settings import PROJECT_ROOT

CLI = str(Path(sys.executable).with_name("amili-pipelines"))
TRACEBACK = "Traceback (most recent call last)"


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=PROJECT_ROOT, env={**os.environ, **(env or {}), "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("args", "said"), [
    (["run", "--partition", "notadate"], "--partition 'notadate' is not a day (YYYY-MM-DD)"),
    (["books", "--day", "2024-13-01"], "--day '2024-13-01' is not a day (YYYY-MM-DD)"),
    (["validate", "demo-se-erp", "--as-of", "yesterday"], "--as-of 'yesterday' is not a day (YYYY-MM-DD)"),
])
def test_a_day_that_is_not_a_day_is_one_line_and_exit_2(args, said, tmp_path):
    result = _cli(*args, env={"AMILI_DUCKDB_PATH": str(tmp_path / "amili.duckdb")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr and TRACEBACK not in result.stdout + result.stderr


def test_a_corrupt_duckdb_file_is_one_line_and_exit_1(tmp_path):
    broken = tmp_path / "amili.duckdb"
    broken.write_bytes(os.urandom(64 * 1024))
    env = {"AMILI_DUCKDB_PATH": str(broken)}
    for command in (["status"], ["show", "demo-se/100001"], ["retry", "--all", "--dry-run"]):
        result = _cli(*command, env=env)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert TRACEBACK not in result.stdout + result.stderr, command
        assert "Failed:" in result.stderr and "not a valid DuckDB database file" in result.stderr
        assert "AMILI_DEBUG=1" in result.stderr
    debug = _cli("status", env={**env, "AMILI_DEBUG": "1"})
    assert debug.returncode == 1 and TRACEBACK in debug.stderr, "a developer can still ask for the traceback"


@pytest.mark.integration
def test_refused_credentials_fail_with_the_reason_and_not_nothing_needs_a_person(pipeline_env, tmp_path):
    env = {"AMILI_SE_API_CODE": "refused-api-code", "AMILI_NO_CLIENT_SECRET": "refused-secret",
           "DAGSTER_HOME": ""}
    result = _cli("run", "--wait-for-batches", "5", env=env)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Nothing needs a person" not in result.stdout, "a failed run must not say that nobody is needed"
    assert "failed: register__amili_se_registrations: AuthenticationFailed" in result.stdout
    assert "Please provide proper credentials" in result.stdout
    assert "failed: register__amili_no_registrations: AuthenticationFailed" in result.stdout
    assert "The run failed" in result.stdout
    for secret in ("refused-api-code", "refused-secret"):
        assert secret not in result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_ctrl_c_mid_run_exits_130_with_a_message_and_no_traceback(pipeline_env):
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen([CLI, "run", "--wait-for-batches", "60"], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # the run is under way once a source has been read
        seen.append(line)
        if "extract__" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert "Interrupted (Ctrl-C)" in out + err and "run the command again" in out + err
    assert TRACEBACK not in out + err
