"""Alerts reach a person: a failed run, a run that needs a look and stale data arrive at a local
webhook receiver and a local SMTP server (real sockets), with the creditor, the partition, what
failed, counts and the run's link, and without a secret or an identity number."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from amili_pipelines.alerts.messages import Alert
from amili_pipelines.defs.operate.alerts import alert_on_failed_run, alert_on_needs_attention
from amili_pipelines.defs.operate.stale import alert_on_stale_data
from amili_pipelines.defs.reconcile.assets import SETTLEMENT_LINES
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import CreditorsResource
from amili_pipelines.headless import run_daily_job
from amili_pipelines.settings import PROJECT_ROOT, Settings
from tests.support.receivers import smtp_receiver, webhook_receiver

pytestmark = pytest.mark.integration
HOOK_TOKEN = "T0KEN-in-the-webhook-url"
PNR = re.compile(r"\d{6}[-+]?\d{4}|\d{11}")


@pytest.fixture()
def channels(monkeypatch):
    with webhook_receiver() as (url, hook), smtp_receiver() as (port, mail):
        monkeypatch.setenv("AMILI_ALERT_WEBHOOK_URL", f"{url}/services/{HOOK_TOKEN}")
        monkeypatch.setenv("AMILI_ALERT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("AMILI_ALERT_SMTP_PORT", str(port))
        monkeypatch.setenv("AMILI_ALERT_EMAIL_TO", "finance@example.com, ops@example.com")
        monkeypatch.setenv("AMILI_UI_URL", "http://dagster.example:3000")
        yield hook, mail


def _failure_event(instance, run_id):
    [record] = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return record.event_log_entry.dagster_event


def _everything(hook, mail) -> str:
    return "\n".join([*(p["text"] for p in hook.posts), *(str(m) for m in mail.mails)])


def _creditors():
    return {"creditors": CreditorsResource(path=str(PROJECT_ROOT / "creditors.yaml"))}


def test_a_failed_run_is_announced_on_both_channels(pipeline_env, channels, monkeypatch):
    hook, mail = channels
    monkeypatch.setenv("AMILI_SE_API_CODE", "refused-api-code")  # Amili refuses: the run fails loudly
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_daily_job(partition=date.today(), instance=instance)
        assert not outcome.success
        run = instance.get_run_by_id(outcome.run_id)
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_failed_run", dagster_instance=instance, dagster_run=run,
            dagster_event=_failure_event(instance, run.run_id), resources=_creditors()).for_run_failure()
        assert alert_on_failed_run(context) is None
    [post], [message] = hook.posts, mail.mails
    text = post["text"]
    assert text.startswith("[ERROR] Run of extract_validate_register failed")
    assert "creditor: demo-se, demo-no" in text and f"partition: {date.today().isoformat()}" in text
    assert "error:" in text and f"run: http://dagster.example:3000/runs/{outcome.run_id}" in text
    assert "extracted:" in text, "the counts so far"
    assert message["Subject"] == "amili-pipelines: [ERROR] Run of extract_validate_register failed"
    assert message["To"] == "finance@example.com, ops@example.com"
    assert f"runs/{outcome.run_id}" in message.get_payload()
    everything = _everything(hook, mail)
    for secret in ("refused-api-code", "demo-secret", HOOK_TOKEN):
        assert secret not in everything
    # a run id is a UUID, whose digit groups can look like an identity number (541490220204)
    assert not PNR.search(everything.replace(outcome.run_id, "<run id>")), "no identity number in an alert"


def test_a_run_that_needs_a_person_is_announced(pipeline_env, channels, tmp_path, monkeypatch):
    hook, _ = channels
    creditors = (PROJECT_ROOT / "creditors.yaml").read_text(encoding="utf-8").replace(
        "assets/demo/no/peppol/*.xml", str(tmp_path / "inbox" / "*.xml"))
    (tmp_path / "creditors.yaml").write_text(creditors.replace("path: assets/", f"path: {PROJECT_ROOT}/assets/"),
                                             encoding="utf-8")
    monkeypatch.setenv("AMILI_CREDITORS_FILE", str(tmp_path / "creditors.yaml"))
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_daily_job(partition=date.today(), instance=instance, wait_for_batches_s=30)
        assert outcome.success
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_needs_attention", dagster_instance=instance,
            dagster_run=instance.get_run_by_id(outcome.run_id),
            dagster_event=instance.get_records_for_run(
                outcome.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[0].event_log_entry.dagster_event,
            resources={"creditors": CreditorsResource(path=str(tmp_path / "creditors.yaml"))})
        assert alert_on_needs_attention(context) is None
    [post] = hook.posts
    assert post["text"].startswith("[WARNING] extract_validate_register needs a look")
    assert "failed check: extract/demo-no-peppol: source_readable" in post["text"]
    assert "source demo-no-peppol could not be read" in post["text"] and "no file matches" in post["text"]


def test_stale_data_is_announced_once_per_spell(channels):
    hook, mail = channels
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=_creditors())
        assert alert_on_stale_data(ctx) is None
        assert "never" in hook.posts[0]["text"] and "Swedish registration" in hook.posts[0]["text"]
        again = dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=_creditors())
        assert isinstance(alert_on_stale_data(again), dg.SkipReason)
    assert len(hook.posts) == 1 and len(mail.mails) == 1


def test_a_backfill_of_old_days_does_not_hide_that_the_daily_registration_stopped(channels):
    hook, _ = channels
    today = datetime.now(ZoneInfo(Settings().timezone)).date()
    month_ago = (today - timedelta(days=30)).isoformat()

    def materialized(key, partition=None):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))

    with dg.DagsterInstance.ephemeral() as instance:
        materialized(SE_REGISTRATIONS, month_ago)  # a backfill just now, while the daily schedule is stopped
        materialized(NO_REGISTRATIONS, month_ago)
        materialized(NO_REGISTRATIONS, today.isoformat())  # Norway's daily run did run
        materialized(SETTLEMENT_LINES)
        ctx = dg.build_sensor_context(instance=instance, resources=_creditors())
        assert alert_on_stale_data(ctx) is None
        [post] = hook.posts
        assert "no successful Swedish registration" in post["text"]
        assert "none for a recent day; the latest, at " in post["text"] and f"was for {month_ago}" in post["text"]
        assert "Norwegian" not in post["text"] and "settlement" not in post["text"]

        materialized(SE_REGISTRATIONS, (today - timedelta(days=1)).isoformat())  # yesterday's day, re-run now
        again = dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=_creditors())
        assert isinstance(alert_on_stale_data(again), dg.SkipReason)
    assert len(hook.posts) == 1


def test_identity_numbers_are_masked_in_every_alert_line():
    alert = Alert(title="source erp-x could not be read", severity="warning",
                  details=["row 3: customer_name '19811218-9876' is not a name"], creditors=["demo-se"])
    assert "19811218-****" in alert.text() and "9876" not in alert.text()
