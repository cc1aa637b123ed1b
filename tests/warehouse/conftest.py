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

IMPLEMENTATIONS = ["duckdb"]


def _open(kind: str, tmp_path: Path):
    if kind == "duckdb":
        return open_warehouse(tmp_path / "contract.duckdb")
    raise AssertionError(f"unknown store implementation {kind}")


@pytest.fixture(params=IMPLEMENTATIONS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    with _open(request.param, tmp_path) as wh:
        yield wh


@pytest.fixture()
def reopen(request: pytest.FixtureRequest, tmp_path: Path):
    """Open the same store again (a second run of the pipeline, after the first one closed it)."""
    kind = request.node.callspec.params["warehouse"]
    return lambda: _open(kind, tmp_path)
