"""Peppol documents that would move money wrongly: foreign currencies, totals that do not add up,
documents that break the reader. Each becomes an invoice with an ERROR issue, never a crash."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from amili_pipelines.domain.invoice import Market, SourceInvoice
from amili_pipelines.sources.readers import peppol_reader
from amili_pipelines.sources.readers.peppol_reader import read_peppol_file
from tests.support import synthetic

CURRENCY = "peppol.currency.mismatch"
TOTALS = "peppol.totals.consistent"
NEW_RULES = {CURRENCY, TOTALS, "peppol.document"}

# A BIS 3.0 invoice whose totals add up: lines 200 + 300 = 500; - allowance 50 + charge 10 = 460
# excl. VAT; + 25 % VAT 115 = 575; - prepaid 100 + rounding 0.40 = 475.40 to pay.
VALID = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
  <cbc:ID>SE-7001</cbc:ID>
  <cbc:IssueDate>2026-03-01</cbc:IssueDate>
  <cbc:DueDate>2026-03-31</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>SEK</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>REF-1</cbc:BuyerReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cbc:EndpointID schemeID="0007">5560360793</cbc:EndpointID>
    <cac:PostalAddress><cbc:CityName>Stockholm</cbc:CityName><cac:Country><cbc:IdentificationCode>SE</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
    <cac:PartyLegalEntity><cbc:RegistrationName>Säljare AB</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cbc:EndpointID schemeID="0007">5560360793</cbc:EndpointID>
    <cac:PostalAddress><cbc:StreetName>Storgatan 1</cbc:StreetName><cbc:CityName>Malmö</cbc:CityName><cbc:PostalZone>211 22</cbc:PostalZone><cac:Country><cbc:IdentificationCode>SE</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
    <cac:PartyLegalEntity><cbc:RegistrationName>Köpare AB</cbc:RegistrationName><cbc:CompanyID schemeID="0007">5560360793</cbc:CompanyID></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentID>1234574</cbc:PaymentID></cac:PaymentMeans>
  <cac:AllowanceCharge>
    <cbc:ChargeIndicator>false</cbc:ChargeIndicator>
    <cbc:AllowanceChargeReason>Rabatt</cbc:AllowanceChargeReason>
    <cbc:Amount currencyID="SEK">50.00</cbc:Amount>
    <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
  </cac:AllowanceCharge>
  <cac:AllowanceCharge>
    <cbc:ChargeIndicator>true</cbc:ChargeIndicator>
    <cbc:AllowanceChargeReason>Frakt</cbc:AllowanceChargeReason>
    <cbc:Amount currencyID="SEK">10.00</cbc:Amount>
    <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
  </cac:AllowanceCharge>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="SEK">115.00</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="SEK">460.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="SEK">115.00</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="SEK">500.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="SEK">460.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="SEK">575.00</cbc:TaxInclusiveAmount>
    <cbc:AllowanceTotalAmount currencyID="SEK">50.00</cbc:AllowanceTotalAmount>
    <cbc:ChargeTotalAmount currencyID="SEK">10.00</cbc:ChargeTotalAmount>
    <cbc:PrepaidAmount currencyID="SEK">100.00</cbc:PrepaidAmount>
    <cbc:PayableRoundingAmount currencyID="SEK">0.40</cbc:PayableRoundingAmount>
    <cbc:PayableAmount currencyID="SEK">475.40</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="EA">2</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="SEK">200.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Konsulttimme</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="SEK">100.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
  <cac:InvoiceLine>
    <cbc:ID>2</cbc:ID>
    <cbc:InvoicedQuantity unitCode="EA">1</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="SEK">300.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Licens</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="SEK">300.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>
"""
EUR_TAX_TOTAL = '<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">10.35</cbc:TaxAmount></cac:TaxTotal>\n  '
TAX_TOTAL = '<cbc:TaxAmount currencyID="SEK">115.00</cbc:TaxAmount>'  # first occurrence: the TaxTotal's own


def _read(tmp_path: Path, xml: str, name: str = "doc.xml") -> SourceInvoice:
    path = tmp_path / name
    path.write_text(xml, encoding="utf-8")
    return read_peppol_file(path, location=name, source="src", creditor="acme", market=Market.SE)


def _edit(*changes: tuple[str, str]) -> str:
    xml = VALID
    for old, new in changes:
        assert old in xml, old
        xml = xml.replace(old, new, 1)
    return xml


def _rules(inv: SourceInvoice, *rules: str) -> list:
    return [i for i in inv.parse_issues if i.rule in rules]


def test_valid_document_has_no_issues(tmp_path: Path) -> None:
    inv = _read(tmp_path, VALID)
    assert inv.parse_issues == ()
    assert (inv.currency, inv.vat_amount, inv.total_amount, inv.open_balance) == (
        "SEK", Decimal("115.00"), Decimal("575.00"), Decimal("475.40"))


def test_generated_demo_documents_have_none_of_the_new_issues(tmp_path: Path) -> None:
    synthetic.write_peppol_folder(tmp_path / "in", invoices=12, seed=3)
    for path in sorted((tmp_path / "in").glob("*.xml")):
        inv = read_peppol_file(path, location=path.name, source="src", creditor="acme", market=Market.NO)
        assert not _rules(inv, *NEW_RULES), (path.name, inv.parse_issues)


@pytest.mark.parametrize(("old", "new", "field"), [
    ('<cbc:LineExtensionAmount currencyID="SEK">300.00', '<cbc:LineExtensionAmount currencyID="EUR">300.00',
     "lines[1].cbc:LineExtensionAmount"),
    ('<cbc:PayableAmount currencyID="SEK">', '<cbc:PayableAmount currencyID="EUR">', "cbc:PayableAmount"),
    ('<cbc:Amount currencyID="SEK">50.00', '<cbc:Amount currencyID="EUR">50.00', "cbc:Amount"),
    ('<cbc:TaxableAmount currencyID="SEK">', '<cbc:TaxableAmount currencyID="EUR">', "cbc:TaxableAmount"),
])
def test_amount_in_another_currency(tmp_path: Path, old: str, new: str, field: str) -> None:
    inv = _read(tmp_path, _edit((old, new)))
    [issue] = _rules(inv, CURRENCY)
    assert issue.severity == "error" and issue.field == field
    assert field in issue.message and "'EUR'" in issue.message and "'SEK'" in issue.message
    assert not _rules(inv, TOTALS, "peppol.document")


def test_missing_currency_id(tmp_path: Path) -> None:
    inv = _read(tmp_path, _edit(('<cbc:PriceAmount currencyID="SEK">100.00', "<cbc:PriceAmount>100.00")))
    [issue] = _rules(inv, CURRENCY)
    assert issue.field == "lines[0].cbc:PriceAmount" and "no currencyID" in issue.message


def test_missing_document_currency(tmp_path: Path) -> None:
    inv = _read(tmp_path, _edit(("<cbc:DocumentCurrencyCode>SEK</cbc:DocumentCurrencyCode>", "")))
    [issue] = _rules(inv, CURRENCY)
    assert issue.field == "currency" and "DocumentCurrencyCode is missing" in issue.message


def test_mismatches_are_capped(tmp_path: Path) -> None:
    extra = '<cac:PrepaidPayment><cbc:PaidAmount currencyID="EUR">1</cbc:PaidAmount></cac:PrepaidPayment>' * 1000
    xml = VALID.replace('currencyID="SEK"', 'currencyID="EUR"').replace("<cac:AllowanceCharge>", extra + "<cac:AllowanceCharge>", 1)
    issues = _rules(_read(tmp_path, xml), CURRENCY)
    assert len(issues) == 21 and issues[-1].message.endswith("997 more peppol.currency.mismatch problems in this "
                                                             "document (not listed one by one)")


@pytest.mark.parametrize(("code", "old", "new", "field", "diff"), [
    ("BR-CO-10", '<cbc:LineExtensionAmount currencyID="SEK">300.00', '<cbc:LineExtensionAmount currencyID="SEK">290.00',
     "cbc:LineExtensionAmount", "10.00"),
    ("BR-CO-13", '<cbc:AllowanceTotalAmount currencyID="SEK">50.00', '<cbc:AllowanceTotalAmount currencyID="SEK">40.00',
     "cbc:TaxExclusiveAmount", "-10.00"),
    ("BR-CO-15", TAX_TOTAL, '<cbc:TaxAmount currencyID="SEK">125.00</cbc:TaxAmount>', "cbc:TaxInclusiveAmount", "-10.00"),
    ("BR-CO-16", '<cbc:PayableAmount currencyID="SEK">475.40', '<cbc:PayableAmount currencyID="SEK">575.40',
     "cbc:PayableAmount", "100.00"),
])
def test_each_total_equation(tmp_path: Path, code: str, old: str, new: str, field: str, diff: str) -> None:
    inv = _read(tmp_path, _edit((old, new)))
    [issue] = _rules(inv, TOTALS, CURRENCY, "peppol.document")
    assert issue.rule == TOTALS and issue.severity == "error" and issue.field == field
    assert code in issue.message and f"difference {diff}" in issue.message and " = " in issue.message


def test_totals_within_a_cent_and_optional_amounts(tmp_path: Path) -> None:
    cent = _edit(('<cbc:PayableAmount currencyID="SEK">475.40', '<cbc:PayableAmount currencyID="SEK">475.41'))
    assert _read(tmp_path, cent).parse_issues == ()
    # no allowance, charge, prepaid or rounding: each counts as 0
    plain = _edit(
        ('<cbc:TaxExclusiveAmount currencyID="SEK">460.00', '<cbc:TaxExclusiveAmount currencyID="SEK">500.00'),
        ('<cbc:TaxInclusiveAmount currencyID="SEK">575.00', '<cbc:TaxInclusiveAmount currencyID="SEK">615.00'),
        ('<cbc:AllowanceTotalAmount currencyID="SEK">50.00</cbc:AllowanceTotalAmount>', ""),
        ('<cbc:ChargeTotalAmount currencyID="SEK">10.00</cbc:ChargeTotalAmount>', ""),
        ('<cbc:PrepaidAmount currencyID="SEK">100.00</cbc:PrepaidAmount>', ""),
        ('<cbc:PayableRoundingAmount currencyID="SEK">0.40</cbc:PayableRoundingAmount>', ""),
        ('<cbc:PayableAmount currencyID="SEK">475.40', '<cbc:PayableAmount currencyID="SEK">615.00'),
        (TAX_TOTAL, '<cbc:TaxAmount currencyID="SEK">115.00</cbc:TaxAmount>'),
    )
    assert not _rules(_read(tmp_path, plain), TOTALS)


def test_unreadable_amount_skips_its_equation_but_is_an_error(tmp_path: Path) -> None:
    inv = _read(tmp_path, _edit(('<cbc:PrepaidAmount currencyID="SEK">100.00', '<cbc:PrepaidAmount currencyID="SEK">lots')))
    assert [i.rule for i in inv.parse_issues] == ["parse.amount"]


def test_duplicate_payable_amount(tmp_path: Path) -> None:
    payable = '<cbc:PayableAmount currencyID="SEK">475.40</cbc:PayableAmount>'
    inv = _read(tmp_path, _edit((payable, payable + '<cbc:PayableAmount currencyID="SEK">99999.00</cbc:PayableAmount>')))
    [issue] = _rules(inv, TOTALS)
    assert issue.field == "cbc:PayableAmount" and "2 times" in issue.message


def test_tax_total_in_tax_currency_is_accepted_and_not_the_vat(tmp_path: Path) -> None:
    # the accounting-currency TaxTotal first, so "the first TaxTotal" would be the wrong VAT
    xml = _edit(
        ("<cbc:BuyerReference>", "<cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>\n  <cbc:BuyerReference>"),
        ("<cac:TaxTotal>", EUR_TAX_TOTAL + "<cac:TaxTotal>"),
    )
    inv = _read(tmp_path, xml)
    assert inv.parse_issues == ()
    assert inv.vat_amount == Decimal("115.00")


def test_tax_total_in_another_currency_without_tax_currency_code(tmp_path: Path) -> None:
    xml = _edit(("<cac:TaxTotal>", EUR_TAX_TOTAL + "<cac:TaxTotal>"))
    inv = _read(tmp_path, xml)
    assert [i.field for i in _rules(inv, CURRENCY)] == ["cbc:TaxAmount"]
    assert "2 cac:TaxTotal" in _rules(inv, TOTALS)[0].message


def test_unexpected_failure_becomes_a_document_issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("<cbc:Secret>do not echo me</cbc:Secret>")

    monkeypatch.setattr(peppol_reader, "totals_issues", boom)
    inv = _read(tmp_path, VALID)
    [issue] = inv.parse_issues
    assert issue.rule == "peppol.document" and issue.severity == "error" and issue.field == "document"
    assert issue.message == "doc.xml: could not be read: RuntimeError"
    assert inv.invoice_number == "SE-7001" and inv.lines == () and inv.open_balance is None


def test_deeply_nested_document(tmp_path: Path) -> None:
    deep = "<cac:X>" * 5000 + '<cbc:Amount currencyID="EUR">1</cbc:Amount>' + "</cac:X>" * 5000
    inv = _read(tmp_path, _edit(("<cbc:BuyerReference>", deep + "<cbc:BuyerReference>")))
    assert [i.field for i in inv.parse_issues] == ["cbc:Amount"]  # found, and no RecursionError
