"""Column mapping: the canonical (flat) field names and presets for typical ERP exports.

Tabular sources deliver one record per invoice LINE with the invoice header repeated; records
are keyed by the canonical names below. ``line_*`` fields belong to the line, the rest to the
invoice header.
"""

from __future__ import annotations

HEADER_FIELDS: tuple[str, ...] = (
    "invoice_number", "invoice_date", "due_date", "delivery_date", "currency", "total_amount",
    "open_balance", "vat_amount", "payment_reference", "description", "your_reference",
    "our_reference", "contract_reference", "order_reference", "customer_kind", "customer_name",
    "customer_first_name", "customer_last_name", "customer_number", "customer_id_number",
    "customer_email", "customer_phone", "customer_gln", "address_line1", "address_line2",
    "address_line3", "zip_code", "city", "country",
)
LINE_FIELDS: tuple[str, ...] = (
    "line_description", "line_article_number", "line_unit_price", "line_units",
    "line_total_excl_vat", "line_vat_percent",
)
CANONICAL_FIELDS: tuple[str, ...] = HEADER_FIELDS + LINE_FIELDS

# Without one of these columns every invoice of a file would be quarantined, or (open balance)
# claimed at the wrong amount: a file lacking one is a source error, not a thousand bad rows.
REQUIRED_FIELDS: tuple[str, ...] = (
    "invoice_number", "invoice_date", "due_date", "currency", "open_balance", "customer_kind", "customer_name",
    "customer_id_number",
)

DATE_FIELDS = frozenset({"invoice_date", "due_date", "delivery_date"})
AMOUNT_FIELDS = frozenset({"total_amount", "open_balance", "vat_amount", "line_unit_price", "line_units",
                           "line_total_excl_vat", "line_vat_percent"})

# Swedish ERP export (Visma/Fortnox style column names).
_SE_ERP = {
    "invoice_number": "Fakturanr",
    "invoice_date": "Fakturadatum",
    "due_date": "Förfallodatum",
    "delivery_date": "Leveransdatum",
    "currency": "Valuta",
    "total_amount": "Fakturabelopp",
    "open_balance": "Restbelopp",
    "vat_amount": "Moms",
    "payment_reference": "OCR",
    "your_reference": "Er referens",
    "our_reference": "Vår referens",
    "customer_number": "Kundnr",
    "customer_name": "Kundnamn",
    "customer_kind": "Kundtyp",
    "customer_id_number": "Person/orgnr",
    "customer_email": "E-post",
    "customer_phone": "Telefon",
    "customer_gln": "GLN",
    "address_line1": "Adress",
    "address_line2": "Adress 2",
    "zip_code": "Postnr",
    "city": "Ort",
    "country": "Land",
    "line_article_number": "Artikel",
    "line_description": "Benämning",
    "line_units": "Antal",
    "line_unit_price": "À-pris",
    "line_total_excl_vat": "Belopp exkl moms",
    "line_vat_percent": "Moms %",
}

# Norwegian ERP export (Tripletex/Visma style column names).
_NO_ERP = {
    "invoice_number": "Fakturanr",
    "invoice_date": "Fakturadato",
    "due_date": "Forfallsdato",
    "delivery_date": "Leveringsdato",
    "currency": "Valuta",
    "total_amount": "Fakturabeløp",
    "open_balance": "Restbeløp",
    "vat_amount": "Mva",
    "payment_reference": "KID",
    "your_reference": "Deres ref",
    "our_reference": "Vår ref",
    "customer_number": "Kundenr",
    "customer_name": "Kundenavn",
    "customer_kind": "Kundetype",
    "customer_id_number": "Fødselsnr/orgnr",
    "customer_email": "E-post",
    "customer_phone": "Telefon",
    "customer_gln": "GLN",
    "address_line1": "Adresse",
    "address_line2": "Adresse 2",
    "zip_code": "Postnr",
    "city": "Poststed",
    "country": "Land",
    "line_article_number": "Varenr",
    "line_description": "Beskrivelse",
    "line_units": "Antall",
    "line_unit_price": "Enhetspris",
    "line_total_excl_vat": "Beløp eks mva",
    "line_vat_percent": "Mva %",
}

PRESETS: dict[str, dict[str, str]] = {
    "se-erp": _SE_ERP,
    "no-erp": _NO_ERP,
    "canonical": {f: f for f in CANONICAL_FIELDS},
}


def resolve_columns(*, preset: str | None, overrides: dict[str, str]) -> dict[str, str]:
    """Canonical field -> source column, the preset overlaid with the source's own ``columns``."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown column_preset {preset!r} (known: {sorted(PRESETS)})")
    unknown = sorted(set(overrides) - set(CANONICAL_FIELDS))
    if unknown:
        raise ValueError(f"unknown canonical field(s) in columns: {unknown} (known: {list(CANONICAL_FIELDS)})")
    mapping = dict(PRESETS[preset or "canonical"])
    mapping.update(overrides)
    return mapping


# Customer type as ERPs write it -> canonical kind.
CUSTOMER_KIND_WORDS: dict[str, str] = {
    "person": "person", "privat": "person", "privatperson": "person", "p": "person",
    "konsument": "person", "privatkunde": "person", "private": "person",
    "company": "company", "företag": "company", "foretag": "company", "bedrift": "company",
    "f": "company", "b": "company", "c": "company", "org": "company", "organisation": "company",
    "juridisk": "company", "business": "company", "firma": "company",
    "foreign": "foreign", "utländsk": "foreign", "utlandsk": "foreign", "utenlandsk": "foreign",
    "u": "foreign", "utland": "foreign", "utlandet": "foreign",
}
