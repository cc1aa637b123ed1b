"""Dagster resources: typed wrappers around the Amili clients, the warehouse and the creditors file.

Secrets come in as ``dg.EnvVar`` and are resolved at launch; they never reach metadata or logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
from pydantic import Field

from amili_pipelines.config import CreditorsFile, load_creditors
from amili_pipelines.warehouse import connect

if TYPE_CHECKING:
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient


class WarehouseResource(dg.ConfigurableResource):
    """The operational DuckDB file. Open it only inside runs, in the ``duckdb_writer`` pool."""

    path: str = Field(description="Path of the operational DuckDB file (AMILI_DUCKDB_PATH)")
    analytics_path: str = Field(description="Path of the published analytics copy (AMILI_ANALYTICS_PATH)")

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.path, read_only=read_only) as conn:
            yield conn


class CreditorsResource(dg.ConfigurableResource):
    """The creditors file: each creditor's market, Amili ids and sources."""

    path: str = Field(description="Path of the creditors YAML file (AMILI_CREDITORS_FILE)")

    def load(self) -> CreditorsFile:
        return load_creditors(self.path)


class AmiliSeResource(dg.ConfigurableResource):
    """Amili Sweden (ADA API): invoice registration, cases, creditor actions, finance."""

    base_url: str
    api_code: str = Field(description="API code issued by Visma Amili; read from AMILI_SE_API_CODE")
    jwt_private_key_path: str | None = None
    jwt_algorithm: str = "ES256"
    requests_per_second: float = 20.0
    max_concurrency: int = 16

    def client(self, **overrides: Any) -> AmiliSeClient:
        """A new async client; use it as ``async with resource.client() as se:``.

        ``overrides`` replace constructor arguments (sensors pass short timeouts and no retries).
        """
        from pydantic import SecretStr

        from amili_pipelines.amili.se.client import AmiliSeClient

        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "api_code": SecretStr(self.api_code),
            "private_key_path": self.jwt_private_key_path,
            "jwt_algorithm": self.jwt_algorithm,
            "requests_per_second": self.requests_per_second,
            "max_concurrency": self.max_concurrency,
        }
        return AmiliSeClient(**{**kwargs, **overrides})


class AmiliNoResource(dg.ConfigurableResource):
    """Amili Norway (Collection API v1): invoice batches, cases, payments, settlements."""

    base_url: str
    auth_url: str
    client_id: str
    client_secret: str = Field(description="OAuth2 client secret; read from AMILI_NO_CLIENT_SECRET")
    requests_per_second: float = 10.0
    max_concurrency: int = 4
    batch_size: int = 100

    def client(self, **overrides: Any) -> AmiliNoClient:
        """A new async client; ``overrides`` replace constructor arguments."""
        from pydantic import SecretStr

        from amili_pipelines.amili.no.client import AmiliNoClient

        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "auth_url": self.auth_url,
            "client_id": self.client_id,
            "client_secret": SecretStr(self.client_secret),
            "requests_per_second": self.requests_per_second,
            "max_concurrency": self.max_concurrency,
        }
        return AmiliNoClient(**{**kwargs, **overrides})
