"""Amili clients for sensors: short explicit timeouts, no retry sleeping inside a tick.

Runs use the resources' own ``client()`` (retries with backoff). A sensor tick must stay well
inside Dagster's 60 s evaluation budget, so its clients fail fast and let the next tick retry.
"""

from __future__ import annotations

import httpx
from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource

SENSOR_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)


def sensor_se_client(resource: AmiliSeResource):
    return resource.client(timeout=SENSOR_TIMEOUT, max_retries=0)


def sensor_no_client(resource: AmiliNoResource):
    return resource.client(timeout=SENSOR_TIMEOUT, max_retries=0)
