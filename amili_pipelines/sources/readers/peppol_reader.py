"""Peppol BIS Billing 3.0 (UBL 2.1 Invoice) documents -> one SourceInvoice per file.

Parsed with defusedxml (documents come from outside). A document that is not a UBL Invoice (a
CreditNote, another namespace), not XML at all, or that breaks the reader in any other way still
becomes an invoice record with a clear issue, so it shows in quarantine instead of vanishing.
The currency of every amount, the document's own totals, its type (cbc:InvoiceTypeCode) and
elements given twice are checked here (peppol_checks): the canonical invoice keeps too little of
the document for validation to do it later. Amounts are read as what UBL says they are,
xsd:decimal, not with the leniency of the tabular readers: "475.40-" is no credit here. Dates
likewise are xsd:date (YYYY-MM-DD): "05.01.2024" or "2024-1-5" is no Peppol date, and a reader that
guesses one may guess the day the debtor owes from wrongly.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    Market,
    SourceInvoice,
)
from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.domain.money import CENT
from amili_pipelines.sources.parsing import AMOUNT_LIMIT, ParseError, ValueParser, text
from amili_pipelines.sources.readers import snippet
from amili_pipelines.sources.readers.peppol_checks import (
    CAC,
    CBC,
    DOCUMENT,
    ZERO,
    Report,
    Totals,
    currency_issues,
    duplicate_issues,
    totals_issues,
    type_issues,
    vat_totals,
)

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
ROOT = f"{{{INVOICE_NS}}}Invoice"
LMT = f"{CAC}LegalMonetaryTotal"
GLN_SCHEME = "0088"
ORGNR_SCHEMES = {"0007": "SE", "0192": "NO"}
_PARSER = ValueParser(decimal=".")
_MAX_NUMBER = 100  # a longer "invoice number" in a broken document is not worth keeping as its key
# xsd:decimal, the type of every UBL amount, quantity and percentage: an optional leading sign, ASCII
# digits and at most one '.'; XML whitespace around it is collapsed. No trailing minus, exponent,
# group separator or decimal comma.
_XSD_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_XML_SPACE = " \t\r\n"
# Not money: a quantity, a unit price (BT-146) and a rate may have more than two decimals.
_NOT_MONEY = (".units", ".unit_price", ".vat_percent")
# xsd:date as PEPPOL-EN16931-F001 writes it: YYYY-MM-DD in ASCII digits, with the optional time zone
# xsd:date allows (Z or +hh:mm / -hh:mm, at most 14:00 away).
_XSD_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?")
_DATE_FORM = "not an xsd:date: Peppol writes a date YYYY-MM-DD, optionally with a time zone (PEPPOL-EN16931-F001)"
_XSD_FORM = "not an xsd:decimal (digits with '.' as the decimal point and an optional leading sign)"


def _t(el: Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    if found is None:
        return None
    return text(found.text)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _shown_path(path: str) -> str:
    return path.replace(CAC, "cac:").replace(CBC, "cbc:")


def read_peppol_file(path: Path, *, location: str, source: str, creditor: str, market: Market) -> SourceInvoice:
    data = path.read_bytes()
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    base: dict[str, Any] = {"source": source, "location": location, "row": 1, "creditor": creditor,
                            "market": market, "content_hash": digest}
    seen: dict[str, str | None] = {}
    try:
        return _read_document(data, base, location=location, market=market, seen=seen)
    except Exception as exc:  # noqa: BLE001 - a hostile document stays one quarantined record
        # Only the exception type: its text may quote the document.
        number = seen.get("number")
        return _failed(base, location, f"could not be read: {type(exc).__name__}",
                       number if number and len(number) <= _MAX_NUMBER else None)


def _failed(base: dict[str, Any], location: str, why: str, number: str | None = None,
            rule: str = DOCUMENT) -> SourceInvoice:
    issue = Issue(rule=rule, severity=Severity.ERROR, field="document", message=f"{location}: {why}",
                  location=location, row=1)
    return SourceInvoice(**base, invoice_number=number, parse_issues=(issue,))


def _decimal(el: Element) -> Decimal:
    """The xsd:decimal value of a present element; ParseError for anything else (the reader's message)."""
    raw = el.text or ""
    if len(el):
        raise ParseError(f"{snippet(raw, 40)!r} has child elements: {_XSD_FORM}")
    s = raw.strip(_XML_SPACE)
    if not s:
        raise ParseError(f"the element is empty: {_XSD_FORM}")
    if not _XSD_DECIMAL.fullmatch(s):
        raise ParseError(f"{snippet(s, 40)!r} is {_XSD_FORM}")
    value = Decimal(s)
    if abs(value) >= AMOUNT_LIMIT:
        raise ParseError(f"{snippet(s, 40)!r} is out of range for an amount")
    return value


def _read_document(data: bytes, base: dict[str, Any], *, location: str, market: Market,
                   seen: dict[str, str | None]) -> SourceInvoice:
    try:
        root = DET.fromstring(data)
    except (DET.ParseError, DefusedXmlException, ValueError) as exc:
        return _failed(base, location, f"not a readable XML document ({snippet(exc, 100)})")
    if root.tag != ROOT:
        number = next((text(c.text) for c in root if _local(c.tag) == "ID" and c.text), None)
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else "(none)"
        return _failed(base, location, f"root element {snippet(_local(root.tag), 40)!r} in namespace "
                       f"{snippet(ns, 80)!r} is not a UBL 2.1 Invoice ({{{INVOICE_NS}}}Invoice); credit notes "
                       "and other documents are not claims",
                       number if number and len(number) <= _MAX_NUMBER else None, rule="peppol.namespace")
    seen["number"] = _t(root, f"{CBC}ID")

    issues: list[Issue] = []

    def read_amount(el: Element | None, path_: str, field: str) -> tuple[bool, Decimal | None]:
        """(readable, value); an absent amount is readable, with value None; a present one must be an
        xsd:decimal, else it is a parse issue (never 0, never a sign guessed from a trailing '-')."""
        found = el.find(path_) if el is not None else None
        if found is None:
            return True, None
        try:
            value = _decimal(found)
            if not field.endswith(_NOT_MONEY) and value != value.quantize(CENT, rounding=ROUND_DOWN):
                # BR-DEC: money in a Peppol invoice has at most two decimals; stored, 475.405 would
                # quietly become 475.41.
                raise ParseError(f"{snippet(found.text, 40)!r} has more than two decimals (Peppol BR-DEC rules)")
            return True, value
        except ParseError as exc:
            issues.append(Issue(rule="parse.amount", severity=Severity.ERROR, field=field,
                                message=f"{location}: {field} ({_shown_path(path_)}): {snippet(exc, 160)}",
                                value=snippet(found.text) if found.text else None, location=location, row=1))
            return False, None

    def amount(path_: str, field: str, el: Element | None = root) -> Decimal | None:
        return read_amount(el, path_, field)[1]

    def optional(path_: str, field: str) -> Decimal | None:
        """An amount the document may leave out, which then counts as 0; None only when unreadable."""
        ok, value = read_amount(root, path_, field)
        return (ZERO if value is None else value) if ok else None

    def day(path_: str, field: str) -> date | None:
        """An absent or empty element is a missing date (validation names it); anything else must be an
        xsd:date, else a parse issue naming the element and the value."""
        found = root.find(path_)
        if found is None:
            return None
        raw = (found.text or "").strip(_XML_SPACE)
        if not raw and not len(found):
            return None
        try:
            if len(found):
                raise ParseError(f"{snippet(raw, 40)!r} has child elements: {_DATE_FORM}")
            if not _XSD_DATE.fullmatch(raw):
                raise ParseError(f"{snippet(raw, 40)!r} is {_DATE_FORM}")
            # The calendar day as written: a time zone does not move the day the debtor owes from.
            return _PARSER.date(raw[:10])
        except ParseError as exc:
            issues.append(Issue(rule="parse.date", severity=Severity.ERROR, field=field,
                                message=f"{location}: {field} ({_shown_path(path_)}): {snippet(exc, 160)}",
                                value=snippet(raw), location=location, row=1))
            return None

    party = root.find(f"{CAC}AccountingCustomerParty/{CAC}Party")
    legal = party.find(f"{CAC}PartyLegalEntity") if party is not None else None
    company_el = legal.find(f"{CBC}CompanyID") if legal is not None else None
    company_id = text(company_el.text) if company_el is not None else None
    scheme = company_el.get("schemeID") if company_el is not None else None
    gln = None
    if party is not None:
        for el in [party.find(f"{CBC}EndpointID"), *party.findall(f"{CAC}PartyIdentification/{CBC}ID")]:
            if el is not None and el.get("schemeID") == GLN_SCHEME and text(el.text):
                gln = text(el.text)
                break
    addr_el = party.find(f"{CAC}PostalAddress") if party is not None else None
    country = _t(addr_el, f"{CAC}Country/{CBC}IdentificationCode")
    if scheme in ORGNR_SCHEMES and country is None:
        country = ORGNR_SCHEMES[scheme]
    kind: CustomerKind | None = None
    if country and country.upper() != market.value:
        kind = CustomerKind.FOREIGN
    elif company_id:
        kind = CustomerKind.COMPANY
    address = Address(
        line1=_t(addr_el, f"{CBC}StreetName"), line2=_t(addr_el, f"{CBC}AdditionalStreetName"),
        zip_code=_t(addr_el, f"{CBC}PostalZone"), city=_t(addr_el, f"{CBC}CityName"),
        country=country.upper() if country else None,
    )
    name = _t(legal, f"{CBC}RegistrationName") or _t(party, f"{CAC}PartyName/{CBC}Name")

    lines = []
    for idx, ln in enumerate(root.findall(f"{CAC}InvoiceLine")):
        def lamount(p: str, f: str, _ln: Element = ln, _idx: int = idx):
            return amount(p, f"lines[{_idx}].{f}", _ln)

        lines.append(InvoiceLine(
            description=_t(ln, f"{CAC}Item/{CBC}Name"),
            article_number=_t(ln, f"{CAC}Item/{CAC}SellersItemIdentification/{CBC}ID"),
            units=lamount(f"{CBC}InvoicedQuantity", "units"),
            unit_price=lamount(f"{CAC}Price/{CBC}PriceAmount", "unit_price"),
            total_excl_vat=lamount(f"{CBC}LineExtensionAmount", "total_excl_vat"),
            vat_percent=lamount(f"{CAC}Item/{CAC}ClassifiedTaxCategory/{CBC}Percent", "vat_percent"),
        ))

    currency = _t(root, f"{CBC}DocumentCurrencyCode")
    tax_currency = _t(root, f"{CBC}TaxCurrencyCode")
    # The VAT of the claim is never the TaxTotal in the seller's accounting currency, wherever it stands.
    vat_candidates = vat_totals(root, currency, tax_currency)
    vat_total = vat_candidates[0] if vat_candidates else None
    vat = amount(f"{CBC}TaxAmount", "vat_amount", vat_total)
    vat_el = vat_total.find(f"{CBC}TaxAmount") if vat_total is not None else None
    # BR-CO-15 only with one unambiguous TaxTotal in the document currency (else another issue says why).
    vat_for_totals = (vat if len(vat_candidates) == 1 and vat_el is not None
                      and text(vat_el.get("currencyID")) == currency else None)

    total = amount(f"{LMT}/{CBC}TaxInclusiveAmount", "total_amount")
    payable = amount(f"{LMT}/{CBC}PayableAmount", "open_balance")
    totals = Totals(
        lines=[ln.total_excl_vat for ln in lines],
        line_extension=amount(f"{LMT}/{CBC}LineExtensionAmount", "cbc:LineExtensionAmount"),
        allowance=optional(f"{LMT}/{CBC}AllowanceTotalAmount", "cbc:AllowanceTotalAmount"),
        charge=optional(f"{LMT}/{CBC}ChargeTotalAmount", "cbc:ChargeTotalAmount"),
        tax_exclusive=amount(f"{LMT}/{CBC}TaxExclusiveAmount", "cbc:TaxExclusiveAmount"),
        tax=vat_for_totals,
        tax_inclusive=total,
        prepaid=optional(f"{LMT}/{CBC}PrepaidAmount", "cbc:PrepaidAmount"),
        rounding=optional(f"{LMT}/{CBC}PayableRoundingAmount", "cbc:PayableRoundingAmount"),
        payable=payable,
    )
    report = Report(location)
    type_issues(root, report, payable)  # first: a credit note is named even when the issue cap is reached
    currency_issues(root, doc=currency, tax=tax_currency, report=report)
    duplicate_issues(root, doc=currency, tax=tax_currency, report=report)
    totals_issues(totals, report)
    issues.extend(report.done())

    return SourceInvoice(
        **base,
        invoice_number=seen["number"],
        invoice_date=day(f"{CBC}IssueDate", "invoice_date"),
        due_date=day(f"{CBC}DueDate", "due_date") or day(f"{CAC}PaymentMeans/{CBC}PaymentDueDate", "due_date"),
        currency=currency,
        total_amount=total,
        open_balance=payable,
        vat_amount=vat,
        payment_reference=_t(root, f"{CAC}PaymentMeans/{CBC}PaymentID"),
        your_reference=_t(root, f"{CBC}BuyerReference"),
        order_reference=_t(root, f"{CAC}OrderReference/{CBC}ID"),
        contract_reference=_t(root, f"{CAC}ContractDocumentReference/{CBC}ID"),
        customer_kind=kind,
        customer_name=name,
        customer_id_number=company_id,
        customer_email=_t(party, f"{CAC}Contact/{CBC}ElectronicMail"),
        customer_phone=_t(party, f"{CAC}Contact/{CBC}Telephone"),
        customer_gln=gln,
        customer_address=address,
        lines=tuple(lines),
        parse_issues=tuple(issues),
    )
