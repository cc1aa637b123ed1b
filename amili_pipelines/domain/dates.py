"""Moments in time as the warehouse stores them: naive UTC timestamps and plain dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def utcnow() -> datetime:
    """Naive UTC 'now' (the warehouse's TIMESTAMP columns are naive UTC throughout)."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(value: datetime | None) -> datetime | None:
    """An aware datetime converted to naive UTC; naive ones are taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def as_date(value: Any) -> date | None:
    """The calendar day (UTC) of a datetime, a date as is, anything else None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return naive_utc(value).date()  # type: ignore[union-attr]
    if isinstance(value, date):
        return value
    return None
