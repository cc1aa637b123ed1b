"""Field types shared by the Swedish and Norwegian models: tolerant dates, money as Decimal.

Amili Sweden documents RFC 1123 dates but its own examples send ISO-8601; Norway mixes
``yyyy-MM-dd`` and ISO datetimes. Reading accepts all of them (F.3); writing to Sweden always
uses RFC 1123.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, PlainSerializer

RFC1123 = "%a, %d %b %Y %H:%M:%S GMT"


def parse_datetime(value: Any) -> Any:
    """RFC 1123, ISO-8601 (with or without fraction and ``Z``) or ``yyyy-MM-dd`` → aware UTC datetime.

    Values that are not strings or dates are passed on so pydantic reports them.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if not isinstance(value, str):
        return value
    return _parse_datetime_text(value)


@lru_cache(maxsize=4096)
def _parse_datetime_text(value: str) -> Any:
    # Cached: a registration answer carries two dates, and a run's invoices share a few days
    # (datetimes are immutable, so sharing one parsed value is safe).
    text = value.strip()
    if not text:
        return value
    if text[0].isdigit():
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        # The weekday is ignored: the docs' own example says "Wed, 21 Jan 2024" (a Sunday).
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: Any) -> Any:
    """Like :func:`parse_datetime` but keeps only the calendar date, as written.

    A date field sent as a datetime with an offset means the date of that offset's day:
    ``2024-01-15T00:00:00+01:00`` is 15 January (converting it to UTC first would give the 14th).
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_datetime(value)
    if isinstance(parsed, datetime):
        return parsed.date()
    return parsed


@lru_cache(maxsize=4096)
def format_rfc1123(value: datetime) -> str:
    """Eve's ``DATE_FORMAT``: always GMT, English day and month names regardless of locale.

    Cached: every registration carries two dates, and a partition's invoices share a few days."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[utc.weekday()]}, {utc.day:02d} {months[utc.month - 1]} {utc.year:04d} {utc:%H:%M:%S} GMT"


def format_iso_z(value: datetime) -> str:
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{utc.microsecond // 1000:03d}" if utc.microsecond else "") + "Z"


def _money_to_json(value: Decimal) -> float | int:
    # JSON numbers: integral amounts stay integers, the rest become floats (cents survive exactly
    # for any realistic invoice amount; Amili stores floats anyway).
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return float(value)


def drop_nulls(value: Any) -> Any:
    """A list read from an API: JSON ``null`` is an empty list, ``null`` items are left out.

    A .NET server sends ``null`` for an empty list, and Amili Norway documents ``failed`` as
    ``[null]`` (reference B.7)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [item for item in value if item is not None]
    return value


def code_text(value: Any) -> Any:
    """An error code as text: ``4001`` and ``"4001"`` are the same code (a server may send either)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, int) or value.is_integer() else str(value)
    return value


def whole_seconds(value: Any) -> Any:
    """A unix time or a lifetime in seconds as a whole number: ``3599``, ``"3599"``, ``3599.5`` or
    ``"1767225600.5"`` (the fraction is dropped: a token is then treated as expiring a moment early)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            return value
    if isinstance(value, float) and math.isfinite(value):
        return math.floor(value)
    return value


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))  # 0.1 -> Decimal("0.1"), not its binary expansion
    return value


# Read side: accepts every documented format.
FlexDatetime = Annotated[datetime, BeforeValidator(parse_datetime)]
FlexDate = Annotated[date, BeforeValidator(parse_date)]

# Write side for Sweden: any accepted input, always sent as RFC 1123.
RfcDatetime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_rfc1123, return_type=str),
]

# Write side for Norway: calendar dates sent as ISO datetimes at midnight UTC (the workflow's form).
IsoMidnight = Annotated[
    date,
    BeforeValidator(parse_date),
    PlainSerializer(lambda d: f"{d.isoformat()}T00:00:00Z", return_type=str),
]
IsoDate = Annotated[date, BeforeValidator(parse_date), PlainSerializer(lambda d: d.isoformat(), return_type=str)]
IsoDatetime = Annotated[datetime, BeforeValidator(parse_datetime), PlainSerializer(format_iso_z, return_type=str)]

# Lists in answers: ``null`` → ``[]``, ``null`` items dropped (F.3). ``TolerantList[Item]``.
_Item = TypeVar("_Item")
TolerantList = Annotated[list[_Item], BeforeValidator(drop_nulls)]

# Error codes: a number or a string on the wire, always a string here.
CodeText = Annotated[str, BeforeValidator(code_text)]

# Token times (unix seconds, lifetimes): integers, numeric strings or fractional numbers.
WholeSeconds = Annotated[int, BeforeValidator(whole_seconds)]

# Money: Decimal in Python, a JSON number on the wire (also from plain ``model_dump``).
Money = Annotated[Decimal, BeforeValidator(_to_decimal), PlainSerializer(_money_to_json)]


def json_bytes(value: Any) -> bytes:
    """A JSON request body exactly as httpx encodes ``json=value`` (compact, UTF-8, no NaN)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
