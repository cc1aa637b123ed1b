"""An operator's day, tried as a new user would, through the real command: find a rejected invoice with
`show`, retry it with a reason, see it registered once and the audit entry; withdraw a case and see the
cancellation at the emulator. Every screen is masked; exit statuses say whether a person is needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs
from tests.support.operator import set_se_creditor_active

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("amili-pipelines"))


def _cli(*args: str, env_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "USER": "ops-anna"}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=env, cwd=env_dir)


def test_find_retry_and_withdraw_as_a_new_user(followup, monkeypatch):
    emu = followup.emulator
    fs.use_env(followup, monkeypatch)
    set_se_creditor_active(emu, False)
    invoices = fs.make_invoices(Market.SE, 2, prefix="OPS")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, invoices)
    key = invoices[0].invoice_key
    run = lambda *a: _cli(*a, env_dir=followup.tmp)  # noqa: E731

    shown = run("show", key)
    assert shown.returncode == 0, shown.stderr
    assert "rejected" in shown.stdout and "not active" in shown.stdout
    assert "19811218-****" in shown.stdout and "19811218-9876" not in shown.stdout, "identity numbers masked"
    unknown = run("show", "OPS-SE-0000")
    assert unknown.returncode == 2 and key in unknown.stdout, "a number without its creditor gets a hint"

    set_se_creditor_active(emu, True)
    dry = run("retry", key, "--dry-run")
    assert dry.returncode == 0 and "Would retry" in dry.stdout and "send again" in dry.stdout
    no_reason = run("retry", key)
    assert no_reason.returncode == 2 and "reason is required" in no_reason.stderr
    sent_before = emu.admin.count("POST", "/invoice--registrations")
    retried = run("retry", key, "--reason", "creditor reactivated by Amili support")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "registered" in retried.stdout
    assert emu.admin.count("POST", "/invoice--registrations") == sent_before + 1, "registered once"
    again = run("retry", key, "--reason", "pressed enter twice")
    assert again.returncode == 0 and "already registered" in again.stdout
    assert emu.admin.count("POST", "/invoice--registrations") == sent_before + 1

    withdrawn = run("withdraw", key, "--reason", "registered by mistake")
    assert withdrawn.returncode == 0, withdrawn.stdout + withdrawn.stderr
    with open_warehouse(followup.db_path, read_only=True) as wh:
        case_id = wh.outbox.record(Market.SE, key).case_id
    cancellations = emu.admin.state()["se"]["creditor--cancellations"]
    docs = list(cancellations.values()) if isinstance(cancellations, dict) else cancellations
    assert [d["case"] for d in docs] == [case_id], "the cancellation is at Amili"

    final = run("show", key)
    assert final.returncode == 0
    audit = final.stdout.split("Audit (operator actions)")[1]
    assert "ops-anna (cli)" in audit and "creditor reactivated by Amili support" in audit
    assert "retry" in audit and "withdraw" in audit and "registered by mistake" in audit
    assert "operator:withdraw:1" in final.stdout

    paused = run("pause", key, "--reason", "debtor in hospital")
    assert paused.returncode == 2 and "Sweden" in paused.stderr
