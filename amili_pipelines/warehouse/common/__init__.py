"""Stores written once for both databases: their SQL runs unchanged on DuckDB and PostgreSQL.

Each takes a :class:`SqlSession` (``duckdb.connection.Session`` or ``postgres.connection.PgSession``).
Portable means: explicit GROUP BY lists, ``CAST`` and ``concat``, window functions instead of
``arg_max``, ``?`` placeholders; bulk input is staged with :meth:`SqlSession.stage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pyarrow as pa


class SqlSession(Protocol):
    row_id: str  # the column that orders rows as inserted: DuckDB's rowid, PostgreSQL's id
    # A 64-bit hash of the columns put in {} (comma-separated), to find rows that differ without
    # comparing every column: DuckDB's hash(...), PostgreSQL's hashtextextended of the row's text.
    fingerprint: str

    def table_exists(self, name: str) -> bool: ...

    def transaction(self) -> AbstractContextManager[Any]:
        """One atomic unit; blocks nest."""

    def execute(self, sql: str, params: Sequence | None = None) -> Any:
        """Run one statement with ``?`` placeholders; the result has ``fetchall``/``fetchone``."""

    def scalar(self, sql: str, params: Sequence | None = None) -> Any: ...

    def stage(self, name: str, data: pa.Table, *, like: str | None = None,
              types: dict[str, str] | None = None) -> None:
        """A temporary table ``name`` holding ``data``, typed like table ``like`` or as ``types`` says
        (DuckDB takes Arrow's types and needs neither)."""


def casefold(session: object, expr: str) -> str:
    """SQL lowercasing ``expr`` for case-insensitive matching, Nordic letters included: a session
    may say how (``casefold``: PostgreSQL's ``lower()`` folds only ASCII in a C-locale database)."""
    return str(getattr(session, "casefold", "lower({})")).format(expr)
