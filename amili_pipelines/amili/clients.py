"""Opening the Amili clients a piece of work needs: the one factory assets, sensors and the CLI use.

A connection (base URL, credentials, limits) is configuration; a client is an open async HTTP
session. ``open_clients`` opens a client only for the markets that have creditors, and closes
them all afterwards. Sensors pass short timeouts and no retries, so a tick stays well inside
Dagster's evaluation budget; runs keep the retrying defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from amili_pipelines.amili.limits import NO_LIMITS, SE_LIMITS
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.invoice import Market

# What a sensor tick allows one request: fail fast, the next tick tries again.
SENSOR_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)


class SeConnection(BaseModel):
    """How to reach Amili Sweden (ADA API)."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    api_code: SecretStr
    jwt_private_key_path: str | None = None
    jwt_algorithm: str = "ES256"
    requests_per_second: float = SE_LIMITS.requests_per_second
    max_concurrency: int = SE_LIMITS.max_concurrency

    def client(self, **overrides: Any) -> AmiliSeClient:
        """A new, unopened client; ``overrides`` replace constructor arguments (e.g. ``timeout``)."""
        kwargs: dict[str, Any] = {
            "base_url": self.base_url, "api_code": self.api_code, "private_key_path": self.jwt_private_key_path,
            "jwt_algorithm": self.jwt_algorithm, "requests_per_second": self.requests_per_second,
            "max_concurrency": self.max_concurrency,
        }
        return AmiliSeClient(**{**kwargs, **overrides})


class NoConnection(BaseModel):
    """How to reach Amili Norway (Collection API v1)."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    auth_url: str
    client_id: str
    client_secret: SecretStr
    requests_per_second: float = NO_LIMITS.requests_per_second
    max_concurrency: int = NO_LIMITS.max_concurrency

    def client(self, **overrides: Any) -> AmiliNoClient:
        kwargs: dict[str, Any] = {
            "base_url": self.base_url, "auth_url": self.auth_url, "client_id": self.client_id,
            "client_secret": self.client_secret, "requests_per_second": self.requests_per_second,
            "max_concurrency": self.max_concurrency,
        }
        return AmiliNoClient(**{**kwargs, **overrides})


@dataclass(frozen=True)
class AmiliClients:
    """The open clients of one piece of work; a market without creditors has None."""

    se: AmiliSeClient | None
    no: AmiliNoClient | None


@asynccontextmanager
async def open_clients(
    *, markets: Collection[Market], se: SeConnection | None = None, no: NoConnection | None = None,
    **overrides: Any,
) -> AsyncIterator[AmiliClients]:
    """Open a client for each of ``markets`` (whose connection is given) and close them afterwards."""
    async with AsyncExitStack() as stack:
        se_client = await stack.enter_async_context(se.client(**overrides)) if se and Market.SE in markets else None
        no_client = await stack.enter_async_context(no.client(**overrides)) if no and Market.NO in markets else None
        yield AmiliClients(se=se_client, no=no_client)
