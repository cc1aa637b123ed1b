"""Identity numbers are masked by content, wherever they stand in a text and however they are written."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from amili_pipelines.domain.masking import mask_id_number, mask_identity_numbers
from tests.support.synthetic import no_fodselsnummer, se_orgnr, se_personnummer

# Text around a number: anything, but not glued to it with a digit or a letter (then it is another token).
_AROUND = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_SEP = st.sampled_from(["", "-", "+", " ", " - "])


def _glue(left: str, number: str, right: str) -> tuple[str, str]:
    if left and (left[-1].isalnum()):
        left += " "
    if right and (right[0].isalnum()):
        right = " " + right
    return left, right


@st.composite
def swedish(draw) -> tuple[str, str]:
    """(number as written, its 10 significant digits) for personnummer and samordningsnummer."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    raw = se_personnummer(rng, twelve=draw(st.booleans()), coordination=draw(st.booleans()))
    digits = raw.replace("-", "")
    sep = draw(_SEP)
    return digits[:-4] + sep + digits[-4:], digits


@st.composite
def norwegian(draw) -> tuple[str, str]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    digits = no_fodselsnummer(rng, d_number=draw(st.booleans()))
    sep = draw(st.sampled_from(["", " ", "-"]))
    return digits[:6] + sep + digits[6:], digits


@settings(max_examples=400, deadline=None)
@given(number=st.one_of(swedish(), norwegian()), left=_AROUND, right=_AROUND)
def test_every_identity_number_in_any_text_is_masked(number, left, right):
    written, digits = number
    left, right = _glue(left, written, right)
    masked = mask_identity_numbers(f"{left}{written}{right}")
    assert len(masked) == len(left) + len(written) + len(right), "masking replaces digits one for one"
    where = masked[len(left):len(left) + len(written)]
    birth = digits[:-4] if len(digits) in (10, 12) else digits[:6]
    assert re.sub(r"\D", "", where) == birth, (written, where)
    assert where.count("*") == len(digits) - len(birth)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Nd")), max_size=60))
def test_text_without_digits_is_untouched(text):
    assert mask_identity_numbers(text) == text


def test_public_and_non_identity_numbers_stay_readable():
    rng = random.Random(3)
    org = se_orgnr(rng)
    text = f"orgnr {org}, invoice 100234, amount 1250.00, OCR 4567891234567, phone +46701234567"
    assert mask_identity_numbers(text) == text


def test_shapes_people_write():
    assert mask_identity_numbers("pnr 19811218-9876.") == "pnr 19811218-****."
    assert mask_identity_numbers("811218-9876") == "811218-****"
    assert mask_identity_numbers("kund 8112189876 betalar") == "kund 811218**** betalar"
    assert mask_identity_numbers("811218+9876") == "811218+****"
    assert mask_identity_numbers("ID811218-9876") == "ID811218-****", "letters around do not hide it"
    assert mask_identity_numbers("fnr 999999 12345") == "fnr 999999 12345", "no date in it: not a person"
    assert mask_identity_numbers(None) is None
    assert mask_id_number("19900101-1234") == "19900101-****"


def test_an_issue_masks_a_number_in_the_name_of_its_file():
    from amili_pipelines.domain.issues import Issue, Severity

    issue = Issue(rule="parse.date", severity=Severity.ERROR, field="due_date", location="in/19701063-2391.xml",
                  message="in/19701063-2391.xml row 1: due_date: not a date", row=1)
    assert issue.location == "in/19701063-****.xml" and "2391" not in issue.message


def test_a_run_id_stays_whole_where_a_number_beside_it_is_masked():
    # The last group of a UUID (a Dagster run id in an alert's link) can be twelve digits that read
    # as a personnummer with a real date (19800101-1234): it is part of the id, not a person.
    run_id = "a738cc27-1199-4336-bd30-198001011234"
    link = f"run: http://dagster.example:3000/runs/{run_id}"
    assert mask_identity_numbers(link) == link
    assert mask_identity_numbers(f"pnr 19811218-9876 in {run_id}, fnr 811218-9876") == (
        f"pnr 19811218-**** in {run_id}, fnr 811218-****")
    assert mask_identity_numbers(f"x{run_id}") == f"x{run_id[:-4]}****", "glued to a letter: not a UUID"


@settings(max_examples=100, deadline=None)
@given(swedish(), _AROUND, _AROUND)
def test_every_place_people_look_uses_the_one_masking_function(number, left, right) -> None:
    """An issue's message and value, a log record, a console line: each is masked by content."""
    import io
    import logging

    from amili_pipelines.domain.issues import Issue, Severity
    from amili_pipelines.domain.masking import MaskedStream, install_log_masking

    written, digits = number
    left, right = _glue(left, written, right)
    text = f"{left}{written}{right}"
    expected = mask_identity_numbers(text)
    issue = Issue(rule="parse.record", severity=Severity.ERROR, field="customer_email", message=text, value=text)
    assert issue.message == expected and issue.value == expected and digits not in issue.message.replace("-", "")

    install_log_masking()
    install_log_masking()  # idempotent: one wrapper, not two
    record = logging.getLogger("amili.test").makeRecord("amili.test", logging.WARNING, __file__, 1, "row: %s",
                                                          (text,), None)
    assert record.getMessage() == "row: " + expected

    out = io.StringIO()
    MaskedStream(lambda: out).write(text)
    assert out.getvalue() == expected
