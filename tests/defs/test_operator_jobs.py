"""The operator jobs (launchpad): typed run config, the run's user as the actor, the same use cases as the CLI."""

from __future__ import annotations

import dagster as dg
import pytest

from amili_pipelines.defs.operate.definitions import defs as operate_defs
from amili_pipelines.domain.invoice import Market
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs
from tests.support.operator import set_se_creditor_active

pytestmark = pytest.mark.integration


def _defs(env):
    return dg.Definitions.merge(operate_defs(), dg.Definitions(resources=env.resources()))


def _run(defs, job, config, *, tags=None, instance=None):
    op = {"retry_invoices": "retry_invoices_op"}.get(job, job.replace("_cases", "_cases_op"))
    return defs.resolve_job_def(job).execute_in_process(
        run_config={"ops": {op: {"config": config}}}, tags=tags or {}, instance=instance, raise_on_error=False)


def _metadata(result, op):
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == op]
    return {k: getattr(v, "value", v) for k, v in event.event_specific_data.metadata.items()}


def test_retry_and_withdraw_as_jobs_audit_the_run_s_user(followup):
    emu = followup.emulator
    defs = _defs(followup)
    instance = dg.DagsterInstance.ephemeral()
    set_se_creditor_active(emu, False)
    [inv] = fs.make_invoices(Market.SE, 1, prefix="JOB")
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, [inv])
    set_se_creditor_active(emu, True)

    dry = _run(defs, "retry_invoices", {"invoice_keys": [inv.invoice_key], "dry_run": True, "operator": "alice"},
               instance=instance)
    assert dry.success and _metadata(dry, "retry_invoices_op")["invoices"] == 1

    nobody = _run(defs, "retry_invoices", {"invoice_keys": [inv.invoice_key], "reason": "creditor is active"},
                  instance=instance)
    assert not nobody.success, "nobody named: nothing done"
    failure = [e for e in nobody.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "operator" in failure.event_specific_data.error.message

    done = _run(defs, "retry_invoices", {"invoice_keys": [inv.invoice_key], "reason": "creditor is active again"},
                tags={"dagster/user": "alice@example.com"}, instance=instance)
    assert done.success
    meta = _metadata(done, "retry_invoices_op")
    assert (meta["invoices"], meta["not_registered"]) == (1, 0) and "registered: case" in meta["invoices_table"]

    withdrawn = _run(defs, "withdraw_cases", {"invoice_keys": [inv.invoice_key], "reason": "sold to another agency",
                                              "operator": "bob"}, instance=instance)
    assert withdrawn.success and _metadata(withdrawn, "withdraw_cases_op")["not_done"] == 0
    with open_warehouse(followup.db_path, read_only=True) as wh:
        entries = wh.audit.for_invoice(inv.invoice_key)
    assert [(e.action, e.actor, e.via, e.outcome) for e in entries] == [
        ("retry", "alice@example.com", "dagster", "registered"), ("withdraw", "bob", "dagster", "sent")]
    assert entries[0].run_id == done.run_id and entries[1].run_id == withdrawn.run_id


def test_case_commands_need_keys_and_a_reason_in_their_typed_config(followup):
    job = _defs(followup).resolve_job_def("pause_cases")
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"ops": {"pause_cases_op": {"config": {"invoice_keys": ["demo-no/1"]}}}})
    dg.validate_run_config(job, {"ops": {"pause_cases_op": {"config": {"invoice_keys": ["demo-no/1"],
                                                                       "reason": "debtor in hospital"}}}})
