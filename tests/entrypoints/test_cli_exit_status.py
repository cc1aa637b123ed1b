"""``amili-pipelines`` tells the truth in its exit status: 0 all done, 2 unusable configuration,
3 finished but a person is needed (here: Amili unreachable), and the next run heals it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("amili-pipelines"))


def _cli(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=PROJECT_ROOT, env={**os.environ, **env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=timeout)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.timeout(300)
def test_amili_unreachable_ends_fast_with_3_and_the_next_run_registers_everything_once(pipeline_env, fresh_emulator,
                                                                                        tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster_instance.yaml").read_text(), encoding="utf-8")
    dead = f"http://127.0.0.1:{_dead_port()}"
    env = {**{k: v for k, v in os.environ.items() if k.startswith("AMILI_")}, "DAGSTER_HOME": str(home)}
    # The circuit opens after 2 failures, not 8: its threshold is tested in tests/amili; what matters
    # here is the exit status and the next run healing (with 8, each market spends ~12 s retrying).
    down = _cli("run", env={**env, "AMILI_SE_BASE_URL": dead, "AMILI_NO_BASE_URL": f"{dead}/collection/v1",
                            "AMILI_NO_AUTH_URL": f"{dead}/token", "AMILI_SE_CIRCUIT_FAILURES": "2",
                            "AMILI_NO_CIRCUIT_FAILURES": "2"})
    assert down.returncode == 3, down.stdout[-3000:] + down.stderr[-3000:]
    assert "Needs a person" in down.stdout and "Amili did not answer" in down.stdout
    with open_warehouse(pipeline_env / "amili.duckdb", read_only=True) as wh:
        counts = wh.outbox.state_counts()
        assert counts["registered"] == 0 and counts["pending"] + counts["unknown_outcome"] > 250
    up = _cli("run", env=env)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert "Nothing needs a person" in up.stdout
    with open_warehouse(pipeline_env / "amili.duckdb", read_only=True) as wh:
        counts = wh.outbox.state_counts()
    assert counts["registered"] == sum(counts.values()), counts
    state = fresh_emulator.admin.state()
    se_numbers = [d["invoice_number"] for d in state["se"]["invoice--registrations"]]
    no_ids = [d["uniqueSourceInvoiceId"] for d in state["no"]["invoices"]]
    assert len(se_numbers) == len(set(se_numbers)) and len(no_ids) == len(set(no_ids)), "nothing registered twice"
    assert len(se_numbers) + len(no_ids) == counts["registered"]


def test_a_broken_creditors_file_is_one_message_and_exit_2(tmp_path):
    broken = tmp_path / "creditors.yaml"
    broken.write_text("creditors:\n  - key: demo-se\n    name: X\n    market: SE\n    account_id: a\n", encoding="utf-8")
    for command in (["run"], ["status"], ["validate", "demo-se-erp"]):
        result = _cli(*command, env={"AMILI_CREDITORS_FILE": str(broken)})
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        assert str(broken) in result.stderr and "creditor 'demo-se' (entry 1)" in result.stderr
        assert "a Swedish creditor needs account_id and creditor_id" in result.stderr


def test_status_reads_without_migrating_and_says_what_is_open(pipeline_env, tmp_path):
    from amili_pipelines.domain.invoice import Market
    from amili_pipelines.domain.outbox import OutboxEntry

    with open_warehouse(pipeline_env / "amili.duckdb") as wh:
        wh.outbox.enqueue([OutboxEntry(Market.SE, "demo-se/1", "demo-se", "1", "k1", None, {}, None, "SEK")])
        applied = [r[0] for r in wh.connection.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        wh.connection.execute("DELETE FROM schema_migrations WHERE version >= 6")  # as if written by an older version
    result = _cli("status", env={})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "1 invoice(s) not yet settled with Amili" in result.stdout
    with open_warehouse(pipeline_env / "amili.duckdb", read_only=True) as wh:
        assert [r[0] for r in wh.connection.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()] \
            == [v for v in applied if v < 6], "a read-only command never migrates"
