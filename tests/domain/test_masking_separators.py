"""Identity numbers written with the separators formatted text uses (an en dash or minus sign from
autocorrect, a no-break or thin space from a web page or spreadsheet) are masked like the plain
ones, and the same separators between invoice numbers, amounts and dates change nothing."""

from __future__ import annotations

import pytest

from amili_pipelines.domain.masking import mask_identity_numbers


@pytest.mark.parametrize(("text", "masked"), [
    ("kund 811218\u20139876 betalar inte", "kund 811218\u2013**** betalar inte"),  # en dash
    ("pnr 19811218\u22129876", "pnr 19811218\u2212****"),  # minus sign
    ("pnr 811218\u00a09876", "pnr 811218\u00a0****"),  # no-break space
    ("pnr 811218\u202f9876", "pnr 811218\u202f****"),  # narrow no-break space
    ("samordningsnummer 811278 \u2013 9876", "samordningsnummer 811278 \u2013 ****"),
    ("fnr 011299\u00a055131", "fnr 011299\u00a0*****"),
    ("D-nummer 411299\u201355131", "D-nummer 411299\u2013*****"),
])
def test_typographic_separators_do_not_hide_a_person(text, masked):
    assert mask_identity_numbers(text) == masked


@pytest.mark.parametrize("text", [
    "invoices 100001\u2013100045", "due 2024\u201312\u201301", "amount 1\u00a0234\u00a0567,00 kr",
    "KID 12345678903", "run 7e57a433-935a-4693-a33f-6b3acf5c29fe", "orgnr 556677\u20138899",
])
def test_the_same_separators_elsewhere_change_nothing(text):
    assert mask_identity_numbers(text) == text
