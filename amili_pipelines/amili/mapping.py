"""Pure mapping from the canonical :class:`SourceInvoice` to each market's registration payload.

No I/O and no defaults that hide missing data: a field Amili requires but the invoice lacks
raises :class:`MappingError` (validation should have quarantined such an invoice already, so
this is a programming error, not a business outcome).
"""

from __future__ import annotations

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
        id_number=invoice.customer_id_number,
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
        unit_vat_percent=vat_percent_text(line.vat_percent),
    )


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
        reference_number=invoice.payment_reference,
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
        return no.Debtor(type="COMPANY", name=invoice.customer_name, organization_number=invoice.customer_id_number, **common)
    # Persons, and foreign debtors (the Norwegian API has no separate kind for them).
    first, last = invoice.customer_first_name, invoice.customer_last_name
    if not (first or last) and invoice.customer_name:
        head, _, tail = invoice.customer_name.strip().rpartition(" ")
        first, last = (head, tail) if head else (None, tail)
    name = invoice.customer_name or " ".join(p for p in (first, last) if p) or None
    _require(name, "customer_name", invoice)
    return no.Debtor(
        type="PRIVATE",
        firstname=first,
        lastname=last,
        name=name,
        identification_number=invoice.customer_id_number,
        **common,
    )


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
        ocr_reference_number=invoice.payment_reference,
        unique_source_invoice_id=unique_source_invoice_id,
        description=invoice.description,
        debtors=[_no_debtor(invoice)],
        claims=[no.Claim(type="PRINCIPAL", remaining_amount=open_balance, description=invoice.description)],
    )
