"""Pure mapping from the canonical :class:`SourceInvoice` to each market's registration payload.

No I/O and no defaults that hide missing data: a field Amili requires but the invoice lacks
raises :class:`MappingError` (validation should have quarantined such an invoice already, so
this is a programming error, not a business outcome).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers

from amili_pipelines.amili.no import models as no
from amili_pipelines.amili.se import models as se
from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    SourceInvoice,
)

E_INVOICING_COMPANY = "electronic_invoicing_company"  # Peppol distribution (Sweden)


class MappingError(ValueError):
    """The invoice lacks something the target API requires."""


def vat_percent_text(value: Decimal | None) -> str | None:
    """``Decimal("25")`` → ``"25%"``, ``Decimal("12.50")`` → ``"12.5%"``: Amili's string form."""
    if value is None:
        return None
    normalized = value.normalize()
    text = format(normalized, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


# ---------------------------------------------------------------------------------------------
# Identifiers as they go on the wire. Sources write them in many shapes ("010101 12345",
# "NO923609016MVA", "1234 5678 97") that validation accepts; Amili gets one canonical shape. A value
# that does not reduce to the expected digits is sent as written (validation already reported it).
# ---------------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_SE_SEPARATORS = re.compile(r"[\s\-:]")


def payment_reference_text(value: str | None, market: str) -> str | None:
    """A Swedish OCR or Norwegian KID as the bank uses it: digits only (a KID may end in MOD11's ``-``).

    "1234 5678 97" (grouped as printed on a giro) is the KID/OCR 1234567897; sent with its spaces it is not
    a KID, and a payment that arrives with the digits would not match it. A reference that is not
    an OCR/KID once its spaces are gone (``"REF002"``) is sent as written.
    """
    if not value:
        return value
    compact = (_SE_SEPARATORS if market == "SE" else _SPACES).sub("", value)
    return compact if re.fullmatch(r"[0-9]+-?" if market == "NO" else r"[0-9]+", compact) else value


def se_id_number_text(value: str | None, kind: CustomerKind | None) -> str | None:
    """A Swedish personnummer or organisationsnummer in the documented shape: ``19900101-1234``,
    ``900101-1234`` (``+`` kept: it says the person is 100 or older), ``556123-4567``.

    Spaces go; a missing separator becomes ``-``; a company number written with the ``16`` prefix
    (12 digits) loses it. Foreign customers' numbers are sent as written.
    """
    if not value or kind not in (CustomerKind.PERSON, CustomerKind.COMPANY):
        return value
    text = _SPACES.sub("", value)
    m = re.fullmatch(r"([0-9]{6}|[0-9]{8})([-+]?)([0-9]{4})", text)
    if m is None:
        return value
    head, sep, tail = m.groups()
    if kind is CustomerKind.COMPANY and len(head) == 8 and head.startswith("16"):
        head = head[2:]
    return f"{head}{sep or '-'}{tail}"


def no_id_number_text(value: str | None, digits: int) -> str | None:
    """A Norwegian fødselsnummer (11 digits) or organisasjonsnummer (9 digits, without the ``NO``
    prefix and ``MVA`` suffix of its VAT form) as digits only."""
    if not value:
        return value
    text = re.sub(r"[\s.\-]", "", value).upper()
    if digits == 9:
        text = text.removeprefix("NO").removesuffix("MVA")
    return text if re.fullmatch(rf"[0-9]{{{digits}}}", text) else value


def _require(value: object, field: str, invoice: SourceInvoice) -> None:
    if value is None or value == "":
        raise MappingError(f"{invoice.invoice_key}: {field} is required for registration")


# ---------------------------------------------------------------------------------------------
# Sweden
# ---------------------------------------------------------------------------------------------


def _se_address(address: Address, gln: str | None) -> se.Address | None:
    fields = {
        "address_line_1": address.line1,
        "address_line_2": address.line2,
        "address_line_3": address.line3,
        "zip_code": address.zip_code,
        "city": address.city,
        "country": address.country.upper() if address.country else None,
        "gln": gln,
    }
    if all(v is None for v in fields.values()):
        return None
    return se.Address(**fields)


def _se_customer(invoice: SourceInvoice) -> se.Customer:
    kind = invoice.customer_kind
    if kind is None:
        raise MappingError(f"{invoice.invoice_key}: customer_kind is required (person, company or foreign)")
    name = invoice.customer_name or " ".join(p for p in (invoice.customer_first_name, invoice.customer_last_name) if p)
    _require(name or None, "customer_name", invoice)
    return se.Customer(
        name=name,
        customer_number=invoice.customer_number,
        id_number=se_id_number_text(invoice.customer_id_number, kind),
        is_person=True if kind is CustomerKind.PERSON else None,
        is_company=True if kind is CustomerKind.COMPANY else None,
        is_foreign=True if kind is CustomerKind.FOREIGN else None,
        address=_se_address(invoice.customer_address, invoice.customer_gln),
        mobile_number=invoice.customer_phone,
        email=invoice.customer_email,
    )


def _se_matrix_item(line: InvoiceLine, invoice: SourceInvoice, index: int) -> se.MatrixItem:
    total = line.total_excl_vat
    if total is None and line.unit_price is not None:
        total = line.unit_price * (line.units if line.units is not None else Decimal(1))
    if total is None:
        raise MappingError(f"{invoice.invoice_key}: lines[{index}] has no total_excl_vat and no unit_price")
    return se.MatrixItem(
        article_number=line.article_number,
        article_description=line.description or invoice.description or f"Invoice {invoice.invoice_number}",
        unit_price=line.unit_price,
        number_of_units=line.units,
        total_price_excluding_vat=total,
        unit_vat_percent=vat_percent_text(line.vat_percent) or _no_vat_invoice(invoice),
    )


def _no_vat_invoice(invoice: SourceInvoice) -> str | None:
    """``"0%"`` for a line without a VAT rate on an invoice that says it carries no VAT.

    A row without ``unit_vat_percent`` is taxed at Amili's default "25%" (A.6): the debtor would be
    charged VAT the invoice does not have (and the adjustment row would call it "already paid").
    Without any VAT information the row is left to Amili's default, as before.
    """
    return "0%" if invoice.vat_amount is not None and invoice.vat_amount == 0 else None


def _se_single_line(invoice: SourceInvoice) -> se.MatrixItem:
    """An invoice without lines becomes one matrix row carrying its total."""
    _require(invoice.total_amount, "total_amount (or lines)", invoice)
    assert invoice.total_amount is not None
    vat = invoice.vat_amount or Decimal(0)
    excl = invoice.total_amount - vat
    percent = (vat / excl * 100).quantize(Decimal("0.1")) if vat and excl else Decimal(0)
    return se.MatrixItem(
        article_description=invoice.description or f"Invoice {invoice.invoice_number}",
        total_price_excluding_vat=excl,
        unit_vat_percent=vat_percent_text(percent),
    )


def _amili_gross(matrix: list[se.MatrixItem]) -> Decimal:
    """The claim Amili derives from the matrix: each row's VAT rounded to the öre, half up.

    Amili computes VAT per row, the ERP often on the invoice total; the two can differ by an öre.
    (Per-row half-up rounding is our assumption, shared with the emulator: reference section F.)
    """
    total = Decimal(0)
    for row in matrix:
        pct = Decimal((row.unit_vat_percent or "25%").rstrip("%"))
        net = Decimal(row.total_price_excluding_vat)
        total += net + (net * pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return total


def _se_adjustment_line(invoice: SourceInvoice, difference: Decimal) -> se.MatrixItem:
    """A 0 % VAT row that makes Amili's claim equal the open balance to the öre.

    Negative and large: the debtor already paid part of the invoice before handover. Small
    (under one krona): the öre rounding ("öresutjämning") between the ERP's total and Amili's.
    """
    partly_paid = difference <= Decimal("-1")
    return se.MatrixItem(
        article_description=(f"Already paid on invoice {invoice.invoice_number}" if partly_paid
                             else "Öresutjämning"),
        total_price_excluding_vat=difference,
        unit_vat_percent="0%",
        is_discount=difference < 0 or None,
    )


def to_se_registration(
    invoice: SourceInvoice,
    *,
    account_id: str,
    creditor_id: str,
    preferred_invoice_distribution: str | None = None,
    start_flow: bool | None = None,
    labels: list[str] | None = None,
) -> se.InvoiceRegistration:
    """The Swedish ``POST /invoice--registrations`` body for one valid invoice.

    A company with a GLN is sent for Peppol e-invoicing unless ``preferred_invoice_distribution``
    says otherwise. The creditor's own payment reference (OCR), if any, becomes
    ``reference_number``; Amili issues its own OCR for the case.
    """
    _require(invoice.invoice_number, "invoice_number", invoice)
    _require(invoice.invoice_date, "invoice_date", invoice)
    _require(invoice.due_date, "due_date", invoice)
    if invoice.currency not in (None, "SEK"):
        raise MappingError(f"{invoice.invoice_key}: Amili Sweden accepts only SEK, not {invoice.currency}")
    distribution = preferred_invoice_distribution
    if distribution is None and invoice.customer_kind is CustomerKind.COMPANY and invoice.customer_gln:
        distribution = E_INVOICING_COMPANY
    matrix = [_se_matrix_item(line, invoice, i) for i, line in enumerate(invoice.lines)] or [_se_single_line(invoice)]
    # Amili must claim exactly what is still open: never an amount the debtor already paid.
    claim = invoice.open_balance if invoice.open_balance is not None else invoice.total_amount
    if claim is not None:
        difference = claim - _amili_gross(matrix)
        if difference:
            matrix.append(_se_adjustment_line(invoice, difference))
    return se.InvoiceRegistration(
        account=account_id,
        creditor=creditor_id,
        customer=_se_customer(invoice),
        invoice_type="invoice",
        invoice_number=invoice.invoice_number,  # type: ignore[arg-type]  # checked by _require
        reference_number=payment_reference_text(invoice.payment_reference, "SE"),
        invoice_date=invoice.invoice_date,  # type: ignore[arg-type]
        invoice_due_date=invoice.due_date,  # type: ignore[arg-type]
        invoice_delivery_date=invoice.delivery_date,
        currency="SEK",
        your_reference=invoice.your_reference,
        our_reference=invoice.our_reference,
        contract_reference=invoice.contract_reference,
        order_reference=invoice.order_reference,
        debt_description=invoice.description,
        matrix=matrix,
        preferred_invoice_distribution=distribution,
        start_flow=start_flow,
        labels=labels,
    )


# ---------------------------------------------------------------------------------------------
# Norway
# ---------------------------------------------------------------------------------------------


def _no_phone(raw: str | None) -> list[no.PhoneNumber] | None:
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, "NO")
    except phonenumbers.NumberParseException:
        return [no.PhoneNumber(original_value=raw, value=raw)]
    return [
        no.PhoneNumber(
            country_code=f"+{parsed.country_code}", original_value=raw, value=str(parsed.national_number)
        )
    ]


def _no_debtor(invoice: SourceInvoice) -> no.Debtor:
    kind = invoice.customer_kind
    if kind is None:
        raise MappingError(f"{invoice.invoice_key}: customer_kind is required (person, company or foreign)")
    address = invoice.customer_address
    addresses = None
    if any((address.line1, address.zip_code, address.city)):
        street = ", ".join(p for p in (address.line1, address.line2, address.line3) if p) or None
        addresses = [
            no.DebtorAddress(
                street=street, city=address.city, zip_code=address.zip_code, country_code=(address.country or "NO").upper()
            )
        ]
    common = {
        "customer_number": invoice.customer_number,
        "emails": [no.Email(value=invoice.customer_email)] if invoice.customer_email else None,
        "phone_numbers": _no_phone(invoice.customer_phone),
        "addresses": addresses,
    }
    if kind is CustomerKind.COMPANY:
        _require(invoice.customer_name, "customer_name", invoice)
        return no.Debtor(type="COMPANY", name=invoice.customer_name,
                         organization_number=no_id_number_text(invoice.customer_id_number, 9), **common)
    # Persons, and foreign debtors (the Norwegian API has no separate kind for them).
    first, last = invoice.customer_first_name, invoice.customer_last_name
    name = invoice.customer_name
    if not (first or last) and name:
        first, last, name = _split_person_name(name)
    name = name or " ".join(p for p in (first, last) if p) or None
    _require(name, "customer_name", invoice)
    return no.Debtor(
        type="PRIVATE",
        firstname=first,
        lastname=last,
        name=name,
        # A foreign debtor's number is not a fødselsnummer: sent as written.
        identification_number=(no_id_number_text(invoice.customer_id_number, 11) if kind is CustomerKind.PERSON
                               else invoice.customer_id_number),
        **common,
    )


def _split_person_name(full: str) -> tuple[str | None, str, str]:
    """(firstname, lastname, name) of a person written as one field.

    "Ola Nordmann" → first "Ola", last "Nordmann". Registers and ERPs often write the surname first
    with a comma, "Nordmann, Ola": that is first "Ola", last "Nordmann" (and the name "Ola
    Nordmann"), not first "Nordmann," and last "Ola".
    """
    text = " ".join(full.split())
    surname, comma, given = text.partition(",")
    if comma and surname.strip() and given.strip() and "," not in given:
        surname, given = surname.strip(), given.strip()
        return given, surname, f"{given} {surname}"
    head, _, tail = text.rpartition(" ")
    return (head or None), tail, full


def to_no_invoice(
    invoice: SourceInvoice,
    *,
    unique_source_invoice_id: str,
    invoice_type: str = "PAYMENT_REMINDER",
) -> no.InvoiceCreate:
    """One element of the Norwegian ``POST /orgs/{org}/invoices`` body.

    ``unique_source_invoice_id`` is the caller's stable id for this invoice (the deterministic
    registration key), which later finds the invoice with ``UniqueSourceInvoiceId``. The claim is
    the open balance as PRINCIPAL; the KID goes to ``ocrReferenceNumber``.
    """
    _require(invoice.invoice_number, "invoice_number", invoice)
    _require(invoice.invoice_date, "invoice_date", invoice)
    _require(invoice.due_date, "due_date", invoice)
    total = invoice.total_amount if invoice.total_amount is not None else invoice.open_balance
    open_balance = invoice.open_balance if invoice.open_balance is not None else invoice.total_amount
    _require(total, "total_amount or open_balance", invoice)
    assert total is not None and open_balance is not None
    return no.InvoiceCreate(
        type=invoice_type,
        invoice_number=invoice.invoice_number,  # type: ignore[arg-type]
        vat=bool(invoice.vat_amount) if invoice.vat_amount is not None else None,
        original_invoice_amount=total,
        currency=invoice.currency or "NOK",
        invoice_date=invoice.invoice_date,  # type: ignore[arg-type]
        due_date=invoice.due_date,  # type: ignore[arg-type]
        ocr_reference_number=payment_reference_text(invoice.payment_reference, "NO"),
        unique_source_invoice_id=unique_source_invoice_id,
        description=invoice.description,
        debtors=[_no_debtor(invoice)],
        claims=[no.Claim(type="PRINCIPAL", remaining_amount=open_balance, description=invoice.description)],
    )
