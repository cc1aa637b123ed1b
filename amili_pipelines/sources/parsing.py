"""Turning raw cell values (text as exported, or already typed values) into dates and Decimals.

A value that cannot be read raises :class:`ParseError`; the assembler turns that into a parse
issue on the invoice (the row is kept, validation quarantines it).
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_NBSP = "\u00a0"
_NNBSP = "\u202f"
# DECIMAL(18, 2) in the warehouse: a larger "amount" is garbage, not money.
_LIMIT = Decimal(10) ** 15
_CACHE_MAX = 50_000  # distinct texts kept per parser (bounded memory on million-row files)


class ParseError(ValueError):
    pass


def _quoted(raw: object) -> str:
    """The cell for a message: a hostile 1 MB cell must not become a 1 MB message."""
    s = str(raw)
    return repr(s if len(s) <= 40 else s[:39] + "…")


class ValueParser:
    """Reads amounts and dates with one source's conventions (decimal comma, thousands, date format)."""

    __slots__ = ("decimal", "thousands", "date_format", "_amounts", "_dates")

    def __init__(self, *, decimal: str = ".", thousands: str | None = None, date_format: str | None = None) -> None:
        self.decimal = decimal
        self.thousands = thousands
        self.date_format = date_format
        # Texts already read (prices, dates and amounts repeat across an export). Decimal and date
        # are immutable, so sharing the parsed value is safe; unreadable texts are not cached.
        self._amounts: dict[str, Decimal | None] = {}
        self._dates: dict[str, date | None] = {}

    def __getstate__(self) -> dict[str, object]:  # pickled for worker processes: without the caches
        return {"decimal": self.decimal, "thousands": self.thousands, "date_format": self.date_format}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(**state)  # type: ignore[misc, arg-type]

    def amount(self, raw: object) -> Decimal | None:
        if type(raw) is str:  # noqa: E721 - exact str is the hot path
            try:
                return self._amounts[raw]
            except KeyError:
                pass
            value = self._amount(raw)
            cache = self._amounts
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[raw] = value
            return value
        return self._amount(raw)

    def date(self, raw: object) -> date | None:
        if type(raw) is str:  # noqa: E721
            try:
                return self._dates[raw]
            except KeyError:
                pass
            value = self._date(raw)
            cache = self._dates
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[raw] = value
            return value
        return self._date(raw)

    def _amount(self, raw: object) -> Decimal | None:
        if raw is None:
            return None
        if isinstance(raw, Decimal):
            if not raw.is_finite() or abs(raw) >= _LIMIT:
                raise ParseError(f"amount out of range: {_quoted(raw)}")
            return raw
        if isinstance(raw, bool):  # bool is an int; a True amount is a mistake, not 1
            raise ParseError(f"not an amount: {_quoted(raw)}")
        if isinstance(raw, int):
            if abs(raw) >= 10**15:
                raise ParseError(f"amount out of range: {_quoted(raw)}")
            return Decimal(raw)
        if isinstance(raw, float):
            if raw != raw or raw in (float("inf"), float("-inf")):
                raise ParseError(f"not an amount: {_quoted(raw)}")
            if abs(raw) >= 1e15:
                raise ParseError(f"amount out of range: {_quoted(raw)}")
            # repr gives the shortest round-tripping text: 12.3 stays 12.3, not 12.2999...
            return Decimal(repr(raw))
        if not isinstance(raw, str):
            raise ParseError(f"not an amount: {_quoted(raw)}")
        s = raw.strip()
        if not s:
            return None
        # Spaces (incl. no-break) are always group separators in Nordic exports.
        if " " in s or _NBSP in s or _NNBSP in s:
            s = s.replace(" ", "").replace(_NBSP, "").replace(_NNBSP, "")
        if self.thousands and self.thousands not in (" ", _NBSP):
            s = s.replace(self.thousands, "")
        if self.decimal != ".":
            if "." in s and self.decimal == "," and "," not in s and self.thousands != ".":
                pass  # "123.45" in a decimal-comma file: tolerate a point decimal
            else:
                s = s.replace(self.decimal, ".")
        negative = False
        if s.endswith("-"):  # some ERPs write credits as "100,00-"
            negative, s = True, s[:-1]
        try:
            value = Decimal(s)
        except InvalidOperation:
            raise ParseError(f"cannot read amount {_quoted(raw)}") from None
        if not value.is_finite() or abs(value) >= _LIMIT:
            raise ParseError(f"cannot read amount {_quoted(raw)}")
        return -value if negative else value

    def _date(self, raw: object) -> date | None:
        if raw is None:
            return None
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if not isinstance(raw, str):
            raise ParseError(f"not a date: {_quoted(raw)}")
        s = raw.strip()
        if not s:
            return None
        if self.date_format:
            try:
                return datetime.strptime(s, self.date_format).date()
            except ValueError:
                pass
        try:
            if len(s) == 10 and s[4] == "-":
                return date.fromisoformat(s)
            if len(s) == 8 and s.isdigit():
                return date(int(s[:4]), int(s[4:6]), int(s[6:]))
            if len(s) == 10 and s[2] == "." and s[5] == ".":  # Norwegian 31.01.2026
                return date(int(s[6:]), int(s[3:5]), int(s[:2]))
            if len(s) > 10 and s[4] == "-" and s[10] in "T ":  # a timestamp
                return date.fromisoformat(s[:10])
        except ValueError:
            pass
        raise ParseError(f"cannot read date {_quoted(raw)}" + (f" (expected {self.date_format})" if self.date_format else ""))


def nfc(s: str) -> str:
    """Unicode NFC: "Å" typed as A + ring and "Å" as one character must be the same name."""
    return s if s.isascii() else unicodedata.normalize("NFC", s)


def text(raw: object) -> str | None:
    """Cell -> stripped NFC text, or None when empty. Numbers typed by a spreadsheet come back as text."""
    if raw is None:
        return None
    if isinstance(raw, str):
        s = raw.strip()
        return nfc(s) if s else None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # an invoice number 1001 stored as 1001.0
    if isinstance(raw, (datetime, date)):
        return raw.isoformat()
    return str(raw)
