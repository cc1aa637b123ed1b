"""Turning raw cell values (text as exported, or already typed values) into dates and Decimals.

A value that cannot be read raises :class:`ParseError`; the assembler turns that into a parse
issue on the invoice (the row is kept, validation quarantines it).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from amili_pipelines.domain.masking import mask_identity_numbers

_NBSP = "\u00a0"
_NNBSP = "\u202f"
# DECIMAL(18, 2) in the warehouse: a larger "amount" is garbage, not money.
AMOUNT_LIMIT = Decimal(10) ** 15
_CACHE_MAX = 50_000  # distinct texts kept per parser (bounded memory on million-row files)
# Masking keeps lengths and no identity number (with its separators) is longer than ~15 characters,
# so masking the first (shown + margin) characters masks the shown part exactly as masking the whole
# text would, while a hostile 1 MB cell is not scanned in full.
MASK_MARGIN = 64
# Dates outside these years are sentinels ("0001-01-01", "9999-12-31") or typos, never an invoice's dates.
_YEARS = (1900, 2100)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What may follow an ISO date: a time of day, optionally with seconds, fraction and UTC offset.
_ISO_TIME = re.compile(r"[T ][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)?(?: ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?))?")
_NO_DAY = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{4}")


class ParseError(ValueError):
    pass


def masked_cut(raw: object, limit: int, ellipsis: str = "…") -> str:
    """``raw`` as text, identity numbers masked, then cut to ``limit`` characters (ellipsis included).

    Masking comes first: a number cut in two no longer matches the masker's pattern and its
    remaining digits would be shown unmasked."""
    s = str(raw)
    s = mask_identity_numbers(s[: limit + MASK_MARGIN]) or ""
    return s if len(s) <= limit else s[: limit - len(ellipsis)] + ellipsis


def _quoted(raw: object) -> str:
    """The cell for a message: masked, and a hostile 1 MB cell must not become a 1 MB message."""
    return repr(masked_cut(raw, 40))


class ValueParser:
    """Reads amounts and dates with one source's conventions (decimal comma, thousands, date format)."""

    __slots__ = ("decimal", "thousands", "date_format", "_amounts", "_quantities", "_dates")

    def __init__(self, *, decimal: str = ".", thousands: str | None = None, date_format: str | None = None) -> None:
        self.decimal = decimal
        self.thousands = thousands
        self.date_format = date_format
        # Texts already read (prices, dates and amounts repeat across an export). Decimal and date
        # are immutable, so sharing the parsed value is safe; unreadable texts are not cached.
        self._amounts: dict[str, Decimal | None] = {}
        self._quantities: dict[str, Decimal | None] = {}
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

    def quantity(self, raw: object) -> Decimal | None:
        """Like :meth:`amount` (same signs, separators and grouping rules) without the two-decimals
        limit: for units and unit prices, which may have more decimals than money (1,2345 kr/kWh)."""
        if type(raw) is str:  # noqa: E721
            try:
                return self._quantities[raw]
            except KeyError:
                pass
            value = self._amount(raw, places=None)
            cache = self._quantities
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[raw] = value
            return value
        return self._amount(raw, places=None)

    def _amount(self, raw: object, places: int | None = 2) -> Decimal | None:
        if raw is None:
            return None
        if isinstance(raw, Decimal):
            if not raw.is_finite() or abs(raw) >= AMOUNT_LIMIT:
                raise ParseError(f"amount out of range: {_quoted(raw)}")
            return _places(raw, raw, places)
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
            return _places(Decimal(repr(raw)), raw, places, binary=True)
        if not isinstance(raw, str):
            raise ParseError(f"not an amount: {_quoted(raw)}")
        s = raw.strip()
        if not s:
            return None
        return self._text_amount(raw, s, places)

    def _text_amount(self, raw: str, s: str, places: int | None) -> Decimal:
        """An amount written as text, read strictly: one sign, separators only where they belong.

        Accepted: ``-1 234,50``, ``1 234,50-`` (a credit, as some ERPs write it), ``2 375,-`` (whole
        kronor when ',' is the decimal separator), thousands separators between groups of three
        digits. Anything else is a :class:`ParseError`: a guess at money is never made."""
        dec = self.decimal
        whole = len(s) >= 2 and s[-1] == "-" and s[-2] == dec and dec in ",."
        if whole:  # "2 375,-": the dash says "no öre", it is not a sign
            s = s[:-2].rstrip()
        lead = s[0] if s[:1] in ("-", "+") else ""
        if lead:
            s = s[1:].lstrip()
        trail = not whole and s.endswith("-")
        if trail:
            s = s[:-1].rstrip()
        if lead and trail:
            raise ParseError(f"ambiguous sign in amount {_quoted(raw)}: a sign both before and after the number")
        if " " not in s and _NBSP not in s and _NNBSP not in s and s.isascii() and s.isdigit():
            digits, frac = s, ""  # the common case: "2375"
        else:
            digits, frac = self._split(raw, s)
        if not digits and not frac:
            raise ParseError(f"cannot read amount {_quoted(raw)}")
        if whole:
            if frac or dec in s:  # "2 375,50,-"
                raise ParseError(f"cannot read amount {_quoted(raw)}")
            frac = "00"
        if places is not None and len(frac) > places:
            # "1,500" is how a thousands group looks: three decimals are never taken on trust; more
            # are accepted only as zeros ("2375.0000" from a 4-decimal column is 2375.00).
            if len(frac) == 3:
                raise ParseError(f"amount {_quoted(raw)} has 3 decimals (at most {places} allowed; is {dec!r} "
                                 "a thousands separator in this source?)")
            if frac[places:].strip("0"):
                raise ParseError(f"amount {_quoted(raw)} has {len(frac)} decimals (at most {places} allowed)")
            frac = frac[:places]
        try:
            value = Decimal(f"{digits or '0'}.{frac}" if frac else digits)
        except InvalidOperation:
            raise ParseError(f"cannot read amount {_quoted(raw)}") from None
        if abs(value) >= AMOUNT_LIMIT:
            raise ParseError(f"amount out of range: {_quoted(raw)}")
        return -value if lead == "-" or trail else value

    def _split(self, raw: str, s: str) -> tuple[str, str]:
        """(integer digits, fraction digits) of an unsigned amount with separators."""
        dec = self.decimal
        groups = " " if self.thousands in (None, " ", _NBSP, _NNBSP) else " " + self.thousands
        s = s.replace(_NBSP, " ").replace(_NNBSP, " ")
        if s.count(dec) > 1:
            raise ParseError(f"cannot read amount {_quoted(raw)}: more than one decimal separator {dec!r}")
        head, _, frac = s.partition(dec)
        if frac and not (frac.isascii() and frac.isdigit()):
            raise ParseError(f"cannot read amount {_quoted(raw)}")
        used = {ch for ch in head if not ("0" <= ch <= "9")}
        if not used:
            return head, frac
        foreign = used - set(groups)
        if foreign:
            sep = next(ch for ch in ".,'" if ch in foreign) if foreign & set(".,'") else None
            if sep is None:
                raise ParseError(f"cannot read amount {_quoted(raw)}")
            thousands = "none" if self.thousands is None else repr(self.thousands)
            raise ParseError(f"cannot read amount {_quoted(raw)}: {sep!r} is neither this source's decimal "
                             f"separator ({dec!r}) nor its thousands separator ({thousands})")
        if len(used) > 1:
            raise ParseError(f"cannot read amount {_quoted(raw)}: mixed thousands separators "
                             + " and ".join(repr(ch) for ch in sorted(used)))
        sep = used.pop()
        parts = head.split(sep)
        if not (1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])):
            raise ParseError(f"cannot read amount {_quoted(raw)}: thousands separator {sep!r} must stand "
                             "between groups of three digits")
        return "".join(parts), frac

    def _date(self, raw: object) -> date | None:
        if raw is None:
            return None
        if isinstance(raw, datetime):
            return _plausible(raw.date(), raw)
        if isinstance(raw, date):
            return _plausible(raw, raw)
        if not isinstance(raw, str):
            raise ParseError(f"not a date: {_quoted(raw)}")
        s = raw.strip()
        if not s:
            return None
        return _plausible(self._text_date(raw, s), raw)

    def _text_date(self, raw: str, s: str) -> date:
        if self.date_format:
            try:
                return datetime.strptime(s, self.date_format).date()
            except ValueError:
                pass
        why = ""
        try:
            if _ISO_DAY.match(s):
                if len(s) == 10:
                    return date.fromisoformat(s)
                if _ISO_TIME.fullmatch(s, 10):  # a timestamp: the date as written
                    datetime.fromisoformat(s.replace(" Z", "Z"))  # the time must be a real time too
                    return date.fromisoformat(s[:10])
                why = " (text after the date)"
            elif len(s) == 8 and s.isascii() and s.isdigit():
                return date(int(s[:4]), int(s[4:6]), int(s[6:]))
            elif _NO_DAY.fullmatch(s):  # Norwegian 31.01.2026
                return date(int(s[6:]), int(s[3:5]), int(s[:2]))
            elif s[:4].isdigit() and "W" in s[4:6].upper():
                why = " (ISO week dates are not accepted: write the calendar date)"
        except ValueError:
            pass
        expected = f" (expected {self.date_format})" if self.date_format else ""
        raise ParseError(f"cannot read date {_quoted(raw)}{why}{expected}")


def _plausible(d: date, raw: object) -> date:
    lo, hi = _YEARS
    if not lo <= d.year <= hi:
        raise ParseError(f"date {_quoted(raw)} is outside the plausible years {lo}-{hi}")
    return d


def _places(value: Decimal, raw: object, places: int | None, *, binary: bool = False) -> Decimal:
    """``value`` when it has at most ``places`` decimals (or is exactly such a value: 2375.500);
    a float may also carry binary noise (2968.7500000000005 is 2968.75). Otherwise a ParseError."""
    if places is None or value.as_tuple().exponent >= -places:  # type: ignore[operator]
        return value
    q = value.quantize(Decimal(1).scaleb(-places))
    if q == value or (binary and abs(value - q) <= abs(q) * Decimal("1e-12") + Decimal("1e-12")):
        return q
    raise ParseError(f"amount {_quoted(raw)} has more than {places} decimals")


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
