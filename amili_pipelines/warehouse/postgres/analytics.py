"""PostgreSQL: the analysts' DuckDB file, published from the operational database.

Analysts keep querying a DuckDB file in the production profile too: the tables the publish SQL
reads are streamed out of PostgreSQL (COPY, CSV) into a scratch DuckDB database, and the very
same publish step as in the embedded profile (:mod:`amili_pipelines.warehouse.duckdb.analytics`:
masking, atomic replacement) writes the file. PostgreSQL is never exposed to analysts' tools, and
their file never locks a pipeline run.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import psycopg

from amili_pipelines.warehouse.duckdb.analytics import PUBLISHED, DuckDBAnalyticsStore
from amili_pipelines.warehouse.duckdb.connection import Session
from amili_pipelines.warehouse.postgres.connection import PgSession

_SOURCES = sorted({m.group(1) for sql in PUBLISHED.values() for m in re.finditer(r"\bsrc\.(\w+)", sql)})
_DUCK_TYPES = {"text": "VARCHAR", "character varying": "VARCHAR", "date": "DATE",
               "timestamp without time zone": "TIMESTAMP", "boolean": "BOOLEAN", "integer": "INTEGER",
               "bigint": "BIGINT", "json": "VARCHAR", "jsonb": "VARCHAR", "double precision": "DOUBLE"}


def _duck_type(data_type: str, precision: int | None, scale: int | None) -> str:
    """The DuckDB type of a PostgreSQL column, so the file has the types the embedded profile gives.

    A money column keeps its declared NUMERIC(p, s) (the embedded profile's DECIMAL(18, 2)); an
    unconstrained NUMERIC is a view's sum of such columns, DECIMAL(38, 2) as DuckDB's own sum is.
    """
    if data_type == "numeric":
        return f"DECIMAL({precision}, {scale})" if precision is not None and scale is not None else "DECIMAL(38, 2)"
    return _DUCK_TYPES.get(data_type, "VARCHAR")


class PgAnalyticsStore:
    def __init__(self, session: PgSession) -> None:
        self.db = session

    def _columns(self, relation: str) -> list[tuple[str, str, str]]:
        """(name, PostgreSQL type, DuckDB type) of each column of ``relation``."""
        rows = self.db.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position", [relation]).fetchall()
        return [(c, t, _duck_type(t, p, s)) for c, t, p, s in rows]

    def _copy_out(self, relation: str, target: duckdb.DuckDBPyConnection, scratch: Path) -> None:
        columns = self._columns(relation)
        select = ", ".join(f"{c}::text" if t in ("json", "jsonb") else c for c, t, _ in columns)
        csv_path = scratch / f"{relation}.csv"
        with open(csv_path, "wb") as out, self.db.conn.cursor().copy(
            f"COPY (SELECT {select} FROM {relation}) TO STDOUT WITH (FORMAT csv)"  # type: ignore[arg-type]
        ) as copy:
            for block in copy:
                out.write(block)
        types = ", ".join(f"'{c}': '{duck}'" for c, _, duck in columns)
        # A quoted empty field is an empty string, an unquoted one NULL: as PostgreSQL wrote them.
        target.execute(f"CREATE TABLE {relation} AS SELECT * FROM read_csv('{csv_path.as_posix()}', header = false,"
                       f" columns = {{{types}}}, allow_quoted_nulls = false, auto_detect = false)")

    def publish(self, *, analytics_path: str | Path, as_of: date, published_at: str) -> dict[str, int]:
        outer = self.db.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        with tempfile.TemporaryDirectory(prefix="amili-publish-") as tmp, self.db.transaction():
            if not outer:
                # Every table read from one snapshot: the file never mixes two moments (and no
                # concurrent writer waits for it).
                self.db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            scratch = Path(tmp)
            duck = duckdb.connect(str(scratch / "source.duckdb"))
            try:
                for relation in _SOURCES:
                    self._copy_out(relation, duck, scratch)
                return DuckDBAnalyticsStore(Session(duck)).publish(analytics_path=analytics_path, as_of=as_of,
                                                                   published_at=published_at)
            finally:
                duck.close()
