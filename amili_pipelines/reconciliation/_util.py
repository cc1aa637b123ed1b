"""Small helpers shared by the reconciliation use cases (no I/O beyond the DuckDB connection given)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def utcnow() -> datetime:
    """Naive UTC 'now' (DuckDB TIMESTAMP columns are naive UTC throughout the warehouse)."""
    return datetime.now(UTC).replace(tzinfo=None)


def money(value: Any) -> Decimal | None:
    """Any API amount (Decimal, float, int, str) as a Decimal rounded to the öre/øre; None stays None."""
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money0(value: Any) -> Decimal:
    m = money(value)
    return ZERO if m is None else m


def naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return naive_utc(value).date()
    if isinstance(value, date):
        return value
    return None


def to_json(value: Any) -> str:
    """JSON for raw_json columns; pydantic models dumped in JSON mode (dates as strings)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", by_alias=True)
    return json.dumps(value, default=str, separators=(",", ":"))


def table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
            [name],
        ).fetchone()[0]
    )


def column_names(conn: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()",
            [name],
        ).fetchall()
    }
