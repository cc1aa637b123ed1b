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


@pytest.mark.parametrize("code", ["380", " 380 ", "82", "331", "575", "623", "780"])
def test_plain_invoice_types_are_claimed(tmp_path: Path, warehouse, code: str) -> None:
    run = _run(tmp_path, warehouse, {"typed.xml": _doc("SE-7103", (TYPE_380, f"<cbc:InvoiceTypeCode>{code}"
                                                                              "</cbc:InvoiceTypeCode>"))})
    assert run.valid["in/typed.xml"] is True and "in/typed.xml" in run.claimed


def test_corrected_invoice_is_quarantined_for_a_person(tmp_path: Path, warehouse) -> None:
    # 384 replaces an earlier invoice: claiming both would chase the debtor twice for one debt
    ref = ("<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>SE-7000</cbc:ID>"
           "</cac:InvoiceDocumentReference></cac:BillingReference>")
    run = _run(tmp_path, warehouse, {"corrected.xml": _doc(
        "SE-7104", (TYPE_380, "<cbc:InvoiceTypeCode>384</cbc:InvoiceTypeCode>"),
        ("<cac:AccountingSupplierParty>", ref + "<cac:AccountingSupplierParty>"))})
    field, message, value = _quarantined(run, "in/corrected.xml", TYPE)
    assert field == "cbc:InvoiceTypeCode" and value == "384"
    for says in ("'384'", "corrected invoice", "replaces an earlier invoice", "'SE-7000'", "twice", "a person"):
        assert says in message, (says, message)
    assert run.balances["in/corrected.xml"] == (Decimal("475.40"), "unpaid") and run.skipped_paid == 0


@pytest.mark.parametrize(("code", "says"), [
    ("383", "debit note"), ("80", "debit note"), ("84", "debit note"), ("386", "prepayment invoice"),
    ("389", "self-billed invoice"), ("393", "factored invoice"), ("71", "request for payment"),
    ("326", "partial invoice"), ("877", "final construction invoice"), ("395", "consignment invoice"),
    ("388", "tax invoice"), ("382", "commission note"),
])
def test_invoice_types_that_may_not_be_a_claim_are_quarantined_naming_the_code(
        tmp_path: Path, warehouse, code: str, says: str) -> None:
    run = _run(tmp_path, warehouse, {"typed.xml": _doc("SE-7105", (TYPE_380, f"<cbc:InvoiceTypeCode>{code}"
                                                                              "</cbc:InvoiceTypeCode>"))})
    field, message, value = _quarantined(run, "in/typed.xml", TYPE)
    assert field == "cbc:InvoiceTypeCode" and value == code
    assert f"cbc:InvoiceTypeCode '{code}' is a {says}" in message and "not claimed" in message, message


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
    (_twice(TYPE_380, "<cbc:InvoiceTypeCode>331</cbc:InvoiceTypeCode>"), DUPLICATE, "cbc:InvoiceTypeCode",
     ("'380'", "'331'")),
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


# -- 4. dates are xsd:date (PEPPOL-EN16931-F001: YYYY-MM-DD) ------------------------------------

ISSUE_DATE = "<cbc:IssueDate>2026-03-01</cbc:IssueDate>"
DUE_DATE = "<cbc:DueDate>2026-03-31</cbc:DueDate>"


@pytest.mark.parametrize("written", ["2026-3-1", "01.03.2026", "2026-03-01T00:00:00", "20260301", "2026/03/01",
                                     "2026-03-01 00:00", "2026-03-01+1:00", "2026-03-01+15:00", "\uff12026-03-01",
                                     "26-03-01", "\u00a02026-03-01", "2026-03-01Z+01:00", "+2026-03-01"])
@pytest.mark.parametrize(("element", "field"), [(ISSUE_DATE, "invoice_date"), (DUE_DATE, "due_date")])
def test_date_not_written_as_an_xsd_date_is_quarantined(tmp_path: Path, warehouse, written: str, element: str,
                                                        field: str) -> None:
    tag = element[1:element.index(">")]
    changed = element.replace(element[len(tag) + 2:element.index("</")], written)
    run = _run(tmp_path, warehouse, {"dated.xml": _doc("SE-7401", (element, changed))})
    got_field, message, value = _quarantined(run, "in/dated.xml", "parse.date")
    assert run.skipped_paid == 0 and run.balances["in/dated.xml"][1] == "unpaid"
    assert got_field == field and f"{field} ({tag})" in message and "YYYY-MM-DD" in message, message
    assert repr(written.strip(" ")) in message and value is not None, message


@pytest.mark.parametrize("written", ["2026-02-30", "1899-12-31"])
def test_xsd_date_that_is_no_plausible_day_is_quarantined(tmp_path: Path, warehouse, written: str) -> None:
    run = _run(tmp_path, warehouse, {"dated.xml": _doc("SE-7402", (DUE_DATE, f"<cbc:DueDate>{written}</cbc:DueDate>"))})
    _, message, _ = _quarantined(run, "in/dated.xml", "parse.date")
    assert "due_date (cbc:DueDate)" in message and f"'{written}'" in message, message


def test_payment_due_date_is_read_as_strictly(tmp_path: Path, warehouse) -> None:
    means = MEANS.replace("</cac:PaymentMeans>", "<cbc:PaymentDueDate>31.03.2026</cbc:PaymentDueDate></cac:PaymentMeans>")
    run = _run(tmp_path, warehouse, {"dated.xml": _doc("SE-7403", (DUE_DATE, ""), (MEANS, means))})
    field, message, _ = _quarantined(run, "in/dated.xml", "parse.date")
    assert field == "due_date" and "cac:PaymentMeans/cbc:PaymentDueDate" in message and "'31.03.2026'" in message


def test_date_issue_masks_an_identity_number(tmp_path: Path, warehouse) -> None:
    run = _run(tmp_path, warehouse, {"dated.xml": _doc("SE-7404", (DUE_DATE, "<cbc:DueDate>701063-2391</cbc:DueDate>"))})
    _, message, value = _quarantined(run, "in/dated.xml", "parse.date")
    for text in (message, value):
        assert "2391" not in text and "701063-****" in text, text


@pytest.mark.parametrize(("written", "expected"), [
    ("2026-03-01", date(2026, 3, 1)), ("2026-03-01Z", date(2026, 3, 1)), ("2026-03-01+01:00", date(2026, 3, 1)),
    ("2026-03-01-12:00", date(2026, 3, 1)), ("2026-03-01+14:00", date(2026, 3, 1)),  # the day as written
    ("\n  2026-03-01\t ", date(2026, 3, 1)),  # xsd:date collapses XML whitespace
])
def test_xsd_date_forms_are_read(tmp_path: Path, written: str, expected: date) -> None:
    path = tmp_path / "doc.xml"
    path.write_text(_doc("SE-7405", (ISSUE_DATE, f"<cbc:IssueDate>{written}</cbc:IssueDate>")), encoding="utf-8")
    inv = read_peppol_file(path, location="doc.xml", source="src", creditor="acme", market=Market.SE)
    assert inv.invoice_date == expected and inv.parse_issues == ()


# -- 5. a credit is neither claimed nor paid ----------------------------------------------------

PREPAID = '<cbc:PrepaidAmount currencyID="SEK">100.00</cbc:PrepaidAmount>'
# prepaid 1050.00 of 575.00: 575.00 - 1050.00 + 0.40 = -474.60 to pay, and the totals add up
CREDIT = ((PREPAID, PREPAID.replace("100.00", "1050.00")), (PAYABLE, PAYABLE.replace("475.40", "-474.60")))


@pytest.mark.parametrize("code", ["381", "396", "384", "386"])
def test_credit_with_negative_payable_is_quarantined_not_counted_paid(tmp_path: Path, warehouse, code: str) -> None:
    run = _run(tmp_path, warehouse, {"credit.xml": _doc(
        "SE-7501", (TYPE_380, f"<cbc:InvoiceTypeCode>{code}</cbc:InvoiceTypeCode>"), *CREDIT)})
    assert run.skipped_paid == 0
    assert run.balances["in/credit.xml"] == (Decimal("-474.60"), "unpaid")
    assert run.valid["in/credit.xml"] is False and "in/credit.xml" not in run.claimed
    assert TYPE in run.errors("in/credit.xml") and run.errors("in/credit.xml") <= {TYPE, "amount.open_balance.positive"}
    [(_, _, field, message, value)] = [i for i in run.issues["in/credit.xml"] if i[0] == TYPE]
    assert message.startswith("in/credit.xml: ") and f"'{code}'" in message and value == code
    assert "'-474.60'" in message and "not counted as paid" in message, message
    assert field == "open_balance"  # the paid decision reads it: an issue on it keeps the document out of "paid"


def test_credit_note_document_with_negative_payable_is_quarantined_not_counted_paid(tmp_path: Path,
                                                                                    warehouse) -> None:
    root = '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
    xml = _doc("SE-7502", (root, root.replace("Invoice", "CreditNote")), ("</Invoice>", "</CreditNote>"),
               (TYPE_380, "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>"), *CREDIT)
    run = _run(tmp_path, warehouse, {"credit.xml": xml})
    assert run.skipped_paid == 0 and run.balances["in/credit.xml"][1] == "unpaid"
    _, message, _ = _quarantined(run, "in/credit.xml", "peppol.namespace")
    assert "'CreditNote'" in message and "credit notes" in message


def test_invoice_with_nothing_left_to_pay_is_still_paid(tmp_path: Path, warehouse) -> None:
    # the control: for a 380 invoice a payable of 0 or less means paid (an overpayment), as for every source
    run = _run(tmp_path, warehouse, {"paid.xml": _doc("SE-7503", *CREDIT)})
    assert run.skipped_paid == 1 and run.balances["in/paid.xml"] == (Decimal("-474.60"), "paid")
