"""Dagster resources: typed wrappers around the Amili connections, the warehouse and the creditors file.

Secrets come in as ``dg.EnvVar`` and are resolved at launch; they never reach metadata or logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field, SecretStr

from amili_pipelines.amili.clients import (
    AmiliClients,
    NoConnection,
    SeConnection,
    open_clients,
)
from amili_pipelines.amili.limits import NO_BATCH_SIZE, NO_LIMITS, SE_LIMITS
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.masking import MaskedError
from amili_pipelines.settings import Settings, load_creditors
from amili_pipelines.warehouse import Warehouse, open_warehouse
from amili_pipelines.warehouse.inbox import WebhookInbox
from amili_pipelines.warehouse.spool import open_inbox

T = TypeVar("T")


class WarehouseResource(dg.ConfigurableResource):
    """The operational store. Open it only inside runs, in the ``duckdb_writer`` pool."""

    path: str = Field(description="Path of the operational DuckDB file (AMILI_DUCKDB_PATH)")
    analytics_path: str = Field(description="Path of the published analytics copy (AMILI_ANALYTICS_PATH)")
    database_url: str | None = Field(
        default=None, description="Production profile: the operational PostgreSQL database (AMILI_DATABASE_URL); "
                                  "when set, it is the store instead of the DuckDB file")

    @contextmanager
    def open(self, *, read_only: bool = False, log: Callable[[str], None] | None = None) -> Iterator[Warehouse]:
        """The warehouse, waiting (bounded) for another process's lock and saying who holds it.

        Every asset body works inside this block: an error raised in it whose message quotes an
        identity number reaches the run's event log (and the UI) masked."""
        try:
            with open_warehouse(self.database_url or self.path, read_only=read_only, on_wait=log) as wh:
                yield wh
        except Exception as exc:
            masked = MaskedError.of(exc)
            if masked is exc:
                raise
            raise masked from None


class BooksResource(dg.ConfigurableResource):
    """Where the files for the creditors' books and the reports go."""

    books_dir: str = Field(description="ERP feedback files, SIE/journal files and workbooks (AMILI_BOOKS_DIR)")
    reports_dir: str = Field(description="HTML reports; latest.html is the newest (AMILI_REPORTS_DIR)")
    reports_keep: int = Field(default=30, description="How many per-run reports to keep (AMILI_REPORTS_KEEP)")


class CreditorsResource(dg.ConfigurableResource):
    """The creditors file: each creditor's market, Amili ids and sources."""

    path: str = Field(description="Path of the creditors YAML file (AMILI_CREDITORS_FILE)")

    def load(self) -> CreditorsFile:
        return load_creditors(self.path)


class WebhookInboxResource(dg.ConfigurableResource):
    """Norway's pushed events as the receiver stored them: files, never the operational store, so the
    inbox sensor may read it."""

    path: str = Field(description="The inbox directory (AMILI_WEBHOOK_INBOX)")
    keep_days: int = Field(default=30, description="Processed events are forgotten after this many days "
                                                   "(AMILI_WEBHOOK_INBOX_KEEP_DAYS)")

    def open(self) -> WebhookInbox:
        return open_inbox(self.path)


class AmiliSeResource(dg.ConfigurableResource):
    """Amili Sweden (ADA API): invoice registration, cases, creditor actions, finance."""

    base_url: str
    api_code: str = Field(description="API code issued by Visma Amili; read from AMILI_SE_API_CODE")
    jwt_private_key_path: str | None = None
    jwt_algorithm: str = "ES256"
    requests_per_second: float = SE_LIMITS.requests_per_second
    max_concurrency: int = SE_LIMITS.max_concurrency

    def connection(self) -> SeConnection:
        return SeConnection(
            base_url=self.base_url, api_code=SecretStr(self.api_code), jwt_private_key_path=self.jwt_private_key_path,
            jwt_algorithm=self.jwt_algorithm, requests_per_second=self.requests_per_second,
            max_concurrency=self.max_concurrency,
        )


class AmiliNoResource(dg.ConfigurableResource):
    """Amili Norway (Collection API v1): invoice batches, cases, payments, settlements."""

    base_url: str
    auth_url: str
    client_id: str
    client_secret: str = Field(description="OAuth2 client secret; read from AMILI_NO_CLIENT_SECRET")
    requests_per_second: float = NO_LIMITS.requests_per_second
    max_concurrency: int = NO_LIMITS.max_concurrency
    batch_size: int = NO_BATCH_SIZE

    def connection(self) -> NoConnection:
        return NoConnection(
            base_url=self.base_url, auth_url=self.auth_url, client_id=self.client_id,
            client_secret=SecretStr(self.client_secret), requests_per_second=self.requests_per_second,
            max_concurrency=self.max_concurrency,
        )


def run_with_clients(
    work: Callable[[AmiliClients], Awaitable[T]], *, creditors: CreditorsFile, amili_se: AmiliSeResource,
    amili_no: AmiliNoResource, **overrides: Any,
) -> T:
    """Run async ``work`` with a client open for every market that has creditors."""

    async def go() -> T:
        async with open_clients(markets=creditors.markets, se=amili_se.connection(), no=amili_no.connection(),
                                **overrides) as clients:
            return await work(clients)

    return asyncio.run(go())


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(
            path=str(settings.duckdb_path), analytics_path=str(settings.analytics_path),
            # the URL may carry a password: resolved when a run starts, never shown in the UI
            database_url=dg.EnvVar("AMILI_DATABASE_URL") if settings.profile == "production" else None,
        ),
        "creditors": CreditorsResource(path=str(settings.creditors_file)),
        "books": BooksResource(books_dir=str(settings.books_path), reports_dir=str(settings.reports_path),
                               reports_keep=settings.reports_keep),
        "webhook_inbox": WebhookInboxResource(path=str(settings.webhook_inbox),
                                              keep_days=settings.webhook_inbox_keep_days),
        "amili_se": AmiliSeResource(
            base_url=settings.se_base_url,
            api_code=dg.EnvVar("AMILI_SE_API_CODE"),
            jwt_private_key_path=str(settings.se_jwt_private_key_path) if settings.se_jwt_private_key_path else None,
            jwt_algorithm=settings.se_jwt_algorithm,
            requests_per_second=settings.se_requests_per_second,
            max_concurrency=settings.se_max_concurrency,
        ),
        "amili_no": AmiliNoResource(
            base_url=settings.no_base_url,
            auth_url=settings.no_auth_url,
            client_id=settings.no_client_id,
            client_secret=dg.EnvVar("AMILI_NO_CLIENT_SECRET"),
            requests_per_second=settings.no_requests_per_second,
            max_concurrency=settings.no_max_concurrency,
            batch_size=settings.no_batch_size,
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    """Every resource, configured from the environment (``AMILI_*``) when the code location loads."""
    return dg.Definitions(resources=build_resources(Settings()))
