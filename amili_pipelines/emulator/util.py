"""Small helpers shared by the emulator: dates, ids, money, JSON.

Only the standard library is used here.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

UTC = timezone.utc
RFC1123 = "%a, %d %b %Y %H:%M:%S GMT"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NO = {m: i + 1 for i, m in enumerate(_MONTHS)}

_RFC_RE = re.compile(
    r"^(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|\+0000)$"
)
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


_last_rfc: tuple = (None, "")  # (key, text), replaced atomically


def rfc1123(dt: datetime) -> str:
    """Format an aware (or naive-UTC) datetime the way Eve does."""
    if dt.tzinfo is not None and dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    global _last_rfc
    key = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    last = _last_rfc
    if last[0] == key:
        return last[1]
    out = "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAYS[dt.weekday()], dt.day, _MONTHS[dt.month - 1], dt.year, dt.hour, dt.minute, dt.second,
    )
    _last_rfc = (key, out)
    return out


def iso(dt: datetime) -> str:
    """ISO-8601 with a trailing Z, second precision (Norwegian API style)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=65536)
def parse_date(value: str) -> datetime | None:
    """Parse RFC 1123, ISO-8601 (with or without time/fraction/offset) or yyyy-MM-dd.

    Returns an aware UTC datetime, or None when the string is not a date.
    """
    if not isinstance(value, str):
        return None
    s = value.strip()
    m = _RFC_RE.match(s)
    if m:
        day, mon, year, hh, mm, ss = m.groups()
        month = _MONTH_NO.get(mon.capitalize())
        if month is None:
            return None
        try:
            return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
        except ValueError:
            return None
    m = _ISO_RE.match(s)
    if m:
        y, mo, d, hh, mi, ss, frac, tz = m.groups()
        try:
            micro = int((frac or "0")[:6].ljust(6, "0"))
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
        except ValueError:
            return None
        if tz and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            t = tz[1:].replace(":", "")
            offset = timedelta(hours=int(t[:2]), minutes=int(t[2:]))
            dt = dt.replace(tzinfo=timezone(sign * offset))
            return dt.astimezone(UTC)
        return dt.replace(tzinfo=UTC)
    return None


def looks_like_date(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 10 and parse_date(value) is not None


def ymd(dt: datetime | date) -> str:
    return dt.strftime("%Y-%m-%d")


# ---------------------------------------------------------------- money

def to_minor(value: Any) -> int:
    """Convert a JSON number (int/float/str) to integer minor units (öre / øre), half-up."""
    if isinstance(value, bool):
        raise ValueError("bool is not an amount")
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:  # pragma: no cover - validated before
        raise ValueError(str(value)) from exc
    return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(value: int) -> float | int:
    """Integer minor units -> JSON number (int when whole, else float with 2 decimals)."""
    if value % 100 == 0:
        return value // 100
    return round(value / 100, 2)


def pct_of(amount_minor: int, percent: Decimal | float | int | str) -> int:
    d = Decimal(amount_minor) * Decimal(str(percent)) / Decimal(100)
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------- ids

def etag_for(*parts: Any) -> str:
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


# ---------------------------------------------------------------- json

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(obj: Any) -> bytes:
    return _encoder.encode(obj).encode("utf-8")
