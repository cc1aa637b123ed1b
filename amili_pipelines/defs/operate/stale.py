"""Data gone stale: no successful registration, or no settlement read, for longer than configured.

The register assets and ``settlement_lines`` also carry a freshness policy, so the UI shows them
overdue; this sensor is what tells a person (``AMILI_STALE_REGISTRATION_HOURS``,
``AMILI_STALE_SETTLEMENT_HOURS``, default 36). One alert per stale spell, not one per tick.
"""

import json
import time

import dagster as dg

from amili_pipelines.alerts.messages import Alert
from amili_pipelines.defs.operate.alerts import _send
from amili_pipelines.defs.reconcile.assets import SETTLEMENT_LINES
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.resources import CreditorsResource
from amili_pipelines.domain.invoice import Market
from amili_pipelines.settings import Settings


def _watched(settings: Settings, markets: set[Market]) -> dict[dg.AssetKey, tuple[str, float]]:
    """Asset -> (what it means, allowed age in hours), for the markets that have creditors."""
    watched = {}
    if Market.SE in markets:
        watched[SE_REGISTRATIONS] = ("Swedish registration", settings.stale_registration_hours)
    if Market.NO in markets:
        watched[NO_REGISTRATIONS] = ("Norwegian registration", settings.stale_registration_hours)
    watched[SETTLEMENT_LINES] = ("settlement read", settings.stale_settlement_hours)
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
    for key, (what, hours) in _watched(settings, creditors.load().markets).items():
        event = context.instance.get_latest_materialization_event(key)
        last = event.timestamp if event else 0.0
        if now - last > hours * 3600 and alerted.get(key.to_user_string()) != last:
            stale[key.to_user_string()] = last
            since = "never" if not last else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last))
            details.append(f"no successful {what} for more than {hours:.0f} h (last: {since})")
    if not stale:
        return dg.SkipReason("every watched asset is fresh, or its staleness was already reported")
    alert = Alert(title="Data is stale", severity="warning", details=details,
                  creditors=[c.key for c in creditors.load().creditors])
    skipped = _send(context, alert)
    if skipped is None:  # delivered: this spell is reported
        context.update_cursor(json.dumps({**alerted, **stale}))
    return skipped
