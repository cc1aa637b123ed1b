"""The production store: PostgreSQL, any number of writing processes at once.

Selected by giving ``open_warehouse`` a ``postgresql://`` URL (``AMILI_DATABASE_URL``). The stores
whose SQL is portable are shared with DuckDB (:mod:`amili_pipelines.warehouse.common`); the
outbox and the invoices have their own, for row claims and COPY.
"""

from __future__ import annotations

import logging
import os
import time
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
from amili_pipelines.warehouse.duckdb.connection import WarehouseLocked
from amili_pipelines.warehouse.postgres.analytics import PgAnalyticsStore
from amili_pipelines.warehouse.postgres.connection import PgSession, connect, describe
from amili_pipelines.warehouse.postgres.invoices import PgInvoiceStore
from amili_pipelines.warehouse.outbox import outbox_lease
from amili_pipelines.warehouse.postgres.outbox import PgOutboxStore
from amili_pipelines.warehouse.postgres.rate_limits import PgRateLimitStore

log = logging.getLogger(__name__)
DEFAULT_EXCLUSIVE_WAIT_S = 600.0


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
        server releases it if this process dies.

        The wait is bounded (``AMILI_EXCLUSIVE_WAIT_S``, 600 s) and says who holds it: a run stuck
        inside the block would otherwise hold every later run for ever, in silence."""
        waited, bound = 0.0, exclusive_wait_bound()
        while not self.session.scalar("SELECT pg_try_advisory_lock(hashtextextended(?, 0))", [name]):
            if waited >= bound:
                raise WarehouseLocked(f"{name}: held by {self._holder(name)} for longer than {bound:.0f} s "
                                      "(AMILI_EXCLUSIVE_WAIT_S); what needs it was not done: run again once "
                                      "that one has finished")
            if waited == 0 or int(waited) % 30 == 0:
                log.info("waiting for %s, held by %s", name, self._holder(name))
            time.sleep(min(1.0, bound - waited))
            waited += min(1.0, bound - waited)
        try:
            yield
        finally:
            # A lost connection took the lock with it; unlocking would only replace the server's
            # reason (the error being raised) with "the connection is closed".
            if not self.session.conn.closed:
                self.session.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", [name])


    def _holder(self, name: str) -> str:
        """The session holding the advisory lock for ``name``: pid, application, since when."""
        row = self.session.execute(
            """SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                 AND l.classid::bigint = (hashtextextended(?, 0) >> 32) & 4294967295
                 AND l.objid::bigint = hashtextextended(?, 0) & 4294967295""", [name, name]).fetchone()
        if row is None:
            return "another session"
        pid, application, since = row
        return f"PID {pid} on the database server ({application or 'no application name'}, connected {since:%Y-%m-%d %H:%M})"


def exclusive_wait_bound() -> float:
    env = os.environ.get("AMILI_EXCLUSIVE_WAIT_S")
    return float(env) if env else DEFAULT_EXCLUSIVE_WAIT_S


@contextmanager
def open_pg_warehouse(url: str, *, read_only: bool = False) -> Iterator[PgWarehouse]:
    with connect(url, read_only=read_only) as conn:
        yield PgWarehouse(conn, location=url, read_only=read_only)
