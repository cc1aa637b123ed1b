"""Is a phone number valid? The answer of ``phonenumbers.is_valid_number``, computed faster.

``is_valid_number`` classifies the number: up to ten regular expressions, each looked up in
phonenumbers' pattern cache, matched twice (``match``, then a full match built per call) after a
possible-length test. Validity only needs *some* type to match, so here each region's metadata is
compiled once into (lengths, full-match) pairs tried in the same logic: the general description,
then any of premium rate ... voicemail, fixed line and mobile (when its pattern differs). Region
selection for a calling code shared by several regions (47: NO and SJ) follows
``region_code_for_number``. tests/domain/test_fast_paths.py checks the answers against the library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial

import phonenumbers

try:  # phonenumbers internals, for the compiled check below; the public call otherwise
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE as _REGIONS
    from phonenumbers.phonenumberutil import REGION_CODE_FOR_NON_GEO_ENTITY as _NON_GEO
    from phonenumbers.phonenumberutil import PhoneMetadata as _PhoneMetadata
    from phonenumbers.phonenumberutil import country_code_for_valid_region
    from phonenumbers.phonenumberutil import national_significant_number as _nsn

    FAST = True
except ImportError:  # pragma: no cover - another phonenumbers layout
    FAST = False

_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
          "fixed_line")
_Desc = tuple[frozenset[int], Callable[[str], object]]


def _compiled(desc) -> _Desc | None:  # type: ignore[no-untyped-def]
    """``_is_number_matching_desc(nsn, desc)`` as (possible lengths, full match); None never matches."""
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(f"(?:{desc.national_number_pattern})").fullmatch


class _RegionCheck:
    """One region's metadata, compiled: is a national significant number of some known type?

    Per number length, one pattern: the general description (when its possible lengths allow the
    length) and, as alternatives, the types whose possible lengths allow it (a type without
    possible lengths allows any). Validity asks whether it matches: one regular expression call.
    """

    __slots__ = ("by_length", "any_length", "leading")

    def __init__(self, md) -> None:  # type: ignore[no-untyped-def]
        general = _compiled(md.general_desc)
        # The usual types first: an alternation's answer does not depend on the order, its speed does.
        names = [] if md.same_mobile_and_fixed_line_pattern else ["mobile"]
        names += ["fixed_line", *(t for t in _TYPES if t != "fixed_line")]
        present = [t for t in (_compiled(getattr(md, n)) for n in names) if t is not None]
        self.by_length: dict[int, Callable[[str], object] | None] = {}
        self.any_length: Callable[[str], object] | None = None
        if general is not None:
            general_lengths = general[0]
            for n in {n for t in present for n in t[0]} | general_lengths:
                allowed = not general_lengths or n in general_lengths
                self.by_length[n] = _all_of(general, [t for t in present if not t[0] or n in t[0]]) if allowed else None
            if not general_lengths:  # any other length: the types without possible lengths
                self.any_length = _all_of(general, [t for t in present if not t[0]])
        self.leading = re.compile(md.leading_digits).match if md.leading_digits is not None else None

    def valid(self, nsn: str) -> bool:
        full = self.by_length.get(len(nsn), self.any_length)
        return full is not None and full(nsn) is not None


def _all_of(general: _Desc, types: list[_Desc]) -> Callable[[str], object] | None:
    """Full match of the general description and of one of ``types`` (None: nothing matches)."""
    if not types:
        return None
    either = "|".join(f"(?:{t[1].__self__.pattern})" for t in types)  # type: ignore[attr-defined]
    return re.compile(f"(?=(?:{general[1].__self__.pattern})\\Z)(?:{either})").fullmatch  # type: ignore[attr-defined]


@lru_cache(maxsize=1024)
def _check(cc: int, region: str) -> _RegionCheck | None:
    """The compiled check of ``region`` for calling code ``cc``; None when no number of ``cc`` can be
    valid there (no metadata, or the region has another calling code)."""
    md = _PhoneMetadata.metadata_for_region_or_calling_code(cc, region.upper())
    if md is None or (region != _NON_GEO and cc != country_code_for_valid_region(region)):
        return None
    return _RegionCheck(md)


@lru_cache(maxsize=1024)
def _region_check(region: str) -> _RegionCheck | None:
    md = _PhoneMetadata.metadata_for_region(region.upper(), None)
    return None if md is None else _RegionCheck(md)


def _region(cc: int, nsn: str) -> str | None:
    """``region_code_for_number``: the only region of the calling code, or the first whose leading
    digits match (or, without leading digits, for which the number is valid)."""
    regions = _REGIONS.get(cc)
    if regions is None:
        return None
    if len(regions) == 1:
        return regions[0]
    for region in regions:
        check = _region_check(region)
        if check is None:
            continue
        if check.leading is not None:
            if check.leading(nsn):
                return region
        elif check.valid(nsn):
            return region
    return None


def valid_national(cc: int, nsn: str) -> bool:
    """``is_valid_number`` of the number with calling code ``cc`` and national significant number ``nsn``."""
    region = _region(cc, nsn)
    if region is None:
        return False
    check = _check(cc, region)
    return check is not None and check.valid(nsn)


def national_validator(cc: int) -> Callable[[str], bool]:
    """``lambda nsn: valid_national(cc, nsn)``, the region looked up once when ``cc`` has only one."""
    regions = _REGIONS.get(cc)
    if regions is not None and len(regions) == 1:
        check = _check(cc, regions[0])
        return check.valid if check is not None else _never
    return partial(valid_national, cc)


def _never(nsn: str) -> bool:
    return False


def valid_number(parsed: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number(parsed)``."""
    if not FAST:  # pragma: no cover
        return phonenumbers.is_valid_number(parsed)
    return valid_national(parsed.country_code, _nsn(parsed))


# "+46..." / "+47..." and nothing but digits: what ``phonenumbers.parse`` would make of it is
# known without parsing (country code, then the national number as is: it starts with no 0, so
# there is no national prefix to strip, and there is no extension), and region is irrelevant
# after a "+". tests/domain/test_fast_paths.py checks this shortcut against ``phonenumbers.parse``.
_PLAIN_E164 = re.compile(r"\+(46|47)([1-9][0-9]{4,13})")


def plain_e164(phone: str) -> phonenumbers.PhoneNumber | None:
    m = _PLAIN_E164.fullmatch(phone)
    if m is None:
        return None
    return phonenumbers.PhoneNumber(country_code=int(m.group(1)), national_number=int(m.group(2)))


@lru_cache(maxsize=65536)
def phone_ok(phone: str, region: str) -> bool:
    """A valid number, written in E.164 or in the national format of ``region``."""
    if FAST:
        m = _PLAIN_E164.fullmatch(phone)
        if m is not None:
            return valid_national(int(m.group(1)), m.group(2))
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return False
    return valid_number(parsed)
