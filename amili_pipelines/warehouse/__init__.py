"""The stores: every SQL statement of the product lives under this package.

Use cases and Dagster checks talk to a :class:`Warehouse`, a small typed store per aggregate
(invoices, outbox, cases, settlements, actions, reconciliation, analytics, status, books,
reports, the operator audit, one invoice's history across all of them, shared rate limits). The
embedded implementation is one DuckDB file (``warehouse/duckdb/``), the production one PostgreSQL
(``warehouse/postgres/``); both run the same contract test suite (``tests/warehouse``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from amili_pipelines.warehouse.actions import ActionStore
from amili_pipelines.warehouse.analytics import AnalyticsStore
from amili_pipelines.warehouse.books import BooksStore, ReportStore
from amili_pipelines.warehouse.audit import AuditStore
from amili_pipelines.warehouse.cases import CaseStore, SettlementStore
from amili_pipelines.warehouse.duckdb.connection import (
    WarehouseLocked,
    WarehouseMissing,
)
from amili_pipelines.warehouse.history import HistoryStore
from amili_pipelines.warehouse.invoices import InvoiceStore
from amili_pipelines.warehouse.outbox import OutboxStore
from amili_pipelines.warehouse.rate_limits import RateLimitStore
from amili_pipelines.warehouse.reconciliation import ReconciliationStore
from amili_pipelines.warehouse.status import StatusStore


class Warehouse(Protocol):
    """The operational store, one typed store per aggregate."""

    location: str
    invoices: InvoiceStore
    outbox: OutboxStore
    cases: CaseStore
    settlements: SettlementStore
    actions: ActionStore
    reconciliation: ReconciliationStore
    analytics: AnalyticsStore
    status: StatusStore
    rate_limits: RateLimitStore
    books: BooksStore
    reports: ReportStore
    audit: AuditStore
    history: HistoryStore

    def transaction(self) -> AbstractContextManager[None]:
        """Make every store call inside the block one atomic unit (calls nest)."""

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """One process at a time inside the block for ``name`` (a partition being replaced, the
        reconciliation being rebuilt); a dead holder's turn ends with its connection."""


def is_database_url(location: str | Path) -> bool:
    """A PostgreSQL URL (production profile) rather than a DuckDB file path (embedded profile)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://", "postgresql+"))


@contextmanager
def open_warehouse(location: str | Path, *, read_only: bool = False,
                   on_wait: Callable[[str], None] | None = None) -> Iterator[Warehouse]:
    """Open the operational store at ``location`` and close it afterwards: a DuckDB file path
    (the embedded profile) or a ``postgresql://`` URL (the production profile).

    Writers migrate the schema forward; a DuckDB writer waits (bounded) for another process's
    lock, calling ``on_wait`` once with who holds it; read-only opens never migrate and never
    create the file.
    """
    if is_database_url(location):
        from amili_pipelines.warehouse.postgres import open_pg_warehouse

        with open_pg_warehouse(str(location), read_only=read_only) as pg:
            yield pg
        return
    from amili_pipelines.warehouse.duckdb import open_duckdb_warehouse

    with open_duckdb_warehouse(location, read_only=read_only, on_wait=on_wait) as wh:
        yield wh


__all__ = ["Warehouse", "WarehouseLocked", "WarehouseMissing", "is_database_url", "open_warehouse"]
