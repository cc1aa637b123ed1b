"""The embedded store: one DuckDB file, one writing process at a time (pool ``duckdb_writer``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from amili_pipelines.warehouse.duckdb.actions import DuckDBActionStore
from amili_pipelines.warehouse.duckdb.analytics import DuckDBAnalyticsStore
from amili_pipelines.warehouse.duckdb.audit import DuckDBAuditStore
from amili_pipelines.warehouse.duckdb.cases import (
    DuckDBCaseStore,
    DuckDBSettlementStore,
)
from amili_pipelines.warehouse.duckdb.connection import Session, connect
from amili_pipelines.warehouse.duckdb.history import DuckDBHistoryStore
from amili_pipelines.warehouse.duckdb.invoices import DuckDBInvoiceStore
from amili_pipelines.warehouse.duckdb.outbox import DuckDBOutboxStore
from amili_pipelines.warehouse.duckdb.reconciliation import DuckDBReconciliationStore
from amili_pipelines.warehouse.duckdb.status import DuckDBStatusStore


class DuckDBWarehouse:
    """Every store over one open connection. ``connection`` is for tests and tools, not use cases."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, *, location: str, read_only: bool = False) -> None:
        self.session = Session(conn, read_only=read_only)
        self.location = location
        self.invoices = DuckDBInvoiceStore(self.session)
        self.outbox = DuckDBOutboxStore(self.session)
        self.cases = DuckDBCaseStore(self.session)
        self.settlements = DuckDBSettlementStore(self.session)
        self.actions = DuckDBActionStore(self.session)
        self.reconciliation = DuckDBReconciliationStore(self.session)
        self.analytics = DuckDBAnalyticsStore(self.session)
        self.status = DuckDBStatusStore(self.session)
        self.audit = DuckDBAuditStore(self.session)
        self.history = DuckDBHistoryStore(self.session)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self.session.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.session.transaction():
            yield


@contextmanager
def open_duckdb_warehouse(path: str | Path, *, read_only: bool = False,
                          on_wait: Callable[[str], None] | None = None) -> Iterator[DuckDBWarehouse]:
    with connect(path, read_only=read_only, on_wait=on_wait) as conn:
        yield DuckDBWarehouse(conn, location=str(path), read_only=read_only)
