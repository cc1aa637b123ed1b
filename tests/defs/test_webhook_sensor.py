"""The webhook inbox sensor's bookkeeping, ticked with build_sensor_context: events it needs no run for,
a claim whose run failed (kept, asked for again after a back-off under a new run key), a claim whose run
request was lost (asked for again under the same key), and the polling sensors as a slower safety net."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

import amili_pipelines.defs.reconcile.webhooks as webhook_defs
from amili_pipelines.defs.reconcile.sensors import case_status_sensor
from amili_pipelines.defs.reconcile.webhooks import norway_webhook_sensor
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.polling import poll_cases
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.spool import open_inbox
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def _push(env, n: int, event: str, data: dict, name_key: str = "type") -> None:
    body = json.dumps({"id": f"ev-{n}", name_key: event, "data": data}).encode()
    open_inbox(env.inbox_path).accept(idempotency_key=f"key-{n}", event=event, event_id=f"ev-{n}", body=body,
                                      received_at=utcnow())


def _tick(env, instance):
    with dg.build_sensor_context(resources=env.resources(), instance=instance) as ctx:
        return norway_webhook_sensor(ctx)


def test_events_needing_no_run_are_processed_at_once(followup):
    instance = dg.DagsterInstance.ephemeral()
    _push(followup, 1, "BATCH_COMPLETED", {"batchId": "b1", "organizationId": "not-ours"})
    _push(followup, 2, "SOMETHING_NEW", {"organizationId": followup.emulator.no_org})
    result = _tick(followup, instance)
    assert not result.run_requests
    assert open_inbox(followup.inbox_path).counts() == {"new": 0, "claimed": 0, "processed": 2, "open_claims": 0}


def test_a_failed_run_keeps_its_events_and_is_asked_for_again_under_a_new_key(followup, monkeypatch):
    emu = followup.emulator
    defs = fs.definitions(followup)
    instance = dg.DagsterInstance.ephemeral()
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.NO, 2, prefix="FAIL"), settle_batches=False)
        batch_id = wh.outbox.waiting_batches()[0].batch_id
    _push(followup, 1, "BATCH_COMPLETED", {"batchId": batch_id, "organizationId": emu.no_org, "status": "SUCCESS"})
    [first] = _tick(followup, instance).run_requests
    assert first.run_key.endswith(":0") and first.tags["amili/webhook_claim"].startswith("batch_results-")
    lost = _tick(followup, instance)  # the request never became a run (the daemon died): asked again, same key
    assert [r.run_key for r in lost.run_requests] == [first.run_key]

    emu.admin.set_faults(error_rates={503: 1.0}, path_prefixes=["/collection/v1/orgs"])
    failed = defs.resolve_job_def(first.job_name).execute_in_process(
        run_config=first.run_config, tags=first.tags, instance=instance, raise_on_error=False)
    emu.admin.clear_faults()
    assert not failed.success
    waiting = _tick(followup, instance)
    assert not waiting.run_requests, "back-off: not asked for again at once"
    [claim] = open_inbox(followup.inbox_path).open_claims()
    assert claim.attempt == 1 and open_inbox(followup.inbox_path).counts()["claimed"] == 1
    monkeypatch.setattr(webhook_defs, "RETRY_AFTER", (timedelta(0),))
    [second] = _tick(followup, instance).run_requests
    assert second.run_key.endswith(":1") and second.tags["amili/webhook_claim"] == first.tags["amili/webhook_claim"]
    fs.execute(followup, defs, second.job_name, second, instance)
    done = _tick(followup, instance)
    assert not done.run_requests and "1 processed" in done.skip_reason.skip_message
    with open_warehouse(followup.db_path, read_only=True) as wh:
        assert wh.outbox.waiting_batches() == []


def test_with_webhooks_on_the_norwegian_case_sweep_is_a_slower_safety_net(followup, monkeypatch):
    emu = followup.emulator
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.NO, 2, prefix="NET"))
    t0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    async def poll(cursor, now):
        async def go(se, no):
            return await poll_cases(cursor, se_client=se, no_client=no, se_creditor_ids=[emu.se_creditor],
                                    no_organization_ids=[emu.no_org], safety_net_s=600, now=now)
        return await fs.with_clients(emu, go)

    first = asyncio.run(poll({"v": 1}, t0))
    sweeps = emu.admin.count("GET", "/collection/v1/orgs/{org}/cases")
    assert sweeps >= 1 and first.triggers
    quiet = asyncio.run(poll(first.cursor, t0 + timedelta(seconds=300)))
    assert emu.admin.count("GET", "/collection/v1/orgs/{org}/cases") == sweeps, "no sweep inside the interval"
    assert "next safety-net sweep in 300 s" in quiet.summary and "SE cases" in quiet.summary, "Sweden still read"
    asyncio.run(poll(quiet.cursor, t0 + timedelta(seconds=601)))
    assert emu.admin.count("GET", "/collection/v1/orgs/{org}/cases") > sweeps

    # The sensor takes the interval from AMILI_NO_SAFETY_NET_POLL_SECONDS.
    monkeypatch.setenv("AMILI_NO_SAFETY_NET_POLL_SECONDS", "3600")
    instance = dg.DagsterInstance.ephemeral()
    one = fs.tick(followup, case_status_sensor, None, instance)
    sweeps = emu.admin.count("GET", "/collection/v1/orgs/{org}/cases")
    two = fs.tick(followup, case_status_sensor, one.cursor, instance)
    assert emu.admin.count("GET", "/collection/v1/orgs/{org}/cases") == sweeps
    assert "safety-net" in two.skip_reason.skip_message


def test_a_settlement_event_refreshes_just_its_case(followup):
    emu = followup.emulator
    defs = fs.definitions(followup)
    instance = dg.DagsterInstance.ephemeral()
    with open_warehouse(followup.db_path) as wh:
        fs.register(wh, emu, followup.creditors, fs.make_invoices(Market.NO, 3, prefix="SET"))
    cases = emu.admin.state()["no"]["cases"]
    case = (list(cases.values()) if isinstance(cases, dict) else cases)[0]
    _push(followup, 1, "SETTLEMENT_CREATED", {"settlementId": "s1", "organizationId": emu.no_org,
                                              "caseNumber": case["caseNumber"]})
    [rr] = _tick(followup, instance).run_requests
    assert rr.job_name == "settlements_job"
    assert rr.run_config["ops"]["reconcile__amili_cases"]["config"]["norway_cases"] == [
        {"organization_id": emu.no_org, "case_number": str(case["caseNumber"])}]
    emu.admin.reset_stats()
    fs.execute(followup, defs, rr.job_name, rr, instance)
    with open_warehouse(followup.db_path, read_only=True) as wh:
        stored = wh.connection.execute("SELECT case_id FROM cases WHERE market = 'NO'").fetchall()
    assert stored == [(case["caseId"],)], "just the settlement's case, not the whole list"
    assert emu.admin.count("GET", "/collection/v1/orgs/{org}/cases") == 1


def test_processed_events_are_forgotten_after_the_window_at_most_hourly(followup):
    instance = dg.DagsterInstance.ephemeral()
    _push(followup, 1, "SOMETHING_NEW", {"organizationId": followup.emulator.no_org})
    first = _tick(followup, instance)  # needs no run: processed at once
    inbox = open_inbox(followup.inbox_path)
    assert inbox.counts()["processed"] == 1 and first.cursor
    [marker] = (followup.inbox_path / "processed").iterdir()
    forty_days_ago = (utcnow() - timedelta(days=40)).replace(tzinfo=UTC).timestamp()
    os.utime(marker, (forty_days_ago, forty_days_ago))

    with dg.build_sensor_context(resources=followup.resources(), instance=instance, cursor=first.cursor) as ctx:
        within_the_hour = norway_webhook_sensor(ctx)
    assert inbox.counts()["processed"] == 1, "pruned at most once an hour"
    assert within_the_hour.cursor == first.cursor

    an_hour_later = (utcnow() - webhook_defs.PRUNE_EVERY).isoformat()
    with dg.build_sensor_context(resources=followup.resources(), instance=instance, cursor=an_hour_later) as ctx:
        later = norway_webhook_sensor(ctx)
    assert inbox.counts() == {"new": 0, "claimed": 0, "processed": 0, "open_claims": 0}
    assert later.cursor > an_hour_later
    assert list((followup.inbox_path / "events").iterdir()) == [], "the event file went with its marker"
