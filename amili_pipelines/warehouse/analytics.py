"""The analytics aggregate: the database analysts read, published from the operational store."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Protocol


class AnalyticsStore(Protocol):
    def publish(self, *, analytics_path: str | Path, as_of: date, published_at: str) -> dict[str, int]:
        """Write the analysts' DuckDB file (identity numbers masked) and replace the old one in one
        step, so a reader sees either the old file or the new one. Returns row counts per table."""
