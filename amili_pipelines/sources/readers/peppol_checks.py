"""Peppol BIS Billing 3.0 rules on a parsed UBL Invoice that the canonical invoice cannot express.

The canonical invoice keeps one currency and three amounts; the document states many more. An
amount in another currency, or totals that do not add up, mean the open balance read from it is
not what the seller's own figures say, so the invoice must be quarantined, not claimed. So must a
document whose type (cbc:InvoiceTypeCode) is not a plain invoice (a credit, a corrected invoice, a
debit note: what the debtor owes on it is not this document's payable alone), and one that gives
an element the schema allows once twice: which of the two the debtor was asked to pay is a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from xml.etree.ElementTree import Element

from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.domain.masking import mask_id_number
from amili_pipelines.sources.parsing import text
from amili_pipelines.sources.readers import snippet

CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CURRENCY = "peppol.currency.mismatch"
TOTALS = "peppol.totals.consistent"
DOCUMENT = "peppol.document"
TYPE = "peppol.invoice_type"
DUPLICATE = "peppol.element.duplicate"
TOLERANCE = Decimal("0.01")
ZERO = Decimal(0)
# A hostile document can hold a million mismatched amounts: the first few say enough, and the
# invoice is quarantined by any one of them.
MAX_REPORTED = 20
# cbc:InvoiceTypeCode (BT-3, UNCL1001). Claimed: the invoice types that claim payment for what was
# supplied and stand on their own. The other invoice types of Peppol BIS Billing 3.0
# (PEPPOL-EN16931-P0100, and 389 of the self-billing profile) may not be a claim on the debtor, or
# not only this one: each is quarantined with what it is, for a person to decide.
CLAIMED_TYPES = frozenset("380 82 331 575 623 780".split())
CORRECTED = "384"  # replaces an earlier invoice: claiming both would chase one debt twice
_DEBIT = "it adds to an earlier invoice (often interest or fees, not capital), so what it claims is not clear"
_SETTLED = "it is settled against other invoices for the same work, so what is still owed is not clear"
_UNCLEAR = "whether it is a claim on the debtor, and for what, is not clear"
NOT_CLAIMED_TYPES = {
    "71": ("request for payment", "it asks again for invoices already sent, so claiming it and them would chase "
           "the debtor twice"),
    "80": ("debit note related to goods or services", _DEBIT),
    "84": ("debit note related to financial adjustments", _DEBIT),
    "383": ("debit note", _DEBIT),
    "386": ("prepayment invoice", "the final invoice deducts it, so claiming both would chase the debtor twice"),
    "389": ("self-billed invoice", "the buyer issued it under a self-billing agreement whose settlement terms are "
            "not known here"),
    "393": ("factored invoice", "the claim was assigned to a factoring company and is not the creditor's to hand over"),
    "395": ("consignment invoice", "consigned goods are owed for only once sold"),
    "326": ("partial invoice", _SETTLED), "875": ("partial construction invoice", _SETTLED),
    "876": ("partial final construction invoice", _SETTLED), "877": ("final construction invoice", _SETTLED),
    "218": ("final payment request based on completion of work", _SETTLED),
    "219": ("payment request for completed units", _SETTLED),
    "102": ("tax notification", _UNCLEAR), "382": ("commission note", _UNCLEAR), "388": ("tax invoice", _UNCLEAR),
    "553": ("forwarder's invoice discrepancy report", _UNCLEAR), "817": ("claim notification", _UNCLEAR),
    "870": ("consular invoice", _UNCLEAR),
}
# UNCL1001 credit notes: BIS 3.0 CreditNoteTypeCode (P0101: 81 83 381 396 532) and the other EN 16931
# credit-note codes. In an Invoice document they are a credit in invoice form, never a claim.
CREDIT_TYPES = frozenset("81 83 261 262 296 308 381 396 420 458 532".split())


def name(tag: str) -> str:
    """The prefixed name the Peppol documentation uses ("cbc:PayableAmount")."""
    if tag.startswith(CBC):
        return "cbc:" + tag[len(CBC):]
    if tag.startswith(CAC):
        return "cac:" + tag[len(CAC):]
    return snippet(tag.rsplit("}", 1)[-1], 40)


def issue(rule: str, field: str, location: str, why: str, value: str | None = None) -> Issue:
    return Issue(rule=rule, severity=Severity.ERROR, field=field, message=f"{location}: {why}",
                 value=value, location=location, row=1)


class Report:
    """Issues of one document, capped at MAX_REPORTED with a closing count of the rest."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.issues: list[Issue] = []
        self.more: dict[str, int] = {}

    def add(self, rule: str, field: str, why: str, value: str | None = None) -> None:
        if len(self.issues) < MAX_REPORTED:
            self.issues.append(issue(rule, field, self.location, why, value))
        else:
            self.more[rule] = self.more.get(rule, 0) + 1

    def done(self) -> list[Issue]:
        for rule, n in self.more.items():
            self.issues.append(issue(rule, "document", self.location,
                                     f"{n} more {rule} problems in this document (not listed one by one)"))
        return self.issues


def is_tax_currency_total(tax_total: Element, doc: str | None, tax: str | None) -> bool:
    """The optional second TaxTotal restates the VAT in the seller's accounting currency (BT-111):
    it is for the seller's books, its currency is not the claim's and its amount is not its VAT."""
    if tax is None or tax == doc:
        return False
    amount = tax_total.find(f"{CBC}TaxAmount")
    return amount is not None and text(amount.get("currencyID")) == tax


def vat_totals(root: Element, doc: str | None, tax: str | None) -> list[Element]:
    """The TaxTotals that state the VAT of this invoice (Peppol allows exactly one)."""
    return [tt for tt in root.findall(f"{CAC}TaxTotal") if not is_tax_currency_total(tt, doc, tax)]


def currency_issues(root: Element, *, doc: str | None, tax: str | None, report: Report) -> None:
    if doc is None:
        report.add(CURRENCY, "currency", "cbc:DocumentCurrencyCode is missing: the currency of the amounts "
                   "cannot be checked")
    line = 0
    for top in root:
        prefix = ""
        if top.tag == f"{CAC}InvoiceLine":
            prefix = f"lines[{line}]."
            line += 1
        in_tax_currency = top.tag == f"{CAC}TaxTotal" and is_tax_currency_total(top, doc, tax)
        expected = tax if in_tax_currency else doc
        # iter() walks without recursion, so a deeply nested document cannot exhaust the stack.
        for el in top.iter():
            tag = el.tag
            # UBL names every AmountType element "...Amount", and each must carry its currency.
            if not (isinstance(tag, str) and tag.startswith(CBC) and tag.endswith("Amount")):
                continue
            field = prefix + name(tag)
            cid = text(el.get("currencyID"))
            if cid is None:
                report.add(CURRENCY, field, f"{field} has no currencyID; Peppol requires one on every amount"
                           + (f" (document currency {snippet(doc, 10)!r})" if doc else ""))
            elif expected is not None and cid != expected:
                what = ("this cac:TaxTotal is the one in the tax currency (cbc:TaxCurrencyCode)" if in_tax_currency
                        else "the document currency (cbc:DocumentCurrencyCode) is")
                report.add(CURRENCY, field, f"{field} is in currencyID {snippet(cid, 10)!r} but {what} "
                           f"{snippet(expected, 10)!r}", snippet(cid, 10))


def type_issues(root: Element, report: Report, payable: Decimal | None = None) -> None:
    """BT-3 says what the document is; only a plain invoice (CLAIMED_TYPES) is a claim on the debtor."""
    codes = [text(el.text) for el in root.findall(f"{CBC}InvoiceTypeCode")]
    field = "cbc:InvoiceTypeCode"
    # A payable of 0 or less means "paid" only on an invoice; on a credit it is what the seller owes.
    # On the open balance, the issue leaves the paid / not-due decision undecided (extract's
    # unpaid_status), so the document is quarantined where a person sees it instead of counted as paid.
    not_paid = payable is not None and payable <= ZERO

    def add(why: str, value: str | None = None) -> None:
        if not_paid:
            why += (f"; its cbc:PayableAmount {snippet(payable, 20)!r} is no payment received: it is not counted as "
                    "paid, a person must handle it")
        report.add(TYPE, "open_balance" if not_paid else field, f"{field} {why}", value)

    if not codes:
        add("is missing: Peppol BIS Billing 3.0 requires it (BT-3), and without it a credit note cannot be told "
            "from an invoice")
    for code in dict.fromkeys(codes):  # each distinct code once (two codes are also a duplicate issue)
        if code is None:
            add("is empty: Peppol BIS Billing 3.0 requires a code (BT-3), and without it a credit note cannot be "
                "told from an invoice")
        elif code in CREDIT_TYPES:
            add(f"{code!r} is a credit note (UNCL1001) in an Invoice document: a credit note is not a claim on the "
                "debtor", code)
        elif code == CORRECTED:
            refs = [repr(snippet(text(el.text), 40)) for el in root.findall(
                f"{CAC}BillingReference/{CAC}InvoiceDocumentReference/{CBC}ID") if text(el.text)][:3]
            named = f" ({', '.join(refs)}, cac:BillingReference)" if refs else ""
            add(f"{code!r} is a corrected invoice: it replaces an earlier invoice{named}, and claiming it as well as "
                "the one it replaces would chase the debtor twice; it is not claimed, a person must handle it", code)
        elif code in NOT_CLAIMED_TYPES:
            kind, why = NOT_CLAIMED_TYPES[code]
            add(f"{code!r} is a {kind} (UNCL1001): {why}; it is not claimed, a person must decide", code)
        elif code not in CLAIMED_TYPES:
            shown = snippet(code, 20)
            add(f"{shown!r} is not an invoice type of Peppol BIS Billing 3.0 (PEPPOL-EN16931-P0100, UNCL1001): "
                "what this document asks the debtor to pay is not clear", shown)


# What two copies of an aggregate are told apart by in a message: (label, path, may be an identity number).
_PARTY = f"{CAC}Party"
_SUMMARY = {
    f"{CAC}AccountingCustomerParty": (("", f"{_PARTY}/{CAC}PartyLegalEntity/{CBC}RegistrationName", False),
                                      ("", f"{_PARTY}/{CAC}PartyName/{CBC}Name", False),
                                      ("id ", f"{_PARTY}/{CAC}PartyLegalEntity/{CBC}CompanyID", True),
                                      ("endpoint ", f"{_PARTY}/{CBC}EndpointID", True)),
    f"{CAC}LegalMonetaryTotal": (("", f"{CBC}PayableAmount", False),),
}


def _value(value: str, identity: bool) -> str:
    # A buyer's identifier may be a personnummer with a typo that masking by content would miss.
    if identity:
        return mask_id_number(snippet(value, 30)) or ""
    return repr(snippet(value, 40))


def _shown(el: Element, identity: bool = False) -> str:
    """One occurrence of an element, short and masked: its value, or for an aggregate what tells it apart."""
    if len(el) == 0:
        value = text(el.text)
        return _value(value, identity) if value is not None else "(empty)"
    parts: list[str] = []
    for label, path, ident in _SUMMARY.get(el.tag, ()):
        found = el.find(path)
        value = text(found.text) if found is not None else None
        if value is not None and (label or not parts):  # one name: the legal one, else the trading one
            parts.append(label + _value(value, ident))
    if not parts:  # another aggregate: its first few values
        leaves = (text(e.text) for e in el.iter() if len(e) == 0)
        parts = [_value(v, identity) for v in islice((v for v in leaves if v is not None), 3)]
    return " ".join(parts) if parts else "(no value)"


def duplicate_issues(root: Element, *, doc: str | None, tax: str | None, report: Report) -> None:
    """The schema (or a UBL-SR rule) allows one of each of these. The reader takes the first, another
    viewer may show the last: which one the debtor was asked to pay is a guess this code does not make.
    Each issue names the element and the values of its copies (an identifier masked as an identity number)."""

    def once(parent: Element | None, tag: str, field: str, rule: str = DUPLICATE, identity: bool = False) -> None:
        if parent is None:
            return
        found = parent.findall(tag)
        if len(found) > 1:
            values = [_shown(el, identity) for el in found[:3]] + (["…"] if len(found) > 3 else [])
            report.add(rule, field, f"{field} appears {len(found)} times: {', '.join(values)}; Peppol allows one "
                       "and which is meant is not clear", snippet(" | ".join(values), 120))

    for tag in ("ID", "IssueDate", "DueDate", "InvoiceTypeCode", "BuyerReference"):
        once(root, f"{CBC}{tag}", f"cbc:{tag}")
    once(root, f"{CAC}OrderReference", "cac:OrderReference")
    once(root, f"{CAC}ContractDocumentReference/{CBC}ID", "cac:ContractDocumentReference/cbc:ID")  # UBL-SR-01
    customer = root.find(f"{CAC}AccountingCustomerParty")
    once(root, f"{CAC}AccountingCustomerParty", "cac:AccountingCustomerParty")
    once(customer, _PARTY, "cac:AccountingCustomerParty/cac:Party")
    party = customer.find(_PARTY) if customer is not None else None
    for path, identity in ((f"{CBC}EndpointID", True), (f"{CAC}PostalAddress", False), (f"{CAC}Contact", False),
                           (f"{CAC}PartyName/{CBC}Name", False),  # UBL-SR-40
                           (f"{CAC}PartyLegalEntity/{CBC}RegistrationName", False),  # UBL-SR-15
                           (f"{CAC}PartyLegalEntity/{CBC}CompanyID", True)):  # UBL-SR-17
        once(party, path, "cac:AccountingCustomerParty/cac:Party/" + "/".join(name(t) for t in path.split("/")),
             identity=identity)
    # UBL-SR-44: several cac:PaymentMeans (bankgiro and plusgiro) may repeat one PaymentID, never differ.
    refs = [el for el in root.findall(f"{CAC}PaymentMeans/{CBC}PaymentID") if text(el.text) is not None]
    distinct = list(dict.fromkeys(text(el.text) for el in refs))
    if len(distinct) > 1:
        values = [repr(snippet(v, 40)) for v in distinct[:3]] + (["…"] if len(distinct) > 3 else [])
        report.add(DUPLICATE, "cac:PaymentMeans/cbc:PaymentID", f"cac:PaymentMeans/cbc:PaymentID appears {len(refs)} "
                   f"times with different values: {', '.join(values)}; Peppol allows one payment reference "
                   "(UBL-SR-44) and which is meant is not clear", snippet(" | ".join(values), 120))
    once(root, f"{CAC}PaymentMeans/{CBC}PaymentDueDate", "cac:PaymentMeans/cbc:PaymentDueDate")  # UBL-SR-45

    once(root, f"{CBC}DocumentCurrencyCode", "cbc:DocumentCurrencyCode", CURRENCY)
    once(root, f"{CBC}TaxCurrencyCode", "cbc:TaxCurrencyCode", CURRENCY)
    once(root, f"{CAC}LegalMonetaryTotal", "cac:LegalMonetaryTotal", TOTALS)
    monetary = root.find(f"{CAC}LegalMonetaryTotal")
    if monetary is not None:
        tags = dict.fromkeys(c.tag for c in monetary if isinstance(c.tag, str) and c.tag.startswith(CBC))
        for tag in tags:
            once(monetary, tag, name(tag), TOTALS)
    totals = vat_totals(root, doc, tax)
    if len(totals) > 1:
        report.add(TOTALS, "vat_amount", f"{len(totals)} cac:TaxTotal elements state the VAT in the document "
                   "currency; Peppol allows one and which is meant is not clear")
    for tt in root.findall(f"{CAC}TaxTotal"):
        once(tt, f"{CBC}TaxAmount", "cbc:TaxAmount", TOTALS)
    for i, ln in enumerate(root.findall(f"{CAC}InvoiceLine")):
        once(ln, f"{CBC}LineExtensionAmount", f"lines[{i}].cbc:LineExtensionAmount", TOTALS)


@dataclass(frozen=True, slots=True)
class Totals:
    """Document amounts for the BR-CO equations. None: absent or unreadable (the equation is
    skipped; an unreadable one is a parse.amount error already). Allowance, charge, prepaid and
    rounding are optional in the document and arrive here as 0 when absent."""

    lines: Sequence[Decimal | None]
    line_extension: Decimal | None
    allowance: Decimal | None
    charge: Decimal | None
    tax_exclusive: Decimal | None
    tax: Decimal | None  # the one document-currency TaxTotal/TaxAmount
    tax_inclusive: Decimal | None
    prepaid: Decimal | None
    rounding: Decimal | None
    payable: Decimal | None


def totals_issues(t: Totals, report: Report) -> None:
    def compare(code: str, field: str, equation: str, left: Decimal | None, right: list[Decimal | None],
                signs: str) -> None:
        if left is None or any(v is None for v in right):
            return
        total = ZERO
        for sign, v in zip(signs, right, strict=True):
            total = total + v if sign == "+" else total - v  # type: ignore[operator]
        diff = left - total
        if abs(diff) > TOLERANCE:
            report.add(TOTALS, field, f"{code}: {equation} does not hold: {snippet(left, 20)} on the left, "
                       f"{snippet(total, 20)} on the right, difference {snippet(diff, 20)}", snippet(diff, 20))

    if t.lines:
        compare("BR-CO-10", "cbc:LineExtensionAmount",
                "cac:LegalMonetaryTotal/cbc:LineExtensionAmount = sum of lines[].cbc:LineExtensionAmount",
                t.line_extension, list(t.lines), "+" * len(t.lines))
    compare("BR-CO-13", "cbc:TaxExclusiveAmount",
            "cbc:TaxExclusiveAmount = cbc:LineExtensionAmount - cbc:AllowanceTotalAmount + cbc:ChargeTotalAmount",
            t.tax_exclusive, [t.line_extension, t.allowance, t.charge], "+-+")
    compare("BR-CO-15", "cbc:TaxInclusiveAmount",
            "cbc:TaxInclusiveAmount = cbc:TaxExclusiveAmount + cac:TaxTotal/cbc:TaxAmount",
            t.tax_inclusive, [t.tax_exclusive, t.tax], "++")
    compare("BR-CO-16", "cbc:PayableAmount",
            "cbc:PayableAmount = cbc:TaxInclusiveAmount - cbc:PrepaidAmount + cbc:PayableRoundingAmount",
            t.payable, [t.tax_inclusive, t.prepaid, t.rounding], "+-+")
