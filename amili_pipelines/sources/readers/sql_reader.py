"""SQL databases through SQLAlchemy: a query or a table, streamed with a server-side cursor."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

from amili_pipelines.sources.readers import (
    RecordStream,
    SourceFileError,
    header_index,
    snippet,
)

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def expand_url(url: str) -> str:
    """``${VAR}`` parts come from the environment, so credentials stay out of the creditors file."""
    return _ENV.sub(lambda m: os.environ.get(m.group(1), ""), url)


def describe(url: str) -> str:
    """The URL without its password, for locations and messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(expand_url(url)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used for display
        return "<sql>"


def read_sql(url: str, *, query: str | None, table: str | None, columns: Mapping[str, str],
             batch_size: int = 10_000) -> RecordStream:
    from sqlalchemy import MetaData, Table, create_engine, select, text
    from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

    if not query and (not table or not _IDENT.match(table)):
        raise SourceFileError(f"{describe(url)}: a sql source needs a query or a plain table name "
                              f"(letters, digits, _ and a schema dot), got table={snippet(table, 40)!r}")
    try:
        engine = create_engine(expand_url(url))
        conn = engine.connect()
        if query:
            statement = text(query)
        else:
            # The table as the database describes it, quoted by SQLAlchemy: no SQL text of ours.
            schema, _, name = str(table).rpartition(".")
            statement = select(Table(name, MetaData(), schema=schema or None, autoload_with=conn))
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(statement)
    except NoSuchTableError as exc:
        raise SourceFileError(f"{describe(url)}: table {snippet(exc, 60)!r} not found") from None
    except SQLAlchemyError as exc:
        raise SourceFileError(f"{describe(url)}: query failed: {snippet(str(exc).splitlines()[0], 200)}") from None
    names = list(result.keys())
    try:
        found, missing = header_index(names, columns, where=describe(url))
    except SourceFileError:
        conn.close()
        engine.dispose()
        raise
    if not found:
        conn.close()
        engine.dispose()
        raise SourceFileError(f"{describe(url)}: none of the expected columns (got {snippet(', '.join(names[:6]))!r})")

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        row = 0
        try:
            for part in result.partitions(batch_size):
                for values in part:
                    row += 1
                    yield row, {f: values[i] for f, i in found}
        finally:
            conn.close()
            engine.dispose()

    def close() -> None:
        conn.close()
        engine.dispose()

    return RecordStream(records=records(), missing_columns=missing, close=close)
