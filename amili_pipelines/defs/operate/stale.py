"""Data gone stale: no successful registration, or no settlement read, for longer than configured.

The register assets and ``settlement_lines`` also carry a freshness policy, so the UI shows them
overdue; this sensor is what tells a person (``AMILI_STALE_REGISTRATION_HOURS``,
``AMILI_STALE_SETTLEMENT_HOURS``, default 36). One alert per stale spell, not one per tick.

A registration counts when it registered one of the recent days (the daily run's partition, or a
re-run of it): a backfill of last month's days, run while the daily schedule is stopped, says
nothing about today's invoices, and must not silence the alert.
"""

import json
import math
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from amili_pipelines.alerts.messages import Alert
from amili_pipelines.defs.operate.alerts import send_once_per_spell
from amili_pipelines.defs.reconcile.assets import SETTLEMENT_LINES
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import CreditorsResource
from amili_pipelines.domain.invoice import Market
from amili_pipelines.settings import Settings


def _last_materialized(instance: dg.DagsterInstance, key: dg.AssetKey, *, hours: float, partitioned: bool,
                       settings: Settings) -> float:
    """When ``key`` was last materialized (0: never); for a daily-partitioned asset, only its recent
    days count: the days from ``hours`` (rounded up to days) plus one before today, to today."""
    if not partitioned:
        event = instance.get_latest_materialization_event(key)
        return event.timestamp if event else 0.0
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    days = [today - timedelta(days=n) for n in range(math.ceil(hours / 24) + 2)]
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[d.isoformat() for d in days]), limit=1)
    return found.records[0].timestamp if found.records else 0.0


def _since(instance: dg.DagsterInstance, key: dg.AssetKey, last: float) -> str:
    if last:
        return _utc(last)
    latest = instance.get_latest_materialization_event(key)
    if latest is None or latest.dagster_event is None:
        return "never"
    # Only older days were materialized recently: say so, or the person looks for a failed run.
    return f"none for a recent day; the latest, at {_utc(latest.timestamp)}, was for {latest.dagster_event.partition}"


def _utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _watched(settings: Settings, markets: set[Market]) -> dict[dg.AssetKey, tuple[str, float, bool]]:
    """Asset -> (what it means, allowed age in hours, daily-partitioned), for the markets that have creditors."""
    watched = {}
    if Market.SE in markets:
        watched[SE_REGISTRATIONS] = ("Swedish registration", settings.stale_registration_hours, True)
    if Market.NO in markets:
        watched[NO_REGISTRATIONS] = ("Norwegian registration", settings.stale_registration_hours, True)
    watched[SETTLEMENT_LINES] = ("settlement read", settings.stale_settlement_hours, False)
    return watched


@dg.sensor(
    name="alert_on_stale_data", default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=900,
    description="Tells a person when no registration succeeded, or no settlement was read, for longer than "
                "AMILI_STALE_*_HOURS (default 36 h).",
)
def alert_on_stale_data(context: dg.SensorEvaluationContext, creditors: CreditorsResource):
    settings = Settings()
    alerted: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    stale: dict[str, float] = {}  # asset -> its last materialization (the stale spell it belongs to)
    details = []
    for key, (what, hours, partitioned) in _watched(settings, creditors.load().markets).items():
        last = _last_materialized(context.instance, key, hours=hours, partitioned=partitioned, settings=settings)
        if now - last > hours * 3600 and alerted.get(key.to_user_string()) != last:
            stale[key.to_user_string()] = last
            details.append(f"no successful {what} for more than {hours:.0f} h (last: {_since(context.instance, key, last)})")
    if not stale:
        return dg.SkipReason("every watched asset is fresh, or its staleness was already reported")
    alert = Alert(title="Data is stale", severity="warning", details=details,
                  creditors=[c.key for c in creditors.load().creditors])
    return send_once_per_spell(context, alert, alerted, stale)
