"""The happy-path shortcuts of the validators give the same answers as the library calls they skip."""

from __future__ import annotations

import random

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.se import personnummer as se_pnr

from amili_pipelines.domain.invoice import Address, Market, SourceInvoice
from amili_pipelines.domain.validation import identifiers, phones, rules

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


# --- text rules: the joined-texts shortcut against the field-by-field loop -------------------------

_TRICKY = ["", " ", "  ", "\t", " Anna", "Anna ", "An\tna", "Anna\u00a0Berg", "\u00a0", "\u200b", "\u200b\u200b",
           "\u200f", "Anna\u200b", "\u202eanna", "\u200e\u200f", "a|b", "a| b", "|", "| ", " |", "Åsa Öberg",
           "line\nbreak", "\r", "\u2028", "\u3000", "\ufeff", "x\x00y", "ok", "Ønskeland 1"]
_text_fields = st.sampled_from(rules._TEXT_FIELDS)
_address_fields = st.sampled_from(rules._ADDRESS_TEXT)
_tricky_text = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=6), st.none())


def _invoice(texts: dict[str, str | None], address: dict[str, str | None]) -> SourceInvoice:
    return SourceInvoice(source="s", location="f.csv", row=1, creditor="c", market=Market.SE,
                         customer_address=Address(**address), **texts)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])  # the first draw builds Unicode tables
@given(st.dictionaries(_text_fields, _tricky_text, max_size=6), st.dictionaries(_address_fields, _tricky_text, max_size=4))
def test_text_rules_fast_path_matches_the_loop(texts: dict[str, str | None], address: dict[str, str | None]) -> None:
    inv = _invoice(texts, address)
    fast: list = []
    each: list = []
    rules._text_rules(inv, fast)
    rules._text_rules_each(inv, each)
    assert fast == each


def test_text_rules_fast_path_on_every_tricky_value_in_every_field() -> None:
    for value in _TRICKY:
        for field in rules._TEXT_FIELDS:
            inv = _invoice({field: value}, {})
            fast: list = []
            each: list = []
            rules._text_rules(inv, fast)
            rules._text_rules_each(inv, each)
            assert fast == each, (field, value)
        for field in rules._ADDRESS_TEXT:
            inv = _invoice({"customer_name": "Anna"}, {field: value})
            fast, each = [], []
            rules._text_rules(inv, fast)
            rules._text_rules_each(inv, each)
            assert fast == each, (field, value)


# --- phones.py against phonenumbers.is_valid_number ----------------------------------------------

def _generated_numbers(region: str, count: int) -> list[str]:
    """Numbers of every kind phonenumbers knows for ``region`` (its examples, changed digit by
    digit, shortened and lengthened), written in E.164 and nationally: valid and invalid ones."""
    rnd = random.Random(f"phones-{region}")
    cc = phonenumbers.country_code_for_region(region)
    examples = [phonenumbers.example_number_for_type(region, t) for t in range(12)]
    seeds = sorted({str(e.national_number) for e in examples if e is not None})
    out: list[str] = []
    while len(out) < count:
        nsn = rnd.choice(seeds)
        match rnd.randrange(4):
            case 0:
                nsn = "".join(rnd.choice("0123456789") if rnd.random() < 0.3 else d for d in nsn)
            case 1:
                nsn = nsn[: rnd.randrange(2, len(nsn) + 1)]
            case 2:
                nsn += "".join(rnd.choice("0123456789") for _ in range(rnd.randrange(1, 4)))
            case _:
                nsn = "".join(rnd.choice("0123456789") for _ in range(rnd.randrange(3, 13)))
        out.append(f"+{cc}{nsn}" if rnd.random() < 0.5 else f"0{nsn}")
    return out


def _library_says(phone: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(phone, region))
    except phonenumbers.NumberParseException:
        return False


def test_phones_agree_with_phonenumbers_for_se_and_no() -> None:
    assert phones.FAST
    for region in ("SE", "NO"):
        numbers = _generated_numbers(region, 400)
        answers = [_library_says(p, region) for p in numbers]
        assert 40 < sum(answers) < len(answers) - 40, "the sample should hold valid and invalid numbers"
        for phone, expected in zip(numbers, answers, strict=True):
            phones.phone_ok.cache_clear()
            assert phones.phone_ok(phone, region) == expected, (region, phone)
            # and across the border: a Swedish customer with a Norwegian number and back
            other = "NO" if region == "SE" else "SE"
            assert phones.phone_ok(phone, other) == _library_says(phone, other), (other, phone)
