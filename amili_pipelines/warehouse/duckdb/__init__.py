"""The embedded store: one DuckDB file, one writing process at a time (pool ``duckdb_writer``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from amili_pipelines.warehouse.common.actions import SqlActionStore
from amili_pipelines.warehouse.common.audit import SqlAuditStore
from amili_pipelines.warehouse.common.books import SqlBooksStore
from amili_pipelines.warehouse.common.cases import SqlCaseStore, SqlSettlementStore
from amili_pipelines.warehouse.common.history import SqlHistoryStore
from amili_pipelines.warehouse.common.reconciliation import SqlReconciliationStore
from amili_pipelines.warehouse.common.reports import SqlReportStore
from amili_pipelines.warehouse.common.status import SqlStatusStore
from amili_pipelines.warehouse.duckdb.analytics import DuckDBAnalyticsStore
from amili_pipelines.warehouse.duckdb.connection import Session, connect
from amili_pipelines.warehouse.duckdb.invoices import DuckDBInvoiceStore
from amili_pipelines.warehouse.duckdb.outbox import DuckDBOutboxStore
from amili_pipelines.warehouse.outbox import outbox_lease
from amili_pipelines.warehouse.rate_limits import InProcessRateLimits


class DuckDBWarehouse:
    """Every store over one open connection. ``connection`` is for tests and tools, not use cases."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, *, location: str, read_only: bool = False) -> None:
        self.session = Session(conn, read_only=read_only)
        self.location = location
        self.invoices = DuckDBInvoiceStore(self.session)
        self.outbox = DuckDBOutboxStore(self.session, lease=outbox_lease())
        self.cases = SqlCaseStore(self.session)
        self.settlements = SqlSettlementStore(self.session)
        self.actions = SqlActionStore(self.session)
        self.reconciliation = SqlReconciliationStore(self.session)
        self.analytics = DuckDBAnalyticsStore(self.session)
        self.status = SqlStatusStore(self.session)
        self.rate_limits = InProcessRateLimits()
        self.books = SqlBooksStore(self.session)
        self.reports = SqlReportStore(self.session)
        self.audit = SqlAuditStore(self.session)
        self.history = SqlHistoryStore(self.session)
        if not read_only:
            self.outbox.release_dead_claims()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self.session.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.session.transaction():
            yield

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        # The file itself admits one writing process: nobody else can be inside the block.
        yield


@contextmanager
def open_duckdb_warehouse(path: str | Path, *, read_only: bool = False,
                          on_wait: Callable[[str], None] | None = None) -> Iterator[DuckDBWarehouse]:
    with connect(path, read_only=read_only, on_wait=on_wait) as conn:
        yield DuckDBWarehouse(conn, location=str(path), read_only=read_only)
