"""Amili clients for sensors: short explicit timeouts, no retry sleeping inside a tick.

Runs use the resources' own ``client()`` (retries with backoff). A sensor tick must stay well
inside Dagster's 60 s evaluation budget, so its clients fail fast and let the next tick retry.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource

SENSOR_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)


def sensor_se_client(resource: AmiliSeResource):
    from amili_pipelines.amili.se.client import AmiliSeClient

    return AmiliSeClient(
        base_url=resource.base_url,
        api_code=SecretStr(resource.api_code),
        private_key_path=resource.jwt_private_key_path,
        jwt_algorithm=resource.jwt_algorithm,
        requests_per_second=resource.requests_per_second,
        max_concurrency=resource.max_concurrency,
        timeout=SENSOR_TIMEOUT,
        max_retries=0,
    )


def sensor_no_client(resource: AmiliNoResource):
    from amili_pipelines.amili.no.client import AmiliNoClient

    return AmiliNoClient(
        base_url=resource.base_url,
        auth_url=resource.auth_url,
        client_id=resource.client_id,
        client_secret=SecretStr(resource.client_secret),
        requests_per_second=resource.requests_per_second,
        max_concurrency=resource.max_concurrency,
        timeout=SENSOR_TIMEOUT,
        max_retries=0,
    )
