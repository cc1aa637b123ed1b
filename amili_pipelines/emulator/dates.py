"""Dates as both Amili APIs write them: Sweden speaks Eve's RFC 1123, Norway ISO-8601 with a ``Z``.

Every date the emulator receives goes through :func:`parse_date`, which accepts both styles (and a bare
``yyyy-MM-dd``), because clients are told to tolerate both (reference F.3) and the seeds use both.
Only the standard library is used here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

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


_last_rfc: tuple = (None, "")  # (key, text), replaced atomically: most calls in a burst share one second


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
        return _from_rfc1123(*m.groups())
    m = _ISO_RE.match(s)
    if m:
        return _from_iso(*m.groups())
    return None


def _from_rfc1123(day: str, mon: str, year: str, hh: str, mm: str, ss: str) -> datetime | None:
    month = _MONTH_NO.get(mon.capitalize())
    if month is None:
        return None
    try:
        return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
    except ValueError:
        return None


def _from_iso(y: str, mo: str, d: str, hh: str | None, mi: str | None, ss: str | None, frac: str | None,
              tz: str | None) -> datetime | None:
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


def ymd(dt: datetime | date) -> str:
    return dt.strftime("%Y-%m-%d")
