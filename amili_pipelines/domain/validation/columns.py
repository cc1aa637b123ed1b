"""Identifier, reference and phone checks over a whole column of values at once.

Each ``*_many`` function returns, for every value, exactly what its single-value function returns
(identifiers.py, phones.py). It decides the values in the usual layout (ASCII digits, the usual
separator) in one numpy pass over all of them, as the single-value function's own fast path would,
and hands every other value (Unicode digits, other separators or lengths, a date only the slow
path can judge) to the single-value function itself. tests/domain/test_bulk_validation.py checks
the answers value by value.

Cold, a partition's identity numbers, references and phones are almost all distinct: the
single-value functions' caches do not help there, and the per-call cost is what this saves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from amili_pipelines.domain.validation.identifiers import (
    _DAYS_ANY_YEAR,
    check_se_ocr,
    check_se_orgnr,
    check_se_personnummer,
)
from amili_pipelines.domain.validation.phones import _PLAIN_E164, FAST, national_validator, phone_ok

_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int32)  # Luhn: 2*d with its digits summed
_DAYS = np.array(_DAYS_ANY_YEAR, dtype=np.int32)
_OCR_WIDTH = 25  # the longest OCR reference check_se_ocr accepts


def luhn_rows(digits: np.ndarray) -> np.ndarray:
    """Luhn validity of each row of right-aligned digits (0-9; leading zero padding adds nothing)."""
    width = digits.shape[1]
    # From the right: the last digit as is, the one before doubled, and so on.
    plain = digits[:, (width - 1) % 2::2].sum(axis=1)
    doubled = _DOUBLED[digits[:, width % 2::2]].sum(axis=1)
    return (plain + doubled) % 10 == 0


def _fill(values: Sequence[str], sure: np.ndarray, verdict: np.ndarray,
          exact: Callable[[str], str | None]) -> list[str | None]:
    """``verdict`` (True: valid, False: "checksum") where ``sure``; ``exact(value)`` elsewhere."""
    return [(None if ok else "checksum") if s else exact(v)
            for v, s, ok in zip(values, sure.tolist(), verdict.tolist(), strict=True)]


def _code_points(values: Sequence[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) code points of the values, zero padded (longer values cut: mind the lengths), and
    the values' lengths."""
    n = len(values)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    chars = np.array(values, dtype=f"<U{width}").view(np.uint32).reshape(n, width).astype(np.int32)
    return chars, lengths


def check_se_ocr_many(values: Sequence[str], *, require_length_digit: bool = False) -> list[str | None]:
    """``[check_se_ocr(v, require_length_digit=...) for v in values]``."""
    if not values:
        return []
    chars, lengths = _code_points(values, _OCR_WIDTH)
    position = np.arange(_OCR_WIDTH)[None, :]
    inside = position < lengths[:, None]
    digit = (chars >= 48) & (chars <= 57)
    # 2-25 ASCII digits: nothing for check_se_ocr to strip, "format" and "length" cannot apply.
    usual = (lengths >= 2) & (lengths <= _OCR_WIDTH) & (digit | ~inside).all(axis=1)
    digits = np.where(inside & digit, chars - 48, 0)
    from_right = lengths[:, None] - 1 - position  # Luhn: every second digit from the right doubled
    luhn = np.where(from_right % 2 == 1, _DOUBLED[digits], digits).sum(axis=1) % 10 == 0
    if require_length_digit:
        # The digit before the check digit is the length (control digits included) modulo 10.
        before_last = np.take_along_axis(digits, np.clip(lengths - 2, 0, _OCR_WIDTH - 1)[:, None], axis=1)[:, 0]
        length_ok = (before_last == lengths % 10).tolist()
    else:
        length_ok = [True] * len(values)
    return [((None if lok else "length_digit") if ok else "checksum") if u
            else check_se_ocr(v, require_length_digit=require_length_digit)
            for v, u, ok, lok in zip(values, usual.tolist(), luhn.tolist(), length_ok, strict=True)]


# --- Swedish personnummer / organisationsnummer --------------------------------------------------
# The layouts decided here: 10 digits, 6 + '-'/'+' + 4, 12 digits, 8 + '-'/'+' + 4 (the shape of
# identifiers._pnr_fast); each row's last ten digits are gathered by these column indexes.
_TEN_COLUMNS = {
    10: list(range(10)),
    11: [*range(6), *range(7, 11)],
    12: list(range(2, 12)),
    13: [*range(2, 8), *range(9, 13)],
}
_WIDTH = 13


class _Tens:
    """The usual layouts of Swedish identity numbers, read column-wise.

    ``layout`` is the length of each value in a recognised layout, else 0; ``ten`` its last ten
    digits; ``birth_date`` whether those digits hold a month and a day that exist in every year (no
    century, leap or not, changes the verdict), ``coordination`` the same for a samordningsnummer's
    day + 60.
    """

    def __init__(self, values: Sequence[str]) -> None:
        n = len(values)
        chars, lengths = _code_points(values, _WIDTH)  # a longer value's length keeps it out of every layout
        digit = (chars >= 48) & (chars <= 57)
        sep6 = (chars[:, 6] == 45) | (chars[:, 6] == 43)  # '-' or '+'
        sep8 = (chars[:, 8] == 45) | (chars[:, 8] == 43)
        forms = {
            10: (lengths == 10) & digit[:, :10].all(axis=1),
            11: (lengths == 11) & digit[:, :6].all(axis=1) & sep6 & digit[:, 7:11].all(axis=1),
            12: (lengths == 12) & digit[:, :12].all(axis=1),
            13: (lengths == 13) & digit[:, :8].all(axis=1) & sep8 & digit[:, 9:13].all(axis=1),
        }
        layout = np.zeros(n, dtype=np.int64)
        columns = np.zeros((n, 10), dtype=np.int64)
        for length, mask in forms.items():
            layout[mask] = length
            columns[mask] = _TEN_COLUMNS[length]
        self.layout = layout
        self.ten = (np.take_along_axis(chars, columns, axis=1) - 48) * (layout > 0)[:, None]
        self.long_form = (layout == 12) | (layout == 13)
        self.first_two = (chars[:, 0] - 48) * 10 + (chars[:, 1] - 48)
        self.zero_century = (chars[:, :4] == 48).all(axis=1)
        month = self.ten[:, 2] * 10 + self.ten[:, 3]
        day = self.ten[:, 4] * 10 + self.ten[:, 5]
        days_in_month = _DAYS[np.clip(month, 0, 12)]
        real_month = (month >= 1) & (month <= 12)
        self.birth_date = real_month & (day >= 1) & (day <= days_in_month)
        self.coordination = real_month & (day >= 61) & (day - 60 <= days_in_month)
        self.luhn = luhn_rows(self.ten)


def check_se_personnummer_many(values: Sequence[str]) -> list[str | None]:
    """``[check_se_personnummer(v) for v in values]``."""
    if not values:
        return []
    t = _Tens(values)
    # identifiers._pnr_fast: a usual layout whose date exists in every year, 12 digits not starting
    # with 0000: the Luhn digit decides. A samordningsnummer (day + 60) fails stdnum's date check and
    # takes check_se_personnummer's own date check (any year, 12 digits: the year written, which
    # 0000 is not): with a day + 60 that exists in every year, the Luhn digit decides too.
    # Anything else takes the single-value function.
    sure = (t.layout > 0) & (t.birth_date | t.coordination) & ~(t.long_form & t.zero_century)
    return _fill(values, sure, t.luhn, check_se_personnummer)


def check_se_orgnr_many(values: Sequence[str]) -> list[str | None]:
    """``[check_se_orgnr(v) for v in values]``."""
    if not values:
        return []
    t = _Tens(values)
    # check_se_orgnr: ten digits (or twelve with the 16 prefix, which it drops); a third digit of 2
    # or more is a legal person (Luhn only), a lower one a sole trader's ten-digit personnummer,
    # decided as in check_se_personnummer_many. 12 digits from 18/19/20 take the single-value path.
    ten_digits = (t.layout == 10) | (t.layout == 11)
    sixteen = t.long_form & (t.first_two == 16)
    sure = (ten_digits | sixteen) & ((t.ten[:, 2] >= 2) | t.birth_date | t.coordination)
    return _fill(values, sure, t.luhn, check_se_orgnr)


# --- phones ---------------------------------------------------------------------------------------

def phone_ok_many(phones: Sequence[str], regions: Sequence[str]) -> list[bool]:
    """``[phone_ok(p, r) for p, r in zip(phones, regions)]``."""
    if not FAST:  # pragma: no cover - another phonenumbers layout
        return [phone_ok(p, r) for p, r in zip(phones, regions, strict=True)]
    # phone_ok's first step, without its cache (cold, nearly every number is new) or the call: a
    # plain "+46..."/"+47..." number is valid_national's answer, its calling code's validator built once.
    plain = list(map(_PLAIN_E164.fullmatch, phones))
    validators = {cc: national_validator(int(cc)) for cc in {m[1] for m in plain if m is not None}}
    return [phone_ok(phone, region) if m is None else validators[m[1]](m[2])
            for phone, region, m in zip(phones, regions, plain, strict=True)]
