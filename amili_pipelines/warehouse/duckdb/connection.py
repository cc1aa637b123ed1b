"""Opening the operational DuckDB file, migrating its schema forward, and transactions.

Only pipeline runs open this file read-write, one process at a time (Dagster pool
``duckdb_writer``, limit 1). DuckDB's lock is per process and file: a second writer, or a reader
that holds the file open, makes an open fail. Writers therefore retry with backoff for a bounded
time and then say which process holds the lock; read-only commands never migrate.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# DuckDB caches up to 80 % of RAM by default; a pipeline step needs far less and spills to disk
# beyond the limit, so a 1,000,000-invoice run stays in bounded memory.
DEFAULT_MEMORY_LIMIT = "512MB"
# How long a writer waits for another process to let go of the file before it gives up.
DEFAULT_LOCK_TIMEOUT_S = 60.0
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


class WarehouseLocked(RuntimeError):
    """Another process holds the DuckDB file; the message names it and what to do."""


class WarehouseMissing(FileNotFoundError):
    """A read-only open of a file that does not exist yet (nothing has run)."""


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("amili_pipelines.warehouse.duckdb").joinpath("sql").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number: {[n for _, n, _ in found]}")
    return found


def migrate(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every SQL file in ``duckdb/sql`` not yet applied, in version order. Returns their names."""
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


def describe_lock_holder(message: str) -> str:
    """'PID 123 (python -m amili_pipelines ...)' from DuckDB's lock error, as far as it can be known."""
    m = _LOCK_HOLDER.search(message)
    if not m:
        return "another process"
    pid = m.group("pid")
    command = m.group("exe")
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        if raw:
            command = _shown_command([part.decode(errors="replace") for part in raw.split(b"\0") if part])
    except OSError:
        pass
    return f"PID {pid} ({command})"


# A process's arguments may carry a secret ("--password x", "postgresql://u:p@h"); this message is
# printed and logged, so such an argument, and the one after it, is left out.
_SECRETISH = re.compile(r"(?i)pass|secret|token|key|pwd|credential|://[^/\s]*@")


def _shown_command(parts: list[str]) -> str:
    shown, hide_next = [], False
    for part in parts[:8]:
        secret = bool(_SECRETISH.search(part))
        shown.append("…" if secret or hide_next else part)
        hide_next = secret and "=" not in part
    return " ".join(shown)[:200]


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def open_with_retry(
    opener: Callable[[], duckdb.DuckDBPyConnection], *, path: Path, timeout_s: float,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Call ``opener`` until the file lock is free, backing off up to ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    told = False
    while True:
        try:
            return opener()
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            holder = describe_lock_holder(str(exc))
            if time.monotonic() + delay > deadline:
                raise WarehouseLocked(
                    f"{path} is locked by {holder}; waited {timeout_s:.0f} s. DuckDB allows one process at a "
                    "time: close that program (an analyst's notebook or SQL tool must read the published "
                    "analytics copy instead), or wait for the run that holds it to finish."
                ) from None
            if on_wait is not None and not told:
                on_wait(f"{path} is locked by {holder}; waiting up to {timeout_s:.0f} s for it")
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def lock_timeout() -> float:
    env = os.environ.get("AMILI_DUCKDB_LOCK_TIMEOUT")
    return float(env) if env else DEFAULT_LOCK_TIMEOUT_S


@contextmanager
def connect(
    path: str | Path, *, read_only: bool = False, memory_limit: str | None = None,
    lock_timeout_s: float | None = None, on_wait: Callable[[str], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB file, migrated to the current schema (writers only), and always close it.

    ``memory_limit`` defaults to ``AMILI_DUCKDB_MEMORY_LIMIT`` or 512MB; ``lock_timeout_s`` to
    ``AMILI_DUCKDB_LOCK_TIMEOUT`` or 60 s. A read-only open of a missing file raises
    :class:`WarehouseMissing` instead of creating it.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseMissing(f"{path} does not exist yet: nothing has been extracted or registered there")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    limit = memory_limit or os.environ.get("AMILI_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    conn = open_with_retry(
        lambda: duckdb.connect(str(path), read_only=read_only, config={"memory_limit": limit}),
        path=path, timeout_s=lock_timeout() if lock_timeout_s is None else lock_timeout_s, on_wait=on_wait,
    )
    try:
        if not read_only:
            migrate(conn)
        yield conn
    finally:
        conn.close()


class Session:
    """One connection and its transaction depth: store methods nest inside a caller's transaction.

    DuckDB has no nested transactions; a store method that wants atomicity opens one only when no
    caller has, so a use case can wrap several store calls in one transaction.
    """

    row_id = "rowid"
    fingerprint = "hash({})"

    def __init__(self, conn: duckdb.DuckDBPyConnection, *, read_only: bool = False) -> None:
        self.conn = conn
        self.read_only = read_only
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: list | tuple | None = None) -> duckdb.DuckDBPyConnection:
        return self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)

    def scalar(self, sql: str, params: list | tuple | None = None):  # noqa: ANN201 - any SQL value
        # fetchall, not fetchone: DuckDB refuses new work on a connection with an unfinished result.
        rows = self.execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    def stage(self, name: str, data: pa.Table, *, like: str | None = None,
              types: dict[str, str] | None = None) -> None:
        """A temporary table ``name`` holding ``data`` (Arrow's types are DuckDB's: ``like`` and
        ``types`` are for PostgreSQL)."""
        # A relation, not register/unregister: an unregistered view keeps its Arrow table alive
        # until the surrounding transaction commits.
        view = f"_arrow_{name}"
        self.conn.from_arrow(data).query(view, f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")

    def table_exists(self, name: str) -> bool:
        return bool(self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
            [name]))
