"""The operational DuckDB file: schema from versioned SQL files, bulk writes through Arrow."""

from amili_pipelines.warehouse.db import connect, migrate

__all__ = ["connect", "migrate"]
