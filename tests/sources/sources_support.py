"""Helpers shared by the source tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from amili_pipelines.config import PROJECT_ROOT, CreditorsFile, load_creditors
from amili_pipelines.warehouse.db import _migrations

DEMO_CREDITORS = PROJECT_ROOT / "creditors.yaml"


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB file with the schema this area owns (migrations 001-002).

    Later migrations belong to other areas and evolve independently; applying only ours keeps
    these tests about sources and validation.
    """
    conn = duckdb.connect(str(path))
    for version, _, sql in _migrations():
        if version <= 2:
            conn.execute(sql)
    return conn


def creditors_with(tmp_path: Path, yaml_text: str) -> CreditorsFile:
    p = tmp_path / "creditors.yaml"
    p.write_text(yaml_text, encoding="utf-8")
    return load_creditors(p)


