"""Fixtures for the source tests: a real DuckDB file, a throwaway PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.settings import load_creditors
from amili_pipelines.warehouse import Warehouse, open_warehouse
from tests.support.sources import DEMO_CREDITORS


@pytest.fixture()
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        yield wh


@pytest.fixture()
def demo_creditors() -> CreditorsFile:
    return load_creditors(DEMO_CREDITORS)


# -- PostgreSQL -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """A database on the session's PostgreSQL server, as a SQLAlchemy URL (psycopg 3)."""
    return postgres_server.create_database("invoices").replace("postgresql://", "postgresql+psycopg://")
