"""The happy-path shortcuts of the validators give the same answers as the library calls they skip."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.se import personnummer as se_pnr

from amili_pipelines.domain.validation import identifiers, rules

digits = st.text(alphabet="0123456789", min_size=1, max_size=26)


@given(digits)
def test_luhn_ok_matches_stdnum(d: str) -> None:
    assert identifiers.luhn_ok(d) == luhn.is_valid(d)


@settings(max_examples=400)
@given(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 9999),
       st.sampled_from(["", "-", "+"]), st.sampled_from(["", "18", "19", "20", "00"]))
def test_personnummer_fast_path_matches_stdnum(yy: int, mm: int, dd: int, tail: int, sep: str, century: str) -> None:
    value = f"{century}{yy:02d}{mm:02d}{dd:02d}{sep}{tail:04d}"
    fast = identifiers._pnr_fast(value)
    if fast is False:
        return
    try:
        se_pnr.validate(value)
        expected = None
    except se_pnr.InvalidChecksum:
        expected = "checksum"
    except se_pnr.ValidationError as exc:  # the fast path never answers for a bad date or shape
        raise AssertionError(f"{value}: fast path answered {fast!r}, stdnum says {exc!r}") from None
    assert fast == expected


@settings(max_examples=400)
@given(st.sampled_from(["46", "47"]), st.text(alphabet="0123456789", min_size=4, max_size=14),
       st.sampled_from(["SE", "NO", "DK", "FI"]))
def test_plain_e164_matches_phonenumbers(cc: str, rest: str, region: str) -> None:
    phone = f"+{cc}{rest}"
    plain = rules._plain_e164(phone)
    if plain is None:
        return
    parsed = phonenumbers.parse(phone, region)
    assert (parsed.country_code, parsed.national_number) == (plain.country_code, plain.national_number)
    assert not parsed.italian_leading_zero and parsed.extension is None
    assert rules._valid_number(plain) == phonenumbers.is_valid_number(parsed)
