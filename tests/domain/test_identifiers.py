"""Identifier validators against generated valid numbers, corrupted ones and reference cases."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import ean, luhn
from stdnum.no import fodselsnummer as no_fnr

from amili_pipelines.domain.validation.identifiers import (
    check_gln,
    check_no_fodselsnummer,
    check_no_kid,
    check_no_orgnr,
    check_se_ocr,
    check_se_orgnr,
    check_se_personnummer,
    is_samordningsnummer,
    kid_mod11_check_digit,
    make_kid,
    make_ocr,
)
from tests.support import synthetic

births = st.dates(min_value=date(1901, 1, 1), max_value=date(2024, 12, 31))
serials = st.integers(min_value=1, max_value=999)


def _pnr(b: date, serial: int, *, coordination: bool = False, twelve: bool = False) -> str:
    nine = f"{b.year % 100:02d}{b.month:02d}{b.day + (60 if coordination else 0):02d}{serial:03d}"
    ten = nine + luhn.calc_check_digit(nine)
    sep = "-" if b.year > date.today().year - 100 else "+"
    return f"{b.year // 100}{ten[:6]}-{ten[6:]}" if twelve else f"{ten[:6]}{sep}{ten[6:]}"


def _wrong_last(number: str, delta: int) -> str:
    return number[:-1] + str((int(number[-1]) + delta) % 10)


# -- reference regression cases -------------------------------------------------------------

def test_reference_cases() -> None:
    assert check_se_personnummer("701063-2391") is None  # Skatteverket's samordningsnummer example
    assert is_samordningsnummer("701063-2391")
    assert check_se_personnummer("19701063-2391") is None
    assert check_se_personnummer("701063-2392") == "checksum"
    assert check_se_orgnr("556036-0793") is None  # Saab AB
    assert check_se_orgnr("212000-0142") is None  # Stockholms stad
    assert check_se_orgnr("165560360793") is None  # 12-digit legal-person form
    assert check_se_orgnr("556036-0794") == "checksum"
    assert check_se_orgnr("811218-9876") is None  # sole trader using a personnummer (stdnum's example)
    assert check_se_orgnr("19811218-9876") is None
    assert check_no_orgnr("123456785") is None and check_no_orgnr("987654325") is None
    assert check_no_orgnr("NO987654325MVA") is None
    assert make_ocr("12345") == "1234574" and make_ocr("12345", length_digit=False) == "123455"
    assert check_se_ocr("1234574", require_length_digit=True) is None
    assert check_se_ocr("123455", require_length_digit=True) == "length_digit"
    assert check_no_kid("0003434323213231") == "checksum"  # the Norwegian Peppol example's PaymentID


def test_mod11_kid_ending_in_minus() -> None:
    base = next(b for b in (str(n) for n in range(1000, 100000)) if kid_mod11_check_digit(b) == "-")
    kid = base + "-"
    assert check_no_kid(kid) is None
    assert check_no_kid(kid, scheme="kid-mod11") is None
    assert check_no_kid(kid, scheme="kid-mod10") == "checksum"
    assert check_no_kid(base + "5", scheme="kid-mod11") == "checksum"


# -- properties -----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(births, serials, st.booleans(), st.booleans())
def test_personnummer_valid(b: date, serial: int, coordination: bool, twelve: bool) -> None:
    assert check_se_personnummer(_pnr(b, serial, coordination=coordination, twelve=twelve)) is None


@settings(max_examples=300, deadline=None)
@given(births, serials, st.booleans(), st.integers(min_value=1, max_value=9))
def test_personnummer_corrupted(b: date, serial: int, coordination: bool, delta: int) -> None:
    assert check_se_personnummer(_wrong_last(_pnr(b, serial, coordination=coordination), delta)) == "checksum"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9 - 1).map(lambda n: f"{n:09d}"), st.integers(1, 9))
def test_se_orgnr_luhn(nine: str, delta: int) -> None:
    nine = nine[:2] + str(max(2, int(nine[2]))) + nine[3:]  # legal persons: 3rd digit >= 2
    ten = nine + luhn.calc_check_digit(nine)
    assert check_se_orgnr(ten) is None
    assert check_se_orgnr(ten[:6] + "-" + ten[6:]) is None
    assert check_se_orgnr("16" + ten) is None
    assert check_se_orgnr(_wrong_last(ten, delta)) == "checksum"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.booleans(), st.integers(1, 9))
def test_fodselsnummer(seed: int, d_number: bool, delta: int) -> None:
    fnr = synthetic.no_fodselsnummer(random.Random(seed), d_number=d_number)
    assert check_no_fodselsnummer(fnr) is None
    assert check_no_fodselsnummer(_wrong_last(fnr, delta)) is not None


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 9))
def test_no_orgnr(seed: int, delta: int) -> None:
    n = synthetic.no_orgnr_number(random.Random(seed))
    assert check_no_orgnr(n) is None
    assert check_no_orgnr(_wrong_last(n, delta)) is not None


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**12 - 1), st.integers(1, 9))
def test_gln(n: int, delta: int) -> None:
    twelve = f"{n:012d}"
    g = twelve + ean.calc_check_digit(twelve)
    assert check_gln(g) is None
    assert check_gln(_wrong_last(g, delta)) == "checksum"
    assert check_gln(g[:-1]) == "length"


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**20).map(str), st.booleans(), st.integers(1, 9))
def test_ocr(base: str, length_digit: bool, delta: int) -> None:
    ocr = make_ocr(base, length_digit=length_digit)
    assert check_se_ocr(ocr, require_length_digit=length_digit) is None
    assert check_se_ocr(_wrong_last(ocr, delta)) == "checksum"


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**20).map(str), st.booleans())
def test_kid_valid(base: str, mod11: bool) -> None:
    kid = make_kid(base, mod11=mod11)
    assert check_no_kid(kid) is None
    assert check_no_kid(kid, scheme="kid-mod11" if mod11 else "kid-mod10") is None


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**20).map(str), st.sampled_from("0123456789-"))
def test_kid_corrupted_mod10(base: str, control: str) -> None:
    kid = base + control
    expected_ok = control == luhn.calc_check_digit(base)
    assert (check_no_kid(kid, scheme="kid-mod10") is None) == expected_ok
    assert (check_no_kid(kid, scheme="kid-mod11") is None) == (control == kid_mod11_check_digit(base))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20) | st.text(alphabet="0123456789²³¹⁴₀①٣１- ", max_size=14))
@example("²0")  # found by this test: "²".isdigit() is true, int("²") raises
@example("55603607²3")
@example("²²²²²²²²²²²²")
def test_garbage_never_raises(s: str) -> None:
    """Digit-like characters that are not decimal digits (superscripts, circled digits) included."""
    for check in (check_se_personnummer, check_se_orgnr, check_no_fodselsnummer, check_no_orgnr, check_gln,
                  check_se_ocr, check_no_kid):
        assert check(s) is None or isinstance(check(s), str)
    assert isinstance(is_samordningsnummer(s), bool)


def test_fodselsnummer_dates_generated_are_real() -> None:
    rng = random.Random(3)
    for _ in range(200):
        fnr = synthetic.no_fodselsnummer(rng)
        assert no_fnr.get_birth_date(fnr) <= date.today() + timedelta(days=1)
