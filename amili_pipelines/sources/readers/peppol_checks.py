"""Peppol BIS Billing 3.0 rules on a parsed UBL Invoice that the canonical invoice cannot express.

The canonical invoice keeps one currency and three amounts; the document states many more. An
amount in another currency, or totals that do not add up, mean the open balance read from it is
not what the seller's own figures say, so the invoice must be quarantined, not claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.etree.ElementTree import Element

from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.sources.parsing import text
from amili_pipelines.sources.readers import snippet

CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CURRENCY = "peppol.currency.mismatch"
TOTALS = "peppol.totals.consistent"
DOCUMENT = "peppol.document"
TOLERANCE = Decimal("0.01")
ZERO = Decimal(0)
# A hostile document can hold a million mismatched amounts: the first few say enough, and the
# invoice is quarantined by any one of them.
MAX_REPORTED = 20


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


def duplicate_issues(root: Element, *, doc: str | None, tax: str | None, report: Report) -> None:
    """The schema allows one of each of these. The reader takes the first, another viewer may show
    the last: which one the debtor was asked to pay is a guess this code does not make."""

    def once(parent: Element, tag: str, field: str, rule: str) -> None:
        n = len(parent.findall(tag))
        if n > 1:
            report.add(rule, field, f"{field} appears {n} times; Peppol allows one and which is meant is not clear")

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
