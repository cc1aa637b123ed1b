"""Nordic identifier checks on top of python-stdnum, filling its documented gaps.

Each ``check_*`` returns ``None`` when the value is valid, else a short reason code
("format", "length", "date", "checksum"). Results are cached: a debtor's number repeats on
every invoice it has, and validation runs over hundreds of thousands of invoices.

Gaps filled here (see shared/reference/validation-http-duckdb.md §1): Swedish samordningsnummer
(day + 60) which ``stdnum.se.personnummer`` rejects; the 12-digit ``16``-prefixed orgnr and sole
traders using a personnummer, which ``stdnum.se.orgnr`` does not know; Swedish OCR length digit
and Norwegian KID (MOD10 / MOD11 with a trailing '-'), which stdnum has no module for.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from stdnum import ean, luhn
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.no import fodselsnummer as no_fnr
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import personnummer as se_pnr

_SEP = re.compile(r"[\s\-+:]")
# The happy path, checked without stdnum's exception machinery: ASCII digits in the usual shapes.
_PNR_SHAPE = re.compile(r"(?:[0-9]{2})?[0-9]{6}[-+]?[0-9]{4}")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_DOUBLED = str.maketrans("0123456789", "0246813579")  # Luhn: 2*d with its digits summed
_DAYS_ANY_YEAR = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb 29 depends on the year


def luhn_ok(digits: str) -> bool:
    """Luhn check of an ASCII-digit string (same answer as ``stdnum.luhn.is_valid`` on digits)."""
    # Summing the ASCII bytes runs in C; each digit adds 48 ("0") that the length takes back out.
    return (sum(digits[-1::-2].encode()) + sum(digits[-2::-2].translate(_DOUBLED).encode()) - 48 * len(digits)) % 10 == 0


def _pnr_fast(value: str) -> str | None | bool:
    """Personnummer verdict without stdnum when the date is valid in every century (the usual
    case); ``False`` when the slow path must decide (other shapes, Feb 29, day out of range)."""
    if not _PNR_SHAPE.fullmatch(value):
        return False
    digits = value.replace("-", "").replace("+", "")
    ten = digits[-10:]
    month, day = int(ten[2:4]), int(ten[4:6])
    if not (1 <= month <= 12 and 1 <= day <= _DAYS_ANY_YEAR[month]):
        return False
    if len(digits) == 12 and digits[:4] == "0000":
        return False
    return None if luhn_ok(ten) else "checksum"


def _reason(exc: ValidationError) -> str:
    if isinstance(exc, InvalidChecksum):
        return "checksum"
    if isinstance(exc, InvalidLength):
        return "length"
    if isinstance(exc, InvalidComponent):
        return "date"
    if isinstance(exc, InvalidFormat):
        return "format"
    return "format"


@lru_cache(maxsize=65536)
def check_se_personnummer(value: str) -> str | None:
    """Swedish personnummer or samordningsnummer, 10 or 12 digits, with or without separator."""
    fast = _pnr_fast(value)
    if fast is not False:
        return fast  # type: ignore[return-value]
    try:
        se_pnr.validate(value)
        return None
    except InvalidComponent:
        pass  # maybe a samordningsnummer: the day is +60
    except ValidationError as exc:
        return _reason(exc)
    digits = _SEP.sub("", value)
    if not digits.isdecimal() or len(digits) not in (10, 12):
        return "format"
    ten = digits[-10:]
    month, day = int(ten[2:4]), int(ten[4:6])
    if 61 <= day <= 91:
        # 10 digits carry no century: any century with the same leap-ness will do for the date check.
        year = int(digits[:4]) if len(digits) == 12 else (2000 if int(ten[:2]) % 4 == 0 else 2001)
        try:
            date(year, month, day - 60)
        except ValueError:
            return "date"
        return None if luhn.is_valid(ten) else "checksum"
    return "date"


def is_samordningsnummer(value: str) -> bool:
    digits = _SEP.sub("", value)
    return len(digits) in (10, 12) and digits.isdecimal() and 61 <= int(digits[-6:-4]) <= 91


@lru_cache(maxsize=65536)
def check_se_orgnr(value: str) -> str | None:
    """Swedish organisationsnummer (10 digits, or 12 with ``16``), or a sole trader's personnummer.

    A sole trader (enskild firma) is registered under the owner's personnummer, so a company
    debtor may legitimately carry one; it is accepted in its 10- and 12-digit forms.
    """
    digits = _SEP.sub("", value)
    if not digits.isdecimal():
        return "format"
    if len(digits) == 12:
        if digits.startswith("16"):
            digits = digits[2:]
        elif digits[:2] in ("18", "19", "20"):
            return check_se_personnummer(value)
        else:
            return "format"
    if len(digits) != 10:
        return "length"
    if int(digits[2]) >= 2:  # a legal person: the "month" pair is >= 20
        if _ASCII_DIGITS.fullmatch(digits):
            return None if luhn_ok(digits) else "checksum"
        try:
            se_orgnr.validate(digits)
            return None
        except ValidationError as exc:
            return _reason(exc)
    return check_se_personnummer(digits)


@lru_cache(maxsize=65536)
def check_no_fodselsnummer(value: str) -> str | None:
    """Norwegian fødselsnummer or D-nummer (day + 40), 11 digits."""
    try:
        no_fnr.validate(value)
        return None
    except ValidationError as exc:
        return _reason(exc)


@lru_cache(maxsize=65536)
def check_no_orgnr(value: str) -> str | None:
    """Norwegian organisasjonsnummer, 9 digits, MOD11. ``NO`` prefix / ``MVA`` suffix tolerated."""
    v = value.strip().upper()
    if v.startswith("NO"):
        v = v[2:]
    if v.endswith("MVA"):
        v = v[:-3]
    try:
        no_orgnr.validate(v)
        return None
    except ValidationError as exc:
        return _reason(exc)


@lru_cache(maxsize=65536)
def check_gln(value: str) -> str | None:
    digits = _SEP.sub("", value)
    if len(digits) != 13:
        return "length"
    try:
        ean.validate(digits)
        return None
    except ValidationError as exc:
        return _reason(exc)


def ocr_check_digit(number: str) -> str:
    return luhn.calc_check_digit(number)


def make_ocr(base: str, *, length_digit: bool = True) -> str:
    """Swedish OCR: base + (length digit) + Luhn check digit. Length counts both control digits."""
    if length_digit:
        base = base + str((len(base) + 2) % 10)
    return base + luhn.calc_check_digit(base)


@lru_cache(maxsize=65536)
def check_se_ocr(value: str, *, require_length_digit: bool = False) -> str | None:
    v = _SEP.sub("", value)
    if not v.isdecimal():
        return "format"
    if not 2 <= len(v) <= 25:
        return "length"
    if not (luhn_ok(v) if v.isascii() else luhn.is_valid(v)):
        return "checksum"
    if require_length_digit and int(v[-2]) != len(v) % 10:
        return "length_digit"
    return None


def kid_mod11_check_digit(number: str) -> str:
    """MOD11 with weights 2..7 from the right; 11 -> 0, 10 -> '-'."""
    total = 0
    weight = 2
    for ch in reversed(number):
        total += int(ch) * weight
        weight = 2 if weight == 7 else weight + 1
    r = 11 - total % 11
    return "0" if r == 11 else "-" if r == 10 else str(r)


def make_kid(base: str, *, mod11: bool = False) -> str:
    return base + (kid_mod11_check_digit(base) if mod11 else luhn.calc_check_digit(base))


@lru_cache(maxsize=65536)
def check_no_kid(value: str, *, scheme: str = "kid") -> str | None:
    """Norwegian KID, 2-25 characters, last one a MOD10 or MOD11 control digit ('-' for MOD11 10)."""
    v = value.strip().replace(" ", "")
    if not 2 <= len(v) <= 25:
        return "length"
    body, control = v[:-1], v[-1]
    if not body.isdecimal() or not (control.isdecimal() or control == "-"):
        return "format"
    mod10 = control != "-" and luhn.is_valid(v)
    mod11 = kid_mod11_check_digit(body) == control
    if scheme == "kid-mod10":
        return None if mod10 else "checksum"
    if scheme == "kid-mod11":
        return None if mod11 else "checksum"
    return None if (mod10 or mod11) else "checksum"


ISO_3166_ALPHA2 = frozenset(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW "
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI "
    "FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN "
    "IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF "
    "PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE "
    "YT ZA ZM ZW".split()
)
