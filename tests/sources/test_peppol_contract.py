"""Peppol documents whose money or debtor is ambiguous, through the real extraction into a real
DuckDB file: a credit note dressed as an Invoice (cbc:InvoiceTypeCode), an element the schema
allows once given twice, an amount that is not an xsd:decimal. Each is kept and quarantined with
an issue that names the file, the element and the values; none is claimed or counted as paid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.readers.peppol_reader import read_peppol_file
from amili_pipelines.sources.validate import validate_partition
from tests.sources.test_peppol_hostile import VALID
from tests.support import synthetic
from tests.support.sources import creditors_with, one_source_yaml

AS_OF = date(2026, 11, 21)  # every document below is long overdue: unpaid ones are extracted
TYPE = "peppol.invoice_type"
DUPLICATE = "peppol.element.duplicate"
TOTALS = "peppol.totals.consistent"
CURRENCY = "peppol.currency.mismatch"
YAML = one_source_yaml("peppol", "in/*.xml", tabular="")
CUSTOMER = re.search(r"<cac:AccountingCustomerParty>.*?</cac:AccountingCustomerParty>", VALID, re.S).group(0)  # type: ignore[union-attr]
MONETARY = re.search(r"<cac:LegalMonetaryTotal>.*?</cac:LegalMonetaryTotal>", VALID, re.S).group(0)  # type: ignore[union-attr]
PAYABLE = '<cbc:PayableAmount currencyID="SEK">475.40</cbc:PayableAmount>'
TYPE_380 = "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
MEANS = ("<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentID>1234574</cbc:PaymentID>"
         "</cac:PaymentMeans>")


def _doc(number: str, *changes: tuple[str, str]) -> str:
    xml = VALID.replace("<cbc:ID>SE-7001</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>", 1)
    for old, new in changes:
        assert old in xml, old
        xml = xml.replace(old, new, 1)
    return xml


@dataclass
class Run:
    valid: dict[str, bool]  # location -> is_valid, for the extracted invoices
    balances: dict[str, tuple[Decimal | None, str]]  # location -> (open balance, status) in source_balances
    issues: dict[str, list[tuple[str, str, str, str, str | None]]]  # location -> (rule, severity, field, message, value)
    claimed: set[str]  # locations of the invoices registration would claim
    skipped_paid: int

    def errors(self, location: str) -> set[str]:
        return {rule for rule, severity, *_ in self.issues.get(location, []) if severity == "error"}

    def only(self, location: str, rule: str) -> tuple[str, str, str, str | None]:
        [(_, severity, field, message, value)] = [i for i in self.issues[location] if i[0] == rule]
        assert severity == "error"
        return field, message, value, severity


def _run(tmp_path: Path, warehouse, docs: dict[str, str]) -> Run:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.xml").write_text(VALID, encoding="utf-8")  # the control: valid and claimed
    for name, xml in docs.items():
        (folder / name).write_text(xml, encoding="utf-8")
    creds = creditors_with(tmp_path, YAML)
    s = extract_source(warehouse, creditors=creds, source_name="src", partition_date=AS_OF)
    v = validate_partition(warehouse, creditors=creds, partition_date=AS_OF)
    assert not s.errors and s.files_read == len(docs) + 1
    assert v.extracted == s.extracted == v.valid + v.quarantined
    con = warehouse.connection
    valid = dict(con.execute("SELECT location, is_valid FROM extracted_invoices").fetchall())
    balances = {loc: (bal, status) for loc, bal, status in con.execute(
        "SELECT location, open_balance, status FROM source_balances").fetchall()}
    issues: dict[str, list] = {}
    for loc, *rest in con.execute("SELECT location, rule, severity, field, message, value FROM invoice_issues "
                                  "ORDER BY location, rule").fetchall():
        issues.setdefault(loc, []).append(tuple(rest))
    claimed = {inv.location for inv in warehouse.invoices.valid_invoices(partition_date=AS_OF)}
    assert valid["in/ok.xml"] is True and "in/ok.xml" in claimed
    return Run(valid, balances, issues, claimed, s.skipped_paid)


def _quarantined(run: Run, location: str, rule: str) -> tuple[str, str, str | None]:
    """The invoice is stored, not valid, not claimed, and ``rule`` is its only error."""
    assert run.valid[location] is False, run.issues.get(location)
    assert location not in run.claimed
    assert run.errors(location) == {rule}, run.issues.get(location)
    field, message, value, _ = run.only(location, rule)
    assert message.startswith(f"{location}: "), message
    return field, message, value


# -- 1. cbc:InvoiceTypeCode --------------------------------------------------------------------

@pytest.mark.parametrize("code", ["381", "81", "83", "396", "532", "261"])
def test_credit_note_type_in_an_invoice_is_quarantined_not_claimed(tmp_path: Path, warehouse, code: str) -> None:
    run = _run(tmp_path, warehouse, {"credit.xml": _doc("SE-7101", (TYPE_380, f"<cbc:InvoiceTypeCode>{code}"
                                                                               "</cbc:InvoiceTypeCode>"))})
    field, message, value = _quarantined(run, "in/credit.xml", TYPE)
    assert field == "cbc:InvoiceTypeCode" and value == code
    assert f"'{code}'" in message and "credit note" in message and "not a claim" in message


@pytest.mark.parametrize(("change", "says"), [
    ((TYPE_380, "<cbc:InvoiceTypeCode>751</cbc:InvoiceTypeCode>"), "'751' is not an invoice type"),
    ((TYPE_380, "<cbc:InvoiceTypeCode>38O</cbc:InvoiceTypeCode>"), "'38O' is not an invoice type"),
    ((TYPE_380, "<cbc:InvoiceTypeCode> </cbc:InvoiceTypeCode>"), "is empty"),
    ((TYPE_380, ""), "cbc:InvoiceTypeCode is missing"),
])
def test_unknown_or_missing_invoice_type_is_quarantined(tmp_path: Path, warehouse, change: tuple[str, str],
                                                        says: str) -> None:
    run = _run(tmp_path, warehouse, {"odd.xml": _doc("SE-7102", change)})
    field, message, _ = _quarantined(run, "in/odd.xml", TYPE)
    assert field == "cbc:InvoiceTypeCode" and says in message, message


@pytest.mark.parametrize("code", ["380", "383", "384", "386", "389", " 380 "])
def test_invoice_types_are_claimed(tmp_path: Path, warehouse, code: str) -> None:
    run = _run(tmp_path, warehouse, {"typed.xml": _doc("SE-7103", (TYPE_380, f"<cbc:InvoiceTypeCode>{code}"
                                                                              "</cbc:InvoiceTypeCode>"))})
    assert run.valid["in/typed.xml"] is True and "in/typed.xml" in run.claimed


# -- 2. an element the schema allows once, given twice -----------------------------------------

def _twice(element: str, second: str) -> tuple[str, str]:
    return element, element + second


@pytest.mark.parametrize(("change", "rule", "field", "values"), [
    (("<cbc:ID>SE-7201</cbc:ID>", "<cbc:ID>SE-7201</cbc:ID><cbc:ID>SE-9999</cbc:ID>"), DUPLICATE, "cbc:ID",
     ("'SE-7201'", "'SE-9999'")),
    (_twice("<cbc:IssueDate>2026-03-01</cbc:IssueDate>", "<cbc:IssueDate>2026-02-01</cbc:IssueDate>"), DUPLICATE,
     "cbc:IssueDate", ("'2026-03-01'", "'2026-02-01'")),
    (_twice("<cbc:DueDate>2026-03-31</cbc:DueDate>", "<cbc:DueDate>2027-03-31</cbc:DueDate>"), DUPLICATE,
     "cbc:DueDate", ("'2026-03-31'", "'2027-03-31'")),
    (_twice(TYPE_380, "<cbc:InvoiceTypeCode>383</cbc:InvoiceTypeCode>"), DUPLICATE, "cbc:InvoiceTypeCode",
     ("'380'", "'383'")),
    (_twice(CUSTOMER, CUSTOMER.replace("Köpare AB", "Annan Köpare AB")), DUPLICATE, "cac:AccountingCustomerParty",
     ("'Köpare AB'", "'Annan Köpare AB'")),
    (("<cbc:RegistrationName>Köpare AB</cbc:RegistrationName>",
      "<cbc:RegistrationName>Köpare AB</cbc:RegistrationName><cbc:RegistrationName>Annan AB</cbc:RegistrationName>"),
     DUPLICATE, "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
     ("'Köpare AB'", "'Annan AB'")),
    (_twice(MEANS, MEANS.replace("1234574", "777714")), DUPLICATE, "cac:PaymentMeans/cbc:PaymentID",
     ("'1234574'", "'777714'")),
    (_twice(PAYABLE, PAYABLE.replace("475.40", "99999.00")), TOTALS, "cbc:PayableAmount", ("'475.40'", "'99999.00'")),
    (_twice(MONETARY, MONETARY.replace(">475.40<", ">99.00<")), TOTALS, "cac:LegalMonetaryTotal",
     ("'475.40'", "'99.00'")),
    (_twice("<cbc:DocumentCurrencyCode>SEK</cbc:DocumentCurrencyCode>",
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"), CURRENCY, "cbc:DocumentCurrencyCode",
     ("'SEK'", "'EUR'")),
])
def test_element_given_twice_is_quarantined_with_both_values(tmp_path: Path, warehouse, change: tuple[str, str],
                                                             rule: str, field: str, values: tuple[str, str]) -> None:
    run = _run(tmp_path, warehouse, {"twice.xml": _doc("SE-7201", change)})
    got_field, message, value = _quarantined(run, "in/twice.xml", rule)
    assert got_field == field and f"{field} appears 2 times" in message, message
    assert all(v in message for v in values), message
    assert value is not None and all(v.strip("'") in value for v in values), value


def test_duplicate_customer_identity_numbers_are_masked(tmp_path: Path, warehouse) -> None:
    # 701063-2391 is a personnummer; 7013632391 looks like one with an impossible month: both masked
    person = CUSTOMER.replace('<cbc:CompanyID schemeID="0007">5560360793', "<cbc:CompanyID>701063-2391")
    other = CUSTOMER.replace('<cbc:CompanyID schemeID="0007">5560360793', "<cbc:CompanyID>7013632391")
    run = _run(tmp_path, warehouse, {"people.xml": _doc("SE-7202", (CUSTOMER, person + other))})
    [(_, _, field, message, value)] = [i for i in run.issues["in/people.xml"] if i[0] == DUPLICATE]
    assert field == "cac:AccountingCustomerParty" and "in/people.xml" not in run.claimed
    for text in (message, value):
        assert "2391" not in text and "701063-****" in text and "701363****" in text, text


def test_same_payment_reference_in_two_payment_means_is_allowed(tmp_path: Path, warehouse) -> None:
    # UBL-SR-44: one PaymentID, which several cac:PaymentMeans (bankgiro, plusgiro) may repeat
    run = _run(tmp_path, warehouse, {"means.xml": _doc("SE-7203", _twice(MEANS, MEANS))})
    assert run.valid["in/means.xml"] is True and "in/means.xml" in run.claimed


# -- 3. amounts are xsd:decimal ----------------------------------------------------------------

@pytest.mark.parametrize("amount", ["475.40-", "4.754E2", "475,40", "\u2212475.40", "4 75.40", "\u0664\u0667\u0665.40",
                                    "Infinity", "", "- 475.40"])
def test_payable_amount_that_is_not_an_xsd_decimal_is_quarantined_not_paid(tmp_path: Path, warehouse,
                                                                          amount: str) -> None:
    run = _run(tmp_path, warehouse, {"amount.xml": _doc("SE-7301", (PAYABLE, PAYABLE.replace("475.40", amount)))})
    assert run.skipped_paid == 0
    assert run.balances["in/amount.xml"] == (None, "unpaid")  # never read as paid, as zero or as 475.40
    field, message, _ = _quarantined(run, "in/amount.xml", "parse.amount")
    assert field == "open_balance" and "cbc:PayableAmount" in message and "xsd:decimal" in message, message


def test_line_amount_with_trailing_minus_is_quarantined(tmp_path: Path, warehouse) -> None:
    line = '<cbc:LineExtensionAmount currencyID="SEK">200.00</cbc:LineExtensionAmount>'
    run = _run(tmp_path, warehouse, {"line.xml": _doc("SE-7302", (line, line.replace("200.00", "200.00-")))})
    field, message, _ = _quarantined(run, "in/line.xml", "parse.amount")
    assert field == "lines[0].total_excl_vat" and "'200.00-'" in message


def test_money_with_more_than_two_decimals_is_quarantined_not_rounded(tmp_path: Path, warehouse) -> None:
    run = _run(tmp_path, warehouse, {"cents.xml": _doc("SE-7304", (PAYABLE, PAYABLE.replace("475.40", "475.405")))})
    assert run.balances["in/cents.xml"] == (None, "unpaid")  # not 475.41
    field, message, _ = _quarantined(run, "in/cents.xml", "parse.amount")
    assert field == "open_balance" and "'475.405' has more than two decimals" in message, message


@pytest.mark.parametrize(("amount", "expected"), [
    ("475.4000", Decimal("475.4000")),  # trailing zeros are two decimals still
    ("+475.40", Decimal("475.40")), ("\n   475.40\t", Decimal("475.40")), ("475.4", Decimal("475.4")),
    ("-475.40", Decimal("-475.40")), (".5", Decimal("0.5")), ("475.", Decimal("475")),
])
def test_xsd_decimal_forms_are_read(tmp_path: Path, amount: str, expected: Decimal) -> None:
    path = tmp_path / "doc.xml"
    path.write_text(_doc("SE-7303", (PAYABLE, PAYABLE.replace("475.40", amount))), encoding="utf-8")
    inv = read_peppol_file(path, location="doc.xml", source="src", creditor="acme", market=Market.SE)
    assert inv.open_balance == expected
    assert not [i for i in inv.parse_issues if i.rule == "parse.amount"]


def test_generated_documents_raise_none_of_these_issues(tmp_path: Path) -> None:
    synthetic.write_peppol_folder(tmp_path / "in", invoices=12, seed=3)
    demo = Path(__file__).resolve().parents[2] / "assets" / "demo" / "no" / "peppol"
    for path in [*sorted((tmp_path / "in").glob("*.xml")), *sorted(demo.glob("*.xml"))]:
        inv = read_peppol_file(path, location=path.name, source="src", creditor="acme", market=Market.NO)
        assert not [i for i in inv.parse_issues if i.rule in (TYPE, DUPLICATE, "parse.amount")], (path.name,
                                                                                                   inv.parse_issues)
