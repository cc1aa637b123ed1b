"""The store contract suite runs against every store implementation, unchanged.

Each implementation is one parameter of the ``warehouse`` fixture: a fresh, empty, migrated
store per test. A second implementation joins by adding its name to ``IMPLEMENTATIONS`` and a
branch to ``_open``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amili_pipelines.warehouse import Warehouse, open_warehouse

IMPLEMENTATIONS = ["duckdb", "postgres"]


def _location(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "duckdb":
        return str(tmp_path / "contract.duckdb")
    if kind == "postgres":
        server = request.getfixturevalue("postgres_server")
        return server.create_database(f"contract_{abs(hash(str(tmp_path))) % 10**12}")
    raise AssertionError(f"unknown store implementation {kind}")


@pytest.fixture(params=IMPLEMENTATIONS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh, empty store of the implementation lives (a DuckDB file or a new database)."""
    return _location(request.param, request, tmp_path)


@pytest.fixture()
def warehouse(store_location: str) -> Iterator[Warehouse]:
    with open_warehouse(store_location) as wh:
        yield wh


@pytest.fixture()
def reopen(store_location: str):
    """Open the same store again (a second run of the pipeline, after the first one closed it)."""
    return lambda: open_warehouse(store_location)
