"""Moving an embedded installation to the production profile: every table of the DuckDB file
copied into an empty PostgreSQL store, in one transaction, counted before it commits.

The outbox moves with its states, idempotency keys and claims cleared, so the first production
run continues exactly where the last embedded one stopped: nothing registered is sent again
(its row says registered), nothing unclear is resent before a lookup (in_flight and
unknown_outcome rows are looked up first, as always).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from amili_pipelines.warehouse.duckdb import open_duckdb_warehouse
from amili_pipelines.warehouse.postgres import open_pg_warehouse

# Tables that must not be copied: the schema versions are each store's own.
_SKIP = frozenset({"schema_migrations"})
_BATCH_ROWS = 50_000


class TransferRefused(RuntimeError):
    """The target is not empty (a second transfer would duplicate rows), or the counts disagree."""


def transfer_store(duckdb_path: str | Path, database_url: str, *,
                   progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Copy every operational table from the DuckDB file into the (migrated, empty) PostgreSQL
    store. Returns rows per table. Raises :class:`TransferRefused` and changes nothing when the
    target already holds data or a table's count differs after the copy."""
    with open_duckdb_warehouse(duckdb_path, read_only=True) as source, open_pg_warehouse(database_url) as target:
        duck, pg = source.connection, target.session
        tables = [t for (t,) in duck.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name").fetchall()
            if t not in _SKIP]
        busy = [t for t in tables if pg.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {t} LIMIT 1) x")]
        if busy:
            raise TransferRefused(f"{target.location} already holds data ({', '.join(busy)}): the transfer goes into "
                                  "an empty store only, so that no row can arrive twice")
        counts: dict[str, int] = {}
        with target.transaction():
            for table in tables:
                pg_columns = {c for (c,) in pg.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND table_name = ?", [table]).fetchall()}
                columns = [c for (c,) in duck.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                    [table]).fetchall() if c in pg_columns]
                select = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" if c.endswith("_json") or c == "errors" else c
                                   for c in columns)
                reader = duck.execute(f"SELECT {select} FROM {table}").to_arrow_reader(_BATCH_ROWS)
                copied = 0
                for batch in reader:
                    copied += pg.copy_arrow(table, pa.Table.from_batches([batch]), columns=columns)
                expected = duck.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                landed = pg.scalar(f"SELECT count(*) FROM {table}")
                if copied != expected or landed != expected:
                    raise TransferRefused(f"{table}: {expected} rows in the file but {landed} arrived; nothing was "
                                          "committed")
                counts[table] = expected
                if progress:
                    progress(f"{table}: {expected} rows")
            # Claims belong to runs of the old installation, which are all gone.
            pg.execute("UPDATE registration_outbox SET claimed_by = NULL, lease_until = NULL")
    return counts
