"""Hostile amounts and dates: a value that could be misread is a parse issue (file, row, field,
value) and the invoice is quarantined; it is never stored as valid with a guessed value.

Each case runs through the real extraction (file -> extract_source -> validate_partition -> DuckDB)
and reads back what was stored; unit tests of ValueParser pin the edge cases around it.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from amili_pipelines.sources.assemble import _shown
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.parsing import ParseError, ValueParser, _quoted
from amili_pipelines.sources.readers import snippet
from amili_pipelines.sources.validate import validate_partition
from tests.support import synthetic
from tests.support.sources import creditors_with, one_source_yaml

AS_OF = date(2026, 11, 21)
HEADER = ";".join(synthetic.SE_COLUMNS)
GOOD = ("100001;2026-03-02;2026-04-01;K1;Anna Berg;Privat;701063-2391;Storgatan 1;111 22;Stockholm;SE;"
        "a@example.se;+46701234567;SEK;A100;Konsulttimme;2;950,00;1 900,00;25;2 375,00;2 375,00;1234574;X")
SPACE_THOUSANDS = "        thousands: ' '\n"


def _yaml(kind: str, path: str, extra: str) -> str:
    return one_source_yaml(kind, path, extra, tabular="column_preset: se-erp")


def _run(tmp_path: Path, warehouse, content: bytes, *, kind: str = "csv", name: str = "a.csv",
         extra: str = SPACE_THOUSANDS):
    (tmp_path / name).write_bytes(content)
    creds = creditors_with(tmp_path, _yaml(kind, name, extra))
    s = extract_source(warehouse, creditors=creds, source_name="src", partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert not s.errors, s.errors
    return s, v


def _csv(*rows: str) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8-sig")


def _balance(value: str, row: str = GOOD) -> str:
    """``row`` with its open balance (Restbelopp) replaced."""
    assert ";2 375,00;1234574;" in row
    return row.replace(";2 375,00;1234574;", f";{value};1234574;")


def _stored(warehouse, number: str = "100001"):
    """(is_valid, total_amount, open_balance, invoice_date, due_date) of the stored invoice."""
    return warehouse.connection.execute(
        "SELECT is_valid, total_amount, open_balance, invoice_date, due_date FROM extracted_invoices "
        "WHERE invoice_number = ?", [number]).fetchone()


def _parse_issues(warehouse):
    """[(rule, row, field, value, message)] of the parse.* issues, in a stable order."""
    return warehouse.connection.execute(
        "SELECT rule, row_number, field, value, message FROM invoice_issues WHERE rule LIKE 'parse.%' "
        "ORDER BY row_number, field").fetchall()


def _source_balance(warehouse, number: str = "100001"):
    return warehouse.connection.execute(
        "SELECT open_balance, status FROM source_balances WHERE invoice_number = ?", [number]).fetchone()


def _assert_quarantined_for(warehouse, v, *, rule: str, field: str, value: str, says: str, row: int = 1) -> None:
    assert (v.valid, v.quarantined) == (0, 1), v.by_rule
    issues = _parse_issues(warehouse)
    assert [(r, n, f, val) for r, n, f, val, _ in issues] == [(rule, row, field, value)]
    message = issues[0][4]
    assert message.startswith(f"a.csv row {row}: {field}") or message.startswith(f"a.jsonl row {row}: {field}")
    assert says in message, message


# -- 1. signs ------------------------------------------------------------------------------

def test_whole_kronor_dash_is_the_amount_with_zero_decimals_not_a_credit(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(_balance("2 375,-")))
    assert (s.skipped_paid, v.valid, v.quarantined) == (0, 1, 0), v.by_rule
    assert _stored(warehouse)[:3] == (True, Decimal("2375.00"), Decimal("2375.00"))
    assert _source_balance(warehouse) == (Decimal("2375.00"), "unpaid")


def test_a_minus_on_both_sides_is_an_ambiguous_sign_not_a_positive_amount(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(_balance("-2 375,00-")))
    _assert_quarantined_for(warehouse, v, rule="parse.amount", field="open_balance", value="-2 375,00-",
                            says="ambiguous sign in amount '-2 375,00-'")
    assert _stored(warehouse)[:3] == (False, Decimal("2375.00"), None), "no balance is stored as read"


def test_a_trailing_minus_alone_is_still_a_credit(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(_balance("2 375,00-")))
    assert (s.extracted, s.skipped_paid) == (0, 1)
    assert _source_balance(warehouse) == (Decimal("-2375.00"), "paid")


# -- 2. more than two decimals ---------------------------------------------------------------

def test_three_decimals_in_text_are_a_parse_issue_not_rounded(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(_balance("2 375,005")))
    _assert_quarantined_for(warehouse, v, rule="parse.amount", field="open_balance", value="2 375,005",
                            says="amount '2 375,005' has 3 decimals (at most 2 allowed")
    assert _stored(warehouse)[2] is None


def test_three_decimals_in_a_json_number_are_a_parse_issue_not_rounded(tmp_path, warehouse) -> None:
    record = dict(zip(synthetic.SE_COLUMNS, GOOD.split(";"), strict=True))
    content = (json.dumps({**record, "Restbelopp": 2375.005}) + "\n").encode()
    s, v = _run(tmp_path, warehouse, content, kind="jsonl", name="a.jsonl",
                extra="        decimal: ','\n" + SPACE_THOUSANDS)
    _assert_quarantined_for(warehouse, v, rule="parse.amount", field="open_balance", value="2375.005",
                            says="amount '2375.005' has more than 2 decimals")
    assert _stored(warehouse)[2] is None


def test_a_dot_in_a_decimal_comma_file_is_not_taken_as_a_decimal_point(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(_balance("1.234")))
    _assert_quarantined_for(warehouse, v, rule="parse.amount", field="open_balance", value="1.234",
                            says="'.' is neither this source's decimal separator (',') nor its thousands separator (' ')")
    assert _stored(warehouse)[2] is None, "not 1.23"


# -- 3. thousands separators -----------------------------------------------------------------

def test_a_dot_thousands_separator_outside_a_group_of_three_is_a_parse_issue(tmp_path, warehouse) -> None:
    row = _balance("23.75").replace(";2 375,00;23.75;", ";2.375,00;23.75;")
    s, v = _run(tmp_path, warehouse, _csv(row), extra="        thousands: '.'\n")
    _assert_quarantined_for(warehouse, v, rule="parse.amount", field="open_balance", value="23.75",
                            says="thousands separator '.' must stand between groups of three digits")
    assert _stored(warehouse)[1:3] == (Decimal("2375.00"), None), "the well-grouped total is read, the balance not"


def test_a_dot_thousands_separator_in_place_is_read(tmp_path, warehouse) -> None:
    row = _balance("1.234").replace(";2 375,00;1.234;", ";2.375,00;1.234;")
    s, v = _run(tmp_path, warehouse, _csv(row), extra="        thousands: '.'\n")
    assert _stored(warehouse)[1:3] == (Decimal("2375.00"), Decimal("1234.00"))
    assert _parse_issues(warehouse) == []


def test_a_comma_thousands_separator_next_to_a_space_group_is_a_parse_issue(tmp_path, warehouse) -> None:
    row = GOOD.replace(";950,00;1 900,00;", ";950.00;1,900.00;").replace(";2 375,00;2 375,00;", ";2,375.00;1 234,56;")
    s, v = _run(tmp_path, warehouse, _csv(row), extra="        decimal: '.'\n        thousands: ','\n")
    _assert_quarantined_for(warehouse, v, rule="parse.amount", field="open_balance", value="1 234,56",
                            says="cannot read amount '1 234,56'")
    assert _stored(warehouse)[1:3] == (Decimal("2375.00"), None), "not 123456"


# -- 4. dates --------------------------------------------------------------------------------

def test_year_one_is_not_an_invoice_or_due_date(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(GOOD.replace("2026-03-02;2026-04-01", "0001-01-01;0001-01-01")))
    assert (v.valid, v.quarantined) == (0, 1)
    issues = _parse_issues(warehouse)
    assert [(r, n, f, val) for r, n, f, val, _ in issues] == [
        ("parse.date", 1, "due_date", "0001-01-01"), ("parse.date", 1, "invoice_date", "0001-01-01")]
    assert all("date '0001-01-01' is outside the plausible years 1900-2100" in m for *_, m in issues)
    assert _stored(warehouse)[3:] == (None, None)


@pytest.mark.parametrize(("cell", "says"), [
    ("2026-04-01 00:00 (ändrad 2027-04-01)", "(text after the date)"),
    ("2026-W10-1", "(ISO week dates are not accepted"),
])
def test_a_due_date_with_trailing_text_or_an_iso_week_is_a_parse_issue(tmp_path, warehouse, cell, says) -> None:
    s, v = _run(tmp_path, warehouse, _csv(GOOD.replace("2026-04-01", cell)))
    _assert_quarantined_for(warehouse, v, rule="parse.date", field="due_date", value=cell,
                            says=f"cannot read date {cell!r} {says}")
    assert _stored(warehouse)[4] is None


def test_a_timestamp_still_gives_its_date(tmp_path, warehouse) -> None:
    s, v = _run(tmp_path, warehouse, _csv(GOOD.replace("2026-04-01", "2026-04-01 00:00")))
    assert (v.valid, v.quarantined) == (1, 0), v.by_rule
    assert _stored(warehouse)[4] == date(2026, 4, 1)


# -- 5. masking before truncation --------------------------------------------------------------

PIN_IN_TEXT = "Faktura till Anna Berg pnr x197010632391 sida 2"  # the number crosses the message's cut
PIN_AT_VALUE_CUT = "y" * 46 + "19701063-2391 och mer text"  # the number crosses the stored value's cut


def test_an_identity_number_cut_by_the_message_or_value_limit_is_masked_first(tmp_path, warehouse) -> None:
    second = GOOD.replace("100001", "100002").replace("1234574", "1234582").replace("2026-03-02", PIN_AT_VALUE_CUT)
    s, v = _run(tmp_path, warehouse, _csv(GOOD.replace("2026-04-01", PIN_IN_TEXT), second))
    issues = _parse_issues(warehouse)
    assert [(r, n, f) for r, n, f, *_ in issues] == [("parse.date", 1, "due_date"), ("parse.date", 2, "invoice_date")]
    for *_, value, message in issues:
        # The birth date (8 digits) may show; not one digit more, whatever the cut left of the number.
        assert not re.search(r"197010632|19701063-2", value + message), (value, message)
    assert "19701063***" in issues[0][4] and issues[0][3] == "Faktura till Anna Berg pnr x19701063**** sida 2"
    assert issues[1][3] == "y" * 46 + "19701063-**..."


def test_snippet_quoted_and_shown_mask_before_they_cut() -> None:
    cell = "a" * 50 + "197010632391 rest"
    assert "197010632" not in snippet(cell, 60) and snippet(cell, 60).endswith("…")
    assert len(snippet(cell, 60)) == 60
    assert "197010632" not in _quoted("x" * 28 + "197010632391")
    assert "19701063-2" not in _shown("due_date", "y" * 46 + "19701063-2391 och mer text")
    assert _shown("customer_id_number", "197010632391") == "19701063****"
    assert _shown("due_date", "short") == "short"


# -- ValueParser edge cases --------------------------------------------------------------------

SE = ValueParser(decimal=",", thousands=" ")
DOT_THOUSANDS = ValueParser(decimal=",", thousands=".")
COMMA_THOUSANDS = ValueParser(decimal=".", thousands=",")
POINT = ValueParser(decimal=".")


@pytest.mark.parametrize(("parser", "raw", "expected"), [
    (SE, "2 375,-", Decimal("2375.00")),
    (SE, "-2 375,-", Decimal("-2375.00")),  # the ",-" is the kronor mark, the leading minus the sign
    (SE, "2 375,00-", Decimal("-2375.00")),
    (SE, "- 2 375,00", Decimal("-2375.00")),
    (SE, "1 234 567,89", Decimal("1234567.89")),
    (SE, "\u00a02\u00a0375,00", Decimal("2375.00")),
    (SE, "2\u202f375,5", Decimal("2375.5")),
    (SE, "2 375,5000", Decimal("2375.50")),  # four decimals, the extra ones zeros: exactly 2375.50
    (SE, ",50", Decimal("0.50")),
    (POINT, "2375.-", Decimal("2375.00")),
    (POINT, "2375.0000", Decimal("2375.00")),
    (DOT_THOUSANDS, "1.234.567,89", Decimal("1234567.89")),
    (COMMA_THOUSANDS, "1,234,567.89", Decimal("1234567.89")),
    (POINT, Decimal("2375.500"), Decimal("2375.50")),  # a typed DECIMAL(10, 3): exactly representable
    (POINT, 2968.7500000000005, Decimal("2968.75")),  # a float's binary noise, not a third decimal
    (POINT, 0.1 + 0.2, Decimal("0.30")),
])
def test_amounts_that_are_read(parser, raw, expected) -> None:
    value = parser.amount(raw)
    assert value == expected and str(value) == str(expected)


@pytest.mark.parametrize(("parser", "raw", "says"), [
    (SE, "-2 375,00-", "ambiguous sign"),
    (SE, "+2 375,00-", "ambiguous sign"),
    (SE, "2 375,--", "cannot read amount"),
    (SE, "2 375,50,-", "cannot read amount"),
    (SE, "2 375.-", "'.' is neither"),  # '.' is not this source's decimal separator
    (SE, "2 375,005", "has 3 decimals"),
    (SE, "2 375,500", "has 3 decimals"),  # three decimals look like a thousands group: never trusted
    (SE, "2 375,0051", "has 4 decimals"),
    (SE, "1,234", "is ',' a thousands separator"),
    (SE, "123.45", "'.' is neither"),
    (SE, "12 34,50", "between groups of three digits"),
    (SE, "2  375,00", "between groups of three digits"),
    (SE, "1 234,5 6", "cannot read amount"),
    (SE, "12,3,4", "more than one decimal separator"),
    (SE, "2,375E+3", "cannot read amount"),
    (SE, "-", "cannot read amount"),
    (DOT_THOUSANDS, "23.75", "between groups of three digits"),
    (DOT_THOUSANDS, "1234.567", "between groups of three digits"),
    (DOT_THOUSANDS, "1 234.567,00", "mixed thousands separators"),
    (COMMA_THOUSANDS, "1 234,56", "mixed thousands separators"),
    (COMMA_THOUSANDS, "1234,56", "between groups of three digits"),
    (POINT, "2375.005", "has 3 decimals"),
    (POINT, "2,375.00", "',' is neither"),
    (POINT, 2375.005, "more than 2 decimals"),
    (POINT, Decimal("2375.005"), "more than 2 decimals"),
    (POINT, Decimal("-0.001"), "more than 2 decimals"),
])
def test_amounts_that_are_parse_errors(parser, raw, says) -> None:
    with pytest.raises(ParseError, match=re.escape(says)):
        parser.amount(raw)


def test_quantities_may_have_more_decimals_but_follow_the_same_separator_rules() -> None:
    assert SE.quantity("1,2345") == Decimal("1.2345")
    assert SE.quantity("0,333-") == Decimal("-0.333")
    with pytest.raises(ParseError, match="ambiguous sign"):
        SE.quantity("-1,5-")
    with pytest.raises(ParseError, match="'.' is neither"):
        SE.quantity("1.5")


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-04-01", date(2026, 4, 1)),
    ("2026-04-01T12:30:00Z", date(2026, 4, 1)),
    ("2026-04-01 12:30:00+01:00", date(2026, 4, 1)),
    ("2026-04-01 00:00", date(2026, 4, 1)),
    ("20260401", date(2026, 4, 1)),
    ("01.04.2026", date(2026, 4, 1)),
    ("1900-01-01", date(1900, 1, 1)),
    ("2100-12-31", date(2100, 12, 31)),
])
def test_dates_that_are_read(raw, expected) -> None:
    assert SE.date(raw) == expected


@pytest.mark.parametrize(("raw", "says"), [
    ("0001-01-01", "outside the plausible years 1900-2100"),
    ("9999-12-31", "outside the plausible years 1900-2100"),
    ("1899-12-31", "outside the plausible years 1900-2100"),
    ("00010101", "outside the plausible years 1900-2100"),
    (date(1, 1, 1), "outside the plausible years 1900-2100"),
    ("2026-04-01 00:00 (ändrad 2027-04-01)", "text after the date"),
    ("2026-04-01x", "text after the date"),
    ("2026-W10-1", "ISO week dates are not accepted"),
    ("2026W101", "ISO week dates are not accepted"),
    ("2026-04-01T25:00", "cannot read date"),
    ("31.+1.2026", "cannot read date"),
])
def test_dates_that_are_parse_errors(raw, says) -> None:
    with pytest.raises(ParseError, match=re.escape(says)):
        SE.date(raw)


def test_a_date_format_date_is_also_range_checked() -> None:
    parser = ValueParser(decimal=",", date_format="%d.%m.%Y")
    assert parser.date("1.4.2026") == date(2026, 4, 1)
    with pytest.raises(ParseError, match="outside the plausible years"):
        parser.date("01.04.0001")
