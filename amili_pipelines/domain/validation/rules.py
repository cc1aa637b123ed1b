"""Rules on one invoice. Plain functions over the model: this runs 100k+ times per partition.

Every issue names location, row, field and value; identity numbers are masked in both the
message and the stored value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from decimal import Context, Decimal
from operator import attrgetter

from amili_pipelines.domain.invoice import CustomerKind, Market, SourceInvoice
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.masking import mask_id_number
from amili_pipelines.domain.validation.catalogue import RULES
from amili_pipelines.domain.validation.identifiers import (
    ISO_3166_ALPHA2,
    check_gln,
    check_no_fodselsnummer,
    check_no_kid,
    check_no_orgnr,
    check_se_ocr,
    check_se_orgnr,
    check_se_personnummer,
)
from amili_pipelines.domain.validation.phones import phone_ok, plain_e164, valid_number

CURRENCY = {Market.SE: "SEK", Market.NO: "NOK"}
VAT_RATES = {
    Market.SE: frozenset({Decimal(25), Decimal(12), Decimal(6), Decimal(0)}),
    Market.NO: frozenset({Decimal(25), Decimal(15), Decimal(12), Decimal(0)}),
}
DEFAULT_REFERENCE_SCHEME = {Market.SE: "ocr", Market.NO: "kid"}
_CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    """``value`` to öre/øre for a message. Quantized in a context as wide as the value: a parsed unit
    price times units may need more than the default 28 digits, and raising here lost the chunk."""
    if not value.is_finite():
        return value
    return value.quantize(_CENT, context=Context(prec=max(28, value.adjusted() + 3)))
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
NO_FIELDS: frozenset[str] = frozenset()  # the parsed fields of an invoice without parse issues
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_REASON_TEXT = {
    "checksum": "check digit is wrong",
    "length": "wrong number of digits",
    "format": "not in a recognised format",
    "date": "does not contain a valid date",
    "length_digit": "length digit does not match the reference's length",
}


def issue(rule: str, inv: SourceInvoice, field: str, value: object, text: str, *, sensitive: bool = False) -> Issue:
    shown = None if value is None else str(value)
    if sensitive:
        shown = mask_id_number(shown)
    val = f" {shown!r}" if shown is not None else ""
    return Issue(
        rule=rule, severity=RULES[rule].severity, field=field,
        message=f"{inv.location} row {inv.row}: {field}{val}: {text}",
        value=shown, location=inv.location, row=inv.row,
    )


# The phone checks live in phones.py; these names are what tests/domain/test_fast_paths.py checks.
_plain_e164 = plain_e164
_valid_number = valid_number
_phone_ok = phone_ok


# The identity number check of a domestic customer, by market and kind: when it passes, _id_rules
# reports nothing (the bulk path screens with the same table).
ID_CHECKS: dict[tuple[Market, CustomerKind], Callable[[str], str | None]] = {
    (Market.SE, CustomerKind.PERSON): check_se_personnummer,
    (Market.SE, CustomerKind.COMPANY): check_se_orgnr,
    (Market.NO, CustomerKind.PERSON): check_no_fodselsnummer,
    (Market.NO, CustomerKind.COMPANY): check_no_orgnr,
}


def _id_rules(inv: SourceInvoice, out: list[Issue]) -> None:
    kind, market, idn = inv.customer_kind, inv.market, inv.customer_id_number
    if kind is CustomerKind.FOREIGN or kind is None:
        return
    if not idn:
        what = "identity number" if kind is CustomerKind.PERSON else "organisation number"
        out.append(issue("customer.id_number.required", inv, "customer_id_number", None,
                         f"a {kind.value} customer needs an {what}"))
        return
    reason = ID_CHECKS[(market, kind)](idn)
    if reason is None:
        return
    if market is Market.SE:
        if kind is CustomerKind.PERSON:
            if reason != "checksum" and check_se_orgnr(idn) is None:
                out.append(issue("customer.kind.id_mismatch", inv, "customer_id_number", idn,
                                 "customer type is person but the number is an organisation number", sensitive=True))
                return
            rule = "se.personnummer.checksum" if reason == "checksum" else "se.personnummer.format"
            out.append(issue(rule, inv, "customer_id_number", idn,
                             f"not a valid Swedish personnummer/samordningsnummer: {_REASON_TEXT[reason]}",
                             sensitive=True))
        else:
            rule = "se.orgnr.checksum" if reason == "checksum" else "se.orgnr.format"
            out.append(issue(rule, inv, "customer_id_number", idn,
                             f"not a valid Swedish organisationsnummer: {_REASON_TEXT[reason]}", sensitive=True))
    else:
        if kind is CustomerKind.PERSON:
            if check_no_orgnr(idn) is None:
                out.append(issue("customer.kind.id_mismatch", inv, "customer_id_number", idn,
                                 "customer type is person but the number is an organisasjonsnummer", sensitive=True))
                return
            rule = "no.fodselsnummer.checksum" if reason == "checksum" else "no.fodselsnummer.format"
            out.append(issue(rule, inv, "customer_id_number", idn,
                             f"not a valid Norwegian fødselsnummer/D-nummer: {_REASON_TEXT[reason]}", sensitive=True))
        else:
            rule = "no.orgnr.checksum" if reason == "checksum" else "no.orgnr.format"
            out.append(issue(rule, inv, "customer_id_number", idn,
                             f"not a valid Norwegian organisasjonsnummer: {_REASON_TEXT[reason]}", sensitive=True))


# Texts a person reads on a letter or matches a payment with. "Present" must mean visible: a name of
# zero-width spaces passes a non-empty check and reaches the debtor's letter as a blank.
_TEXT_FIELDS = ("invoice_number", "customer_name", "customer_first_name", "customer_last_name", "payment_reference",
                "your_reference", "our_reference", "contract_reference", "order_reference", "customer_number")
_ADDRESS_TEXT = ("line1", "line2", "line3", "zip_code", "city")
_WHITESPACE_CONTROLS = frozenset("\t\n\r")
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co"})  # controls, format (bidi, zero-width), surrogates, private use


def _hidden_characters(value: str) -> tuple[bool, list[str]]:
    """(whether anything visible remains, the code points of control/format characters found)."""
    visible = False
    hidden: list[str] = []
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in _HIDDEN:
            if ch not in _WHITESPACE_CONTROLS and len(hidden) < 5:
                hidden.append(f"U+{ord(ch):04X}")
        elif cat[0] != "Z" and not ch.isspace():
            visible = True
    return visible, hidden


_texts = attrgetter(*_TEXT_FIELDS)
_address_texts = attrgetter(*_ADDRESS_TEXT)


def _text_rules(inv: SourceInvoice, out: list[Issue]) -> None:
    # The common case in one pass: every present text printable (``isprintable`` of the joined
    # texts) and none made of spaces only (a printable text of whitespace is spaces; it would
    # follow a "|" with a space). Anything else, or a "| " inside a text, takes the exact loop.
    present = "|".join(filter(None, _texts(inv) + _address_texts(inv.customer_address)))
    if present.isprintable() and "| " not in present and not present.startswith(" "):
        return
    _text_rules_each(inv, out)


def _text_rules_each(inv: SourceInvoice, out: list[Issue]) -> None:
    """The text rules field by field (tests/domain/test_fast_paths.py holds the fast path to it)."""
    addr = inv.customer_address
    values = [(f, getattr(inv, f)) for f in _TEXT_FIELDS]
    values += [(f"customer_address.{f}", getattr(addr, f)) for f in _ADDRESS_TEXT]
    for field, value in values:
        # printable and not only spaces: the common case, decided without looking at each character
        if not value or (value.isprintable() and not value.isspace()):
            continue
        visible, hidden = _hidden_characters(value)
        if not visible:
            out.append(issue("text.invisible_only", inv, field, None,
                             "made only of invisible characters" + (f" ({', '.join(hidden)})" if hidden else "")))
        elif hidden:
            out.append(issue("text.control_characters", inv, field, None,
                             f"contains control or format characters ({', '.join(hidden)}), which print as nothing "
                             "or reorder the text; remove them in the source"))


def _reference_rules(inv: SourceInvoice, scheme: str, out: list[Issue]) -> None:
    ref = inv.payment_reference
    if not ref or scheme == "none":
        return
    if scheme.startswith("ocr"):
        reason = check_se_ocr(ref, require_length_digit=scheme == "ocr-length")
        if reason is not None:
            rule = "se.ocr.length_digit" if reason == "length_digit" else "se.ocr.checksum"
            out.append(issue(rule, inv, "payment_reference", ref, f"not a valid OCR reference: {_REASON_TEXT[reason]}"))
    else:
        reason = check_no_kid(ref, scheme=scheme)
        if reason is not None:
            rule = "no.kid.checksum" if reason == "checksum" else "no.kid.format"
            out.append(issue(rule, inv, "payment_reference", ref, f"not a valid KID: {_REASON_TEXT[reason]}"))


def _invoice_rules(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    if not inv.invoice_number:
        out.append(issue("invoice.number.required", inv, "invoice_number", None, "missing invoice number"))
    if inv.invoice_date is None:
        if "invoice_date" not in parsed_fields:
            out.append(issue("invoice.invoice_date.required", inv, "invoice_date", None, "missing invoice date"))
    if inv.due_date is None:
        if "due_date" not in parsed_fields:
            out.append(issue("invoice.due_date.required", inv, "due_date", None, "missing due date"))
    elif inv.invoice_date is not None and inv.due_date < inv.invoice_date:
        out.append(issue("invoice.due_date.before_invoice_date", inv, "due_date", inv.due_date.isoformat(),
                         f"due date is before the invoice date {inv.invoice_date.isoformat()}"))
    market = inv.market
    expected = CURRENCY[market]
    if inv.currency != expected:
        out.append(issue("invoice.currency.market", inv, "currency", inv.currency,
                         f"currency must be {expected} for a {market.value} creditor"))


def _amount_rules(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    bal, total = inv.open_balance, inv.total_amount
    if bal is None:
        if "open_balance" not in parsed_fields:
            out.append(issue("amount.open_balance.positive", inv, "open_balance", None, "missing open balance"))
    elif bal <= _ZERO:
        out.append(issue("amount.open_balance.positive", inv, "open_balance", bal, "open balance must be greater than 0"))
    if total is not None:
        if total <= _ZERO:
            out.append(issue("amount.total.positive", inv, "total_amount", total, "invoice total must be greater than 0"))
        elif bal is not None and bal > total:
            out.append(issue("amount.open_balance.exceeds_total", inv, "open_balance", bal,
                             f"open balance exceeds the invoice total {total}"))


def _line_rules(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    lines, total, market = inv.lines, inv.total_amount, inv.market
    if not lines:
        out.append(issue("invoice.lines.required", inv, "lines", None, "invoice has no lines"))
        return
    rates = VAT_RATES[market]
    gross = _ZERO
    gross_known = total is not None
    for idx, ln in enumerate(lines):
        price, units, lt, vat = ln.unit_price, ln.units, ln.total_excl_vat, ln.vat_percent
        if price is not None and units is not None and lt is not None:
            if abs(price * units - lt) > _CENT:
                out.append(issue("line.total.consistent", inv, f"lines[{idx}].total_excl_vat", lt,
                                 f"line total differs from unit price {price} x units {units} = "
                                 f"{_cents(price * units)}"))
        if units is not None and units <= _ZERO:
            out.append(issue("line.units.positive", inv, f"lines[{idx}].units", units, "units must be > 0"))
        if vat is not None and vat not in rates:
            out.append(issue("line.vat_rate.market", inv, f"lines[{idx}].vat_percent", vat,
                             f"VAT rate {vat} % is not used in {market.value} "
                             f"(allowed: {', '.join(str(r) for r in sorted(rates, reverse=True))})"))
        if gross_known:
            if lt is None:
                gross_known = False
            else:
                gross += lt * (_ONE + (vat or _ZERO) / _HUNDRED)
    if gross_known and abs(gross - total) > _ONE:  # type: ignore[operator]
        out.append(issue("invoice.total.consistent_with_lines", inv, "total_amount", total,
                         f"lines plus VAT add up to {_cents(gross)}"))


def _customer_rules(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    if inv.customer_kind is None:
        if "customer_kind" not in parsed_fields:
            out.append(issue("customer.kind.required", inv, "customer_kind", None,
                             "customer type missing: exactly one of person, company or foreign"))
    if not (inv.customer_name or (inv.customer_first_name and inv.customer_last_name)):
        out.append(issue("customer.name.required", inv, "customer_name", None, "missing customer name"))


def _contact_rules(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    market, kind = inv.market, inv.customer_kind
    addr = inv.customer_address
    country = addr.country
    if country is not None and country not in ISO_3166_ALPHA2:
        out.append(issue("customer.country.iso3166", inv, "customer_address.country", country,
                         "not an ISO 3166-1 alpha-2 country code"))
    if kind is CustomerKind.FOREIGN and (country is None or country == market.value):
        out.append(issue("customer.foreign.country", inv, "customer_address.country", country,
                         f"a foreign customer needs a country other than {market.value}"))
    if not (addr.line1 and addr.zip_code and addr.city):
        missing = [n for n, v in (("street", addr.line1), ("postcode", addr.zip_code), ("city", addr.city)) if not v]
        out.append(issue("customer.address.incomplete", inv, "customer_address", None,
                         f"address lacks {', '.join(missing)}"))
    if inv.customer_gln and check_gln(inv.customer_gln) is not None:
        out.append(issue("customer.gln.checksum", inv, "customer_gln", inv.customer_gln, "not a valid GLN"))
    if inv.customer_phone and not _phone_ok(inv.customer_phone, country or market.value):
        out.append(issue("customer.phone.e164", inv, "customer_phone", inv.customer_phone,
                         "not a valid phone number"))
    if inv.customer_email and not _EMAIL.match(inv.customer_email):
        out.append(issue("customer.email.format", inv, "customer_email", inv.customer_email, "not an e-mail address"))


def _id_group(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    _id_rules(inv, out)


def _text_group(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    _text_rules(inv, out)


def _reference_group(inv: SourceInvoice, parsed_fields: AbstractSet[str], scheme: str, out: list[Issue]) -> None:
    _reference_rules(inv, scheme, out)


RuleGroup = Callable[[SourceInvoice, AbstractSet[str], str, list[Issue]], None]
# Every single-invoice rule, in groups, in the order their issues are listed. ``validate_invoice``
# runs them all; the bulk path (bulk.py) runs, per invoice, only the groups that its column-wise
# screen could not clear, in this same order, which gives the same issues in the same order.
RULE_GROUPS: tuple[RuleGroup, ...] = (
    _invoice_rules,
    _amount_rules,
    _line_rules,
    _customer_rules,
    _id_group,
    _contact_rules,
    _text_group,
    _reference_group,
)


def reference_scheme_of(market: Market, reference_scheme: str | None) -> str:
    """The payment reference scheme an invoice is checked under: its source's, else its market's."""
    return reference_scheme or DEFAULT_REFERENCE_SCHEME[market]


def validate_invoice(inv: SourceInvoice, *, reference_scheme: str | None = None) -> list[Issue]:
    """All single-invoice rules. Returns the issues (parse issues from the source included)."""
    out: list[Issue] = list(inv.parse_issues)
    parsed_fields = {i.field for i in inv.parse_issues}
    if "document" in parsed_fields:
        # The whole document was unreadable: every other rule would only repeat that.
        return out
    scheme = reference_scheme_of(inv.market, reference_scheme)
    for group in RULE_GROUPS:
        group(inv, parsed_fields, scheme, out)
    return out
