"""The production store: PostgreSQL, any number of writing processes at once.

Selected by giving ``open_warehouse`` a ``postgresql://`` URL (``AMILI_DATABASE_URL``). The stores
whose SQL is portable are shared with DuckDB (:mod:`amili_pipelines.warehouse.common`); the
outbox and the invoices have their own, for row claims and COPY.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from amili_pipelines.warehouse.common.actions import SqlActionStore
from amili_pipelines.warehouse.common.audit import SqlAuditStore
from amili_pipelines.warehouse.common.books import SqlBooksStore
from amili_pipelines.warehouse.common.cases import SqlCaseStore, SqlSettlementStore
from amili_pipelines.warehouse.common.history import SqlHistoryStore
from amili_pipelines.warehouse.common.reconciliation import SqlReconciliationStore
from amili_pipelines.warehouse.common.reports import SqlReportStore
from amili_pipelines.warehouse.common.status import SqlStatusStore
from amili_pipelines.warehouse.postgres.analytics import PgAnalyticsStore
from amili_pipelines.warehouse.postgres.connection import PgSession, connect, describe
from amili_pipelines.warehouse.postgres.invoices import PgInvoiceStore
from amili_pipelines.warehouse.outbox import outbox_lease
from amili_pipelines.warehouse.postgres.outbox import PgOutboxStore
from amili_pipelines.warehouse.postgres.rate_limits import PgRateLimitStore

class PgWarehouse:
    """Every store over one connection. ``connection`` is for tests and tools, not use cases."""

    def __init__(self, conn: psycopg.Connection, *, location: str, read_only: bool = False) -> None:
        self.session = PgSession(conn, read_only=read_only)
        self.location = describe(location)
        self.invoices = PgInvoiceStore(self.session)
        self.outbox = PgOutboxStore(self.session, lease=outbox_lease())
        self.cases = SqlCaseStore(self.session)
        self.settlements = SqlSettlementStore(self.session)
        self.actions = SqlActionStore(self.session)
        self.reconciliation = SqlReconciliationStore(self.session)
        self.analytics = PgAnalyticsStore(self.session)
        self.status = SqlStatusStore(self.session)
        self.rate_limits = PgRateLimitStore(self.session)
        self.books = SqlBooksStore(self.session)
        self.reports = SqlReportStore(self.session)
        self.audit = SqlAuditStore(self.session)
        self.history = SqlHistoryStore(self.session)

    @property
    def connection(self) -> psycopg.Connection:
        return self.session.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.session.transaction():
            yield

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A session advisory lock: waits for another process inside the block for ``name``; the
        server releases it if this process dies."""
        self.session.execute("SELECT pg_advisory_lock(hashtextextended(?, 0))", [name])
        try:
            yield
        finally:
            # A lost connection took the lock with it; unlocking would only replace the server's
            # reason (the error being raised) with "the connection is closed".
            if not self.session.conn.closed:
                self.session.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", [name])


@contextmanager
def open_pg_warehouse(url: str, *, read_only: bool = False) -> Iterator[PgWarehouse]:
    with connect(url, read_only=read_only) as conn:
        yield PgWarehouse(conn, location=url, read_only=read_only)
