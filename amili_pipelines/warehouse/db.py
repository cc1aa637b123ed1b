"""Opening the operational DuckDB file and migrating its schema forward.

Only pipeline runs open this file read-write, and only one at a time (Dagster pool
``duckdb_writer``, limit 1). Analysts read the published copy instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# DuckDB caches up to 80 % of RAM by default; a pipeline step needs far less and spills to disk
# beyond the limit, so a 1,000,000-invoice run stays in bounded memory.
DEFAULT_MEMORY_LIMIT = "512MB"


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("amili_pipelines.warehouse").joinpath("sql").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number: {[n for _, n, _ in found]}")
    return found


def migrate(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every SQL file in ``warehouse/sql`` not yet applied, in version order. Returns their names."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    done = []
    for version, name, sql in _migrations():
        if version in applied:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        done.append(name)
    return done


@contextmanager
def connect(
    path: str | Path, *, read_only: bool = False, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB file, migrated to the current schema (writers only), and always close it.

    ``memory_limit`` defaults to ``AMILI_DUCKDB_MEMORY_LIMIT`` or 512MB.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    limit = memory_limit or os.environ.get("AMILI_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    conn = duckdb.connect(str(path), read_only=read_only, config={"memory_limit": limit})
    try:
        if not read_only:
            migrate(conn)
        yield conn
    finally:
        conn.close()
