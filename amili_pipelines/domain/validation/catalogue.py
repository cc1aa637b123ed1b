"""Every validation rule: stable id, severity and what it checks (the README table is built from this)."""

from __future__ import annotations

from dataclasses import dataclass

from amili_pipelines.domain.issues import Severity

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    checks: str


RULES: dict[str, Rule] = {r.id: r for r in (
    # what the source could not read (raised by the sources, carried on the invoice)
    Rule("parse.amount", E, "an amount cell could not be read as a number"),
    Rule("parse.date", E, "a date cell could not be read as a date"),
    Rule("parse.customer_kind", E, "the customer type is not one of person / company / foreign (in any known wording)"),
    Rule("parse.encoding", E, "text contains undecodable bytes (wrong encoding configured)"),
    Rule("parse.record", E, "a record could not be read at all (bad JSON line, truncated CSV row)"),
    Rule("peppol.namespace", E, "the XML document is not a UBL 2.1 Invoice (wrong root element or namespace)"),
    Rule("peppol.document", E, "the XML document cannot be parsed (truncated, not XML)"),
    Rule("peppol.currency.mismatch", E, "every amount's currencyID is the document's DocumentCurrencyCode"),
    Rule("peppol.totals.consistent", E, "line amounts, tax total and payable amount of a Peppol document add up"),
    Rule("peppol.invoice_type", E, "the Invoice's cbc:InvoiceTypeCode is present and a plain invoice we claim (380, 82, "
                                   "331, 575, 623, 780), not a credit note, corrected invoice (384) or other type"),
    Rule("peppol.element.duplicate", E, "an element the invoice has once (ID, dates, customer, payment reference) "
                                        "appears once"),
    # the invoice
    Rule("invoice.number.required", E, "an invoice number is present"),
    Rule("invoice.number.unique", E, "the invoice number occurs once per creditor and source in a partition"),
    Rule("invoice.conflict_across_sources", E, "the same invoice number arrives from two sources with different content"),
    Rule("invoice.duplicate_across_sources", W, "the same invoice arrives (identical) from two sources; registered once"),
    Rule("invoice.invoice_date.required", E, "an invoice date is present"),
    Rule("invoice.due_date.required", E, "a due date is present"),
    Rule("invoice.due_date.before_invoice_date", E, "the due date is not before the invoice date"),
    Rule("invoice.currency.market", E, "the currency is the market's (SEK for SE, NOK for NO)"),
    Rule("invoice.lines.disagree", E, "every invoice-level field (currency, customer, identity number, dates, "
         "references, amounts) is the same on all lines of a multi-line invoice"),
    Rule("invoice.lines.required", W, "the invoice has at least one line"),
    Rule("invoice.total.consistent_with_lines", W, "the invoice total equals the lines plus VAT (within 1.00)"),
    # amounts
    Rule("amount.open_balance.positive", E, "the open balance is present and greater than zero"),
    Rule("amount.total.positive", E, "the invoice total, when given, is greater than zero"),
    Rule("amount.open_balance.ceiling", E, "the open balance is not above the creditor's ceiling for one claim "
         "(max_claim, default 10 000 000)"),
    Rule("amount.open_balance.outlier", W, "the open balance is not far above what the creditor usually claims"),
    Rule("amount.open_balance.exceeds_total", W, "the open balance is not larger than the invoice total"),
    Rule("line.total.consistent", E, "each line total equals unit price x units (within 0.01)"),
    Rule("line.vat_rate.market", E, "each line's VAT rate is one of the market's (SE 25/12/6/0, NO 25/15/12/0)"),
    Rule("line.units.positive", W, "each line's units are greater than zero"),
    # the customer
    Rule("text.invisible_only", E, "a name, address line or reference that is present is not made only of "
         "invisible characters (zero-width spaces, direction marks, control characters)"),
    Rule("text.control_characters", E, "names, addresses and references contain no control or format characters "
         "(e.g. a right-to-left override, a zero-width space)"),
    Rule("customer.kind.required", E, "exactly one of person / company / foreign is given"),
    Rule("customer.name.required", E, "the customer's name is present"),
    Rule("customer.id_number.required", E, "domestic persons carry an identity number, companies an organisation number"),
    Rule("customer.kind.id_mismatch", E, "a person's identity number is not an organisation number"),
    Rule("se.personnummer.format", E, "Swedish personnummer/samordningsnummer: 10 or 12 digits, a real date"),
    Rule("se.personnummer.checksum", E, "Swedish personnummer/samordningsnummer Luhn check digit"),
    Rule("se.orgnr.format", E, "Swedish organisationsnummer (10 digits, 16-prefixed 12 digits, or a sole trader's personnummer)"),
    Rule("se.orgnr.checksum", E, "Swedish organisationsnummer Luhn check digit"),
    Rule("no.fodselsnummer.format", E, "Norwegian fødselsnummer / D-nummer: 11 digits, a real date"),
    Rule("no.fodselsnummer.checksum", E, "Norwegian fødselsnummer / D-nummer MOD11 check digits"),
    Rule("no.orgnr.format", E, "Norwegian organisasjonsnummer: 9 digits"),
    Rule("no.orgnr.checksum", E, "Norwegian organisasjonsnummer MOD11 check digit"),
    Rule("customer.gln.checksum", W, "the customer's GLN is 13 digits with a valid GS1 check digit"),
    Rule("customer.country.iso3166", E, "the country is an ISO 3166-1 alpha-2 code"),
    Rule("customer.foreign.country", E, "a foreign customer has a country other than the creditor's market"),
    Rule("customer.address.incomplete", W, "street, postcode and city are present"),
    Rule("customer.phone.e164", W, "the phone number is a valid number (E.164 or national in the market)"),
    Rule("customer.email.format", W, "the e-mail address looks like local@domain.tld"),
    # payment references
    Rule("se.ocr.checksum", E, "Swedish OCR reference: digits, Luhn check digit"),
    Rule("se.ocr.length_digit", E, "Swedish OCR reference: length digit (when the creditor's OCR scheme uses one)"),
    Rule("no.kid.checksum", E, "Norwegian KID: MOD10 or MOD11 control digit ('-' allowed for MOD11)"),
    Rule("no.kid.format", E, "Norwegian KID: 2-25 digits"),
)}


def severity_of(rule_id: str) -> Severity:
    rule = RULES.get(rule_id)
    return rule.severity if rule else Severity.ERROR
