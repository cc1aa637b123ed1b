"""A sensor that fails on every tick: Amili down or refusing the credentials, a DuckDB file locked, a
setting that broke after a deploy.

The UI shows a failed tick, but nobody watches the tick history: a batch-status or case sensor that
fails for hours starts no run, so no run fails and the other alerts stay quiet (stale data speaks
only after AMILI_STALE_*_HOURS, and only for registrations and settlement reads). This sensor reads
the tick history the daemon keeps and tells a person when a sensor has failed on every tick for
``AMILI_FAILING_SENSOR_MINUTES`` (default 30). One alert per failing spell, not one per tick.
"""

import json
import time

import dagster as dg

# The tick history has no public API in Dagster 1.13; the daemon and the UI read it through these.
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from amili_pipelines.alerts.messages import Alert
from amili_pipelines.defs.operate.alerts import error_summary, send_once_per_spell
from amili_pipelines.defs.resources import CreditorsResource
from amili_pipelines.settings import Settings

NAME = "alert_on_failing_sensors"
TICKS_READ = 500  # at a 30 s interval, over 4 hours of one sensor's history


def _failing_since(instance: dg.DagsterInstance, state) -> tuple[float, int, str] | None:
    """(first failed tick of the current spell, failed ticks in it, the newest error's first line),
    or None when the newest finished tick did not fail."""
    spell: list = []
    for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=TICKS_READ):
        if tick.status is TickStatus.STARTED:
            continue  # still evaluating: says nothing yet
        if tick.status is not TickStatus.FAILURE:
            break
        spell.append(tick)
    if not spell:
        return None
    return spell[-1].timestamp, len(spell), error_summary(spell[0].error)


@dg.sensor(
    name=NAME, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=300,
    description="Tells a person when another sensor has failed on every tick for AMILI_FAILING_SENSOR_MINUTES "
                "(default 30): Amili down, refused credentials, a locked database. Once per failing spell.",
)
def alert_on_failing_sensors(context: dg.SensorEvaluationContext, creditors: CreditorsResource):
    minutes = Settings().failing_sensor_minutes
    alerted: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    failing: dict[str, float] = {}  # sensor -> the start of its failing spell
    details = []
    for state in context.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == NAME:
            continue
        found = _failing_since(context.instance, state)
        if found is None:
            continue
        since, ticks, error = found
        if now - since >= minutes * 60 and alerted.get(state.instigator_name) != since:
            failing[state.instigator_name] = since
            details.append(f"sensor {state.instigator_name} has failed on every tick since "
                           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(since))} ({ticks} ticks): {error}")
    if not failing:
        return dg.SkipReason("no sensor has failed on every tick for long, or it was already reported")
    details.append("nothing it watches starts a run meanwhile: fix the cause named above (the sensor's tick "
                   "history in the UI has the whole error); it catches up by itself once it works")
    alert = Alert(title="A sensor keeps failing", severity="error", details=details,
                  creditors=[c.key for c in creditors.load().creditors])
    return send_once_per_spell(context, alert, alerted, failing)
