"""Peppol BIS Billing 3.0 (UBL 2.1 Invoice) documents -> one SourceInvoice per file.

Parsed with defusedxml (documents come from outside). A document that is not a UBL Invoice (a
CreditNote, another namespace) or not XML at all still becomes an invoice record with a clear
issue, so it shows in quarantine instead of vanishing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
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
from amili_pipelines.sources.parsing import ParseError, ValueParser

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
ROOT = f"{{{INVOICE_NS}}}Invoice"
GLN_SCHEME = "0088"
ORGNR_SCHEMES = {"0007": "SE", "0192": "NO"}
_PARSER = ValueParser(decimal=".")


def _t(el: Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_peppol_file(path: Path, *, location: str, source: str, creditor: str, market: Market) -> SourceInvoice:
    data = path.read_bytes()
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    base = {"source": source, "location": location, "row": 1, "creditor": creditor, "market": market,
            "content_hash": digest}

    def fail(rule: str, why: str, number: str | None = None) -> SourceInvoice:
        issue = Issue(rule=rule, severity=Severity.ERROR, field="document", message=f"{location}: {why}",
                      location=location, row=1)
        return SourceInvoice(**base, invoice_number=number, parse_issues=(issue,))

    try:
        root = DET.fromstring(data)
    except (DET.ParseError, DefusedXmlException, ValueError) as exc:
        return fail("peppol.document", f"not a readable XML document ({exc})")
    if root.tag != ROOT:
        number = next((c.text.strip() for c in root if _local(c.tag) == "ID" and c.text), None)
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else "(none)"
        return fail("peppol.namespace", f"root element {_local(root.tag)!r} in namespace {ns!r} is not a "
                    f"UBL 2.1 Invoice ({{{INVOICE_NS}}}Invoice); credit notes and other documents are not claims",
                    number)

    issues: list[Issue] = []

    def amount(path_: str, field: str, el: Element | None = root):
        raw = _t(el, path_)
        try:
            return _PARSER.amount(raw)
        except ParseError as exc:
            issues.append(Issue(rule="parse.amount", severity=Severity.ERROR, field=field,
                                message=f"{location}: {field} ({path_.replace(CAC, 'cac:').replace(CBC, 'cbc:')}): {exc}",
                                value=raw, location=location, row=1))
            return None

    def day(path_: str, field: str):
        raw = _t(root, path_)
        try:
            return _PARSER.date(raw)
        except ParseError as exc:
            issues.append(Issue(rule="parse.date", severity=Severity.ERROR, field=field,
                                message=f"{location}: {field}: {exc}", value=raw, location=location, row=1))
            return None

    party = root.find(f"{CAC}AccountingCustomerParty/{CAC}Party")
    legal = party.find(f"{CAC}PartyLegalEntity") if party is not None else None
    company_el = legal.find(f"{CBC}CompanyID") if legal is not None else None
    company_id = company_el.text.strip() if company_el is not None and company_el.text else None
    scheme = company_el.get("schemeID") if company_el is not None else None
    gln = None
    if party is not None:
        for el in [party.find(f"{CBC}EndpointID"), *party.findall(f"{CAC}PartyIdentification/{CBC}ID")]:
            if el is not None and el.get("schemeID") == GLN_SCHEME and el.text:
                gln = el.text.strip()
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

    total = amount(f"{CAC}LegalMonetaryTotal/{CBC}TaxInclusiveAmount", "total_amount")
    payable = amount(f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount", "open_balance")
    return SourceInvoice(
        **base,
        invoice_number=_t(root, f"{CBC}ID"),
        invoice_date=day(f"{CBC}IssueDate", "invoice_date"),
        due_date=day(f"{CBC}DueDate", "due_date") or day(f"{CAC}PaymentMeans/{CBC}PaymentDueDate", "due_date"),
        currency=_t(root, f"{CBC}DocumentCurrencyCode"),
        total_amount=total,
        open_balance=payable,
        vat_amount=amount(f"{CAC}TaxTotal/{CBC}TaxAmount", "vat_amount"),
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
