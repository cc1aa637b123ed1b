"""The stores: every SQL statement of the product lives under this package.

Use cases and Dagster checks talk to a :class:`Warehouse`, a small typed store per aggregate
(invoices, outbox, cases, settlements, actions, reconciliation, analytics, status, the operator
audit, and one invoice's history across all of them). The embedded
implementation is one DuckDB file (``warehouse/duckdb/``); a second implementation plugs in behind
the same interfaces and runs the same contract test suite (``tests/warehouse``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from amili_pipelines.warehouse.actions import ActionStore
from amili_pipelines.warehouse.analytics import AnalyticsStore
from amili_pipelines.warehouse.audit import AuditStore
from amili_pipelines.warehouse.cases import CaseStore, SettlementStore
from amili_pipelines.warehouse.duckdb.connection import (
    WarehouseLocked,
    WarehouseMissing,
)
from amili_pipelines.warehouse.history import HistoryStore
from amili_pipelines.warehouse.invoices import InvoiceStore
from amili_pipelines.warehouse.outbox import OutboxStore
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
    audit: AuditStore
    history: HistoryStore

    def transaction(self) -> AbstractContextManager[None]:
        """Make every store call inside the block one atomic unit (calls nest)."""


@contextmanager
def open_warehouse(location: str | Path, *, read_only: bool = False,
                   on_wait: Callable[[str], None] | None = None) -> Iterator[Warehouse]:
    """Open the operational store at ``location`` (a DuckDB file path) and close it afterwards.

    Writers migrate the schema forward and wait (bounded) for another process's lock, calling
    ``on_wait`` once with who holds it; read-only opens never migrate and never create the file.
    """
    from amili_pipelines.warehouse.duckdb import open_duckdb_warehouse

    with open_duckdb_warehouse(location, read_only=read_only, on_wait=on_wait) as wh:
        yield wh


__all__ = ["Warehouse", "WarehouseLocked", "WarehouseMissing", "open_warehouse"]
