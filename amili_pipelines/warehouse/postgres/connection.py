"""Opening the operational PostgreSQL database, migrating its schema forward, and transactions.

Unlike the embedded DuckDB file, PostgreSQL takes any number of writing processes at once:
migrations take an advisory lock (two runs starting together migrate once), rows are claimed with
``FOR UPDATE SKIP LOCKED``, and nothing here needs the ``duckdb_writer`` pool.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# pg_advisory_xact_lock key: "amili" as a number, so concurrent runs migrate one at a time.
_MIGRATION_LOCK = 0x616D696C69


class WarehouseUnavailable(RuntimeError):
    """The PostgreSQL database cannot be reached; the message names it without its password."""


# Greedy to the last '@': a password may hold an unencoded '@' (libpq splits there too).
_USERINFO_PASSWORD = re.compile(r"://([^:/@]*):.*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


def describe(url: str) -> str:
    """The URL without its password (in the user part or a ``password=`` parameter), for messages."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"://\1:***@", url))


def _passwords(url: str) -> list[str]:
    userinfo = re.search(r"://[^:/@]*:(.*)@", url)
    found = [userinfo.group(1)] if userinfo else []
    found += [m.group(1) for m in re.finditer(r"[?&](?:ssl)?password=([^&#]*)", url, re.IGNORECASE)]
    return [p for p in found if p]


def _redact(text: str, url: str) -> str:
    """The driver's message without any piece of the password (libpq quotes a host that a stray '@'
    made of part of it)."""
    for secret in _passwords(url):
        for piece in {secret, *secret.split("@")}:
            if len(piece) >= 3:
                text = text.replace(piece, "***")
    return text


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("amili_pipelines.warehouse.postgres").joinpath("sql").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    return found


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every SQL file in ``postgres/sql`` not yet applied, in version order, under a lock."""
    done = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                     " name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'))")
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, name, sql in _migrations():
            if version in applied:
                continue
            conn.execute(sql)  # type: ignore[arg-type] - a trusted file of this package
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", [version, name])
            done.append(name)
    return done


@lru_cache(maxsize=512)
def pyformat(sql: str) -> str:
    """``?`` placeholders (the stores' common style) as psycopg's ``%s``; ``%`` outside strings doubled."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif quoted:
            out.append("%%" if ch == "%" else ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


@contextmanager
def connect(url: str, *, read_only: bool = False, application: str = "amili-pipelines") -> Iterator[psycopg.Connection]:
    """A connection (autocommit outside explicit transactions), migrated for writers, always closed."""
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)  # SQLAlchemy-style driver suffixes
    try:
        conn = psycopg.connect(url, autocommit=True, application_name=application, connect_timeout=15)
    except psycopg.OperationalError as exc:
        said = _redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
        raise WarehouseUnavailable(f"{describe(url)} cannot be reached: {said}") from None
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
        else:
            migrate(conn)
        yield conn
    finally:
        conn.close()


class PgSession:
    """One connection; ``transaction()`` blocks nest (psycopg turns inner ones into savepoints)."""

    row_id = "id"
    fingerprint = "hashtextextended(CAST(ROW({}) AS TEXT), 0)"

    def __init__(self, conn: psycopg.Connection, *, read_only: bool = False) -> None:
        self.conn = conn
        self.read_only = read_only
        # lower() follows the database's LC_CTYPE: under C (as initdb --locale=C makes it) 'FÄLT'
        # lowers to 'fÄlt', where DuckDB gives 'fält'. ICU's root collation folds every letter.
        icu = conn.execute("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'").fetchone()
        self.casefold = 'lower(CAST({} AS TEXT) COLLATE "und-x-icu")' if icu and icu[0] else "lower({})"

    def table_exists(self, name: str) -> bool:
        return bool(self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
                                " AND table_schema = current_schema()", [name]))

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        with self.conn.transaction():
            yield self.conn

    def execute(self, sql: str, params: Sequence | None = None) -> psycopg.Cursor:
        if params is None:
            return self.conn.execute(sql)  # type: ignore[arg-type]
        return self.conn.execute(pyformat(sql), list(params))  # type: ignore[arg-type]

    def scalar(self, sql: str, params: Sequence | None = None):  # noqa: ANN201 - any SQL value
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    def copy_arrow(self, table: str, data: pa.Table, *, columns: Sequence[str] | None = None) -> int:
        """Bulk-load an Arrow table through COPY. CSV with every value quoted: an unquoted empty
        field is NULL to PostgreSQL, a quoted one an empty string, so the two never mix."""
        if data.num_rows == 0:
            return 0
        cols = list(columns or data.column_names)
        buf = io.BytesIO()
        pacsv.write_csv(data.select(cols), buf, write_options=pacsv.WriteOptions(include_header=False,
                                                                                   quoting_style="all_valid"))
        with self.conn.cursor().copy(
            f"COPY {table} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)"  # type: ignore[arg-type]
        ) as copy:
            copy.write(buf.getvalue())
        return data.num_rows

    def stage(self, name: str, data: pa.Table, *, like: str | None = None,
              types: dict[str, str] | None = None) -> None:
        """A temporary table ``name`` (replacing one of that name) holding ``data``, its columns typed
        like those of table ``like`` or as ``types`` says."""
        self.execute(f"DROP TABLE IF EXISTS {name}")
        if like is not None:
            self.execute(f"CREATE TEMP TABLE {name} AS SELECT {', '.join(data.column_names)} FROM {like} WITH NO DATA")
        else:
            assert types is not None, "stage needs the column types: like=<table> or types={column: type}"
            self.execute(f"CREATE TEMP TABLE {name} ({', '.join(f'{c} {types[c]}' for c in data.column_names)})")
        self.copy_arrow(name, data)
