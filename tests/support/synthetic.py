"""Deterministic, seeded demo data: Swedish ERP CSV exports, Norwegian CSV exports and Peppol UBL.

Used for the committed demo files in ``assets/demo/`` (``python -m tests.support.synthetic``)
and by the benchmarks (100k / 1M invoices, streamed to disk, never held in memory).

Every defect the generator plants is named in the :class:`Manifest`, so tests and the demo can
check that exactly those invoices end in quarantine.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from stdnum import luhn
from stdnum.no import fodselsnummer as no_fnr
from stdnum.no import orgnr as no_orgnr

from amili_pipelines.domain.validation.identifiers import make_kid, make_ocr
from amili_pipelines.sources.columns import PRESETS

CENT = Decimal("0.01")

SE_COLUMNS = [
    "Fakturanr", "Fakturadatum", "Förfallodatum", "Kundnr", "Kundnamn", "Kundtyp", "Person/orgnr",
    "Adress", "Postnr", "Ort", "Land", "E-post", "Telefon", "Valuta", "Artikel", "Benämning", "Antal",
    "À-pris", "Belopp exkl moms", "Moms %", "Fakturabelopp", "Restbelopp", "OCR", "Vår referens",
]
NO_COLUMNS = [
    "Fakturanr", "Fakturadato", "Forfallsdato", "Kundenr", "Kundenavn", "Kundetype", "Fødselsnr/orgnr",
    "Adresse", "Postnr", "Poststed", "Land", "E-post", "Telefon", "Valuta", "Varenr", "Beskrivelse", "Antall",
    "Enhetspris", "Beløp eks mva", "Mva %", "Fakturabeløp", "Restbeløp", "KID",
]
assert set(SE_COLUMNS) <= set(PRESETS["se-erp"].values())
assert set(NO_COLUMNS) <= set(PRESETS["no-erp"].values())

# Defects the generator plants, with the validation rule each one must trigger.
DEFECT_RULES = {
    "bad_personnummer": "se.personnummer.checksum",
    "bad_fodselsnummer": "no.fodselsnummer.checksum",
    "missing_due_date": "invoice.due_date.required",
    "wrong_currency": "invoice.currency.market",
    "bad_orgnr": "orgnr.checksum",
    "line_total_mismatch": "line.total.consistent",
    "due_before_invoice": "invoice.due_date.before_invoice_date",
    "duplicate_number": "invoice.number.unique",
    "garbage_amount": "parse.amount",
    "bad_vat_rate": "line.vat_rate.market",
    "company_without_orgnr": "customer.id_number.required",
    "unknown_customer_type": "parse.customer_kind",
    "bad_reference": "reference.checksum",
    "wrong_namespace": "peppol.namespace",
}

_FIRST = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sara", "Per", "Lena", "Nils",
          "Ingrid", "Ola", "Kari", "Ahmed", "Fatima", "Björn", "Åsa", "Göran", "Sofie", "Jørgen", "Øystein"]
_LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
         "Hansen", "Johansen", "Olsen", "Berg", "Haugen", "Lindqvist", "Åberg", "Sjöström", "Dahl", "Bakke"]
_SE_CITIES = [("Stockholm", "111 22"), ("Göteborg", "411 05"), ("Malmö", "211 19"), ("Uppsala", "753 20"),
              ("Västerås", "722 15"), ("Örebro", "702 10"), ("Linköping", "582 24"), ("Umeå", "903 26")]
_NO_CITIES = [("Oslo", "0150"), ("Bergen", "5003"), ("Trondheim", "7011"), ("Stavanger", "4006"),
              ("Tromsø", "9008"), ("Drammen", "3015"), ("Kristiansand", "4611")]
_STREETS = ["Storgatan", "Kungsgatan", "Drottninggatan", "Vasagatan", "Karl Johans gate", "Bryggen",
            "Sveavägen", "Parkveien", "Strandvägen", "Skolegata"]
_COMPANY_WORDS = ["Nordic", "Bygg", "Konsult", "Data", "Frakt", "Trä", "Fisk", "Elektro", "Hav", "Fjell"]
_FOREIGN = [("DE", "Berlin", "10115", "+49301234567"), ("FI", "Helsinki", "00100", "+358401234567"),
            ("DK", "København", "1050", "+4532123456"), ("GB", "London", "SW1A 1AA", "+442071234567"),
            ("US", "New York", "10001", "+12125550123")]
_SE_ITEMS = [("A100", "Konsulttimme", Decimal("950.00"), 25), ("B200", "Livsmedel", Decimal("149.90"), 12),
             ("C300", "Bok", Decimal("249.00"), 6), ("D400", "Serviceavgift", Decimal("495.00"), 25),
             ("E500", "Frakt", Decimal("79.00"), 25), ("F600", "Hotellnatt", Decimal("1290.00"), 12)]
_NO_ITEMS = [("V100", "Konsulenttime", Decimal("1250.00"), 25), ("V200", "Matvarer", Decimal("189.50"), 15),
             ("V300", "Persontransport", Decimal("420.00"), 12), ("V400", "Abonnement", Decimal("299.00"), 25)]


@dataclass
class Manifest:
    """What a generated dataset contains, by construction."""

    invoices: int = 0  # distinct invoices written (incl. paid, not due, defective)
    rows: int = 0  # records (CSV lines / XML documents)
    paid: int = 0
    not_due: int = 0
    defects: Counter[str] = field(default_factory=Counter)  # defect name -> invoices
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def defective(self) -> int:
        return sum(self.defects.values())

    def summary(self) -> dict[str, object]:
        return {"invoices": self.invoices, "rows": self.rows, "paid": self.paid, "not_due": self.not_due,
                "defective": self.defective, "defects": dict(sorted(self.defects.items())),
                "by_kind": dict(sorted(self.by_kind.items()))}


# -- identifiers ----------------------------------------------------------------------------------

def _birth(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 64))


def se_personnummer(rng: random.Random, *, twelve: bool = False, coordination: bool = False) -> str:
    b = _birth(rng)
    day = b.day + (60 if coordination else 0)
    serial = f"{rng.randrange(1, 1000):03d}"
    nine = f"{b.year % 100:02d}{b.month:02d}{day:02d}{serial}"
    check = luhn.calc_check_digit(nine)
    ten = nine + check
    return (f"{b.year // 100}{ten[:6]}-{ten[6:]}" if twelve else f"{ten[:6]}-{ten[6:]}")


def se_orgnr(rng: random.Random) -> str:
    first = rng.choice("25789")
    nine = first + str(rng.randrange(0, 10)) + str(rng.randrange(2, 10)) + f"{rng.randrange(0, 1_000_000):06d}"
    ten = nine + luhn.calc_check_digit(nine)
    return f"{ten[:6]}-{ten[6:]}"


def no_fodselsnummer(rng: random.Random, *, d_number: bool = False) -> str:
    while True:
        b = _birth(rng)
        if b.year >= 2000:
            individual = rng.randrange(500, 1000)
        else:
            individual = rng.randrange(0, 500)
        day = b.day + (40 if d_number else 0)
        nine = f"{day:02d}{b.month:02d}{b.year % 100:02d}{individual:03d}"
        k1 = no_fnr.calc_check_digit1(nine)
        if len(k1) != 1:
            continue
        k2 = no_fnr.calc_check_digit2(nine + k1)
        if len(k2) != 1:
            continue
        number = nine + k1 + k2
        if no_fnr.is_valid(number):
            return number


def no_orgnr_number(rng: random.Random) -> str:
    while True:
        n = str(rng.randrange(8, 10)) + f"{rng.randrange(0, 10_000_000):07d}"
        for c in "0123456789":
            if no_orgnr.is_valid(n + c):
                return n + c


def gln(rng: random.Random) -> str:
    from stdnum import ean

    twelve = "73" + f"{rng.randrange(0, 10**10):010d}"
    return twelve + ean.calc_check_digit(twelve)


def _corrupt_last(number: str) -> str:
    last = number[-1]
    return number[:-1] + str((int(last) + 1) % 10) if last.isdigit() else number[:-1] + "0"


def _bad_reference(ref: str, *, se: bool) -> str:
    """Change the control digit so the reference fails every accepted scheme (KID: MOD10 and MOD11)."""
    from amili_pipelines.domain.validation.identifiers import check_no_kid, check_se_ocr

    for c in "0123456789":
        cand = ref[:-1] + c
        if cand != ref and (check_se_ocr(cand) if se else check_no_kid(cand)) is not None:
            return cand
    raise AssertionError(f"cannot corrupt {ref}")


# -- amounts --------------------------------------------------------------------------------------

def _sv(amount: Decimal, *, group: bool = True) -> str:
    """1234.5 -> '1 234,50' (Swedish/Norwegian export style)."""
    s = f"{amount.quantize(CENT):,.2f}" if group else f"{amount.quantize(CENT):.2f}"
    return s.replace(",", " ").replace(".", ",")


@dataclass
class _Line:
    article: str
    text: str
    units: Decimal
    price: Decimal
    vat: int

    @property
    def total(self) -> Decimal:
        return (self.units * self.price).quantize(CENT, ROUND_HALF_UP)


def _lines(rng: random.Random, items: list[tuple[str, str, Decimal, int]]) -> list[_Line]:
    out = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        art, txt, price, vat = rng.choice(items)
        units = Decimal(rng.choice(("1", "1", "2", "3", "1.5", "4")))
        out.append(_Line(art, txt, units, price, vat))
    return out


def _gross(lines: list[_Line]) -> Decimal:
    return sum((ln.total * (1 + Decimal(ln.vat) / 100) for ln in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)


# -- the plan: which invoice gets which status and defect -----------------------------------------

def _plan(n: int, *, rng: random.Random, defects: list[str], invalid_share: float, paid_share: float,
          not_due_share: float) -> list[tuple[str, str | None]]:
    """Per invoice: (status 'unpaid'|'paid'|'not_due', defect or None), shuffled deterministically."""
    n_bad = round(n * invalid_share)
    n_paid = round(n * paid_share)
    n_not_due = round(n * not_due_share)
    plan: list[tuple[str, str | None]] = [("unpaid", defects[i % len(defects)]) for i in range(n_bad)]
    plan += [("paid", None)] * n_paid + [("not_due", None)] * n_not_due
    plan += [("unpaid", None)] * (n - len(plan))
    rng.shuffle(plan)
    return plan


SE_DEFECTS = ["bad_personnummer", "missing_due_date", "wrong_currency", "bad_orgnr", "line_total_mismatch",
              "due_before_invoice", "duplicate_number", "garbage_amount", "bad_vat_rate", "company_without_orgnr",
              "unknown_customer_type", "bad_reference"]
NO_DEFECTS = ["bad_fodselsnummer", "missing_due_date", "wrong_currency", "bad_orgnr", "line_total_mismatch",
              "due_before_invoice", "duplicate_number", "bad_vat_rate", "bad_reference"]


def _rows_for_market(
    *, market: str, n: int, seed: int, invalid_share: float, paid_share: float, not_due_share: float,
    first_number: int, manifest: Manifest,
) -> Iterator[list[str]]:
    rng = random.Random(seed)
    se = market == "SE"
    plan = _plan(n, rng=rng, defects=SE_DEFECTS if se else NO_DEFECTS, invalid_share=invalid_share,
                 paid_share=paid_share, not_due_share=not_due_share)
    items = _SE_ITEMS if se else _NO_ITEMS
    cities = _SE_CITIES if se else _NO_CITIES
    currency = "SEK" if se else "NOK"
    issued_numbers: list[str] = []
    for i, (status, defect) in enumerate(plan):
        number = str(first_number + i)
        if defect == "duplicate_number" and len(issued_numbers) > 3:
            # Reuse the number of an earlier clean unpaid invoice (never the adjacent one, which
            # would read as more lines of the same invoice).
            number = rng.choice(issued_numbers[:-2])
        elif status == "unpaid" and defect is None:
            issued_numbers.append(number)
        kind = rng.choices(("person", "company", "foreign"), weights=(6, 3, 1))[0]
        if defect in ("bad_personnummer", "bad_fodselsnummer"):
            kind = "person"
        elif defect in ("bad_orgnr", "company_without_orgnr"):
            kind = "company"
        manifest.by_kind[kind] += 1
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if kind == "person":
            name = f"{first} {last}"
            if se:
                idn = se_personnummer(rng, twelve=rng.random() < 0.3, coordination=rng.random() < 0.03)
            else:
                idn = no_fodselsnummer(rng, d_number=rng.random() < 0.03)
            city, zipc = rng.choice(cities)
            country = market
            phone = (f"+4670{rng.randrange(0, 10**7):07d}" if se
                     else f"+47{rng.choice(('90', '91', '92', '93', '95', '97', '98', '41', '46'))}"
                          f"{rng.randrange(0, 10**6):06d}")
            email = f"{first.lower()}.{last.lower()}@example.{market.lower()}".replace("å", "a").replace(
                "ä", "a").replace("ö", "o").replace("ø", "o").replace("æ", "ae")
        elif kind == "company":
            name = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_LAST)} {'AB' if se else 'AS'}"
            if se:
                idn = se_personnummer(rng) if rng.random() < 0.1 else se_orgnr(rng)  # 10 %: sole traders
                if rng.random() < 0.1:
                    idn = "16" + idn.replace("-", "")
            else:
                idn = no_orgnr_number(rng)
            city, zipc = rng.choice(cities)
            country = market
            phone = f"+468{rng.randrange(0, 10**7):07d}" if se else f"+4722{rng.randrange(0, 10**6):06d}"
            email = "faktura@example.com"
        else:
            country, city, zipc, phone = rng.choice(_FOREIGN)
            name = f"{first} {last}"
            idn = ""
            email = f"{first.lower()}@example.org"
        if defect in ("bad_personnummer", "bad_fodselsnummer", "bad_orgnr"):
            idn = _corrupt_last(idn)
        if defect == "company_without_orgnr":
            idn = ""
        kind_word = {"person": "Privat", "company": "Företag" if se else "Bedrift",
                     "foreign": "Utländsk" if se else "Utenlandsk"}[kind]
        if defect == "unknown_customer_type":
            kind_word = "Kommun?"
        lines = _lines(rng, items)
        if defect == "bad_vat_rate":
            lines[0].vat = 20
        if status == "not_due":
            inv_date = date(2026, 11, 2) + timedelta(days=rng.randrange(0, 10))
            due = date(2027, 12, 31)  # an instalment plan: not due whenever the demo runs
            manifest.not_due += 1
        else:
            inv_date = date(2026, 1, 5) + timedelta(days=rng.randrange(0, 200))
            due = inv_date + timedelta(days=rng.choice((10, 15, 20, 30)))
        gross = _gross(lines)
        balance = gross
        if status == "paid":
            balance = Decimal(0)
            manifest.paid += 1
        elif rng.random() < 0.1:  # partly paid
            balance = (gross / 2).quantize(CENT)
        base = number + f"{rng.randrange(0, 100):02d}"
        ref = make_ocr(base, length_digit=True) if se else make_kid(base, mod11=rng.random() < 0.3)
        if defect == "bad_reference":
            ref = _bad_reference(ref, se=se)
        cur = "EUR" if defect == "wrong_currency" else currency
        inv_txt = inv_date.isoformat() if se else inv_date.strftime("%d.%m.%Y")
        due_txt = "" if defect == "missing_due_date" else (due.isoformat() if se else due.strftime("%d.%m.%Y"))
        if defect == "due_before_invoice":
            due_txt = (inv_date - timedelta(days=5)).isoformat() if se else (
                inv_date - timedelta(days=5)).strftime("%d.%m.%Y")
        balance_txt = _sv(balance)
        if defect == "garbage_amount":
            balance_txt = "12 3O0,00"  # a letter O typed for a zero
        if defect:
            manifest.defects[defect] += 1
        manifest.invoices += 1
        street = f"{rng.choice(_STREETS)} {rng.randrange(1, 120)}"
        customer_number = f"K{rng.randrange(10000, 99999)}"
        for j, ln in enumerate(lines):
            total = ln.total
            if defect == "line_total_mismatch" and j == 0:
                total = total + Decimal("100")
            row = [number, inv_txt, due_txt, customer_number,
                   name, kind_word, idn, street, zipc, city, country, email, phone, cur, ln.article, ln.text,
                   _sv(ln.units, group=False).rstrip("0").rstrip(",") if ln.units % 1 else str(int(ln.units)),
                   _sv(ln.price), _sv(total), str(ln.vat), _sv(gross), balance_txt, ref]
            if se:
                row.append("Kundtjänst")
            manifest.rows += 1
            yield row


def write_se_csv(path: Path, *, invoices: int = 230, seed: int = 2026, invalid_share: float = 0.08,
                 paid_share: float = 0.035, not_due_share: float = 0.025, encoding: str = "cp1252") -> Manifest:
    """A Swedish ERP export: ';', decimal comma, space thousands, one line per invoice line."""
    return _write_csv(path, columns=SE_COLUMNS, market="SE", invoices=invoices, seed=seed,
                      invalid_share=invalid_share, paid_share=paid_share, not_due_share=not_due_share,
                      encoding=encoding, first_number=100001)


def write_no_csv(path: Path, *, invoices: int = 90, seed: int = 4711, invalid_share: float = 0.1,
                 paid_share: float = 0.04, not_due_share: float = 0.04, encoding: str = "utf-8-sig") -> Manifest:
    return _write_csv(path, columns=NO_COLUMNS, market="NO", invoices=invoices, seed=seed,
                      invalid_share=invalid_share, paid_share=paid_share, not_due_share=not_due_share,
                      encoding=encoding, first_number=500001)


def _write_csv(path: Path, *, columns: list[str], market: str, invoices: int, seed: int, invalid_share: float,
               paid_share: float, not_due_share: float, encoding: str, first_number: int) -> Manifest:
    manifest = Manifest()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(columns)
        for row in _rows_for_market(market=market, n=invoices, seed=seed, invalid_share=invalid_share,
                                    paid_share=paid_share, not_due_share=not_due_share,
                                    first_number=first_number, manifest=manifest):
            w.writerow(row)
    return manifest


# -- Peppol BIS Billing 3.0 ------------------------------------------------------------------------

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_SELLER = {"name": "Demo Norge AS", "orgnr": "987654325", "gln": "7080000000012", "city": "Oslo",
           "zip": "0150", "street": "Karl Johans gate 1", "iban": "NO9386011117947"}


def peppol_invoice_xml(
    *, number: str, issue: date, due: date | None, buyer_name: str, buyer_orgnr: str, buyer_gln: str | None,
    street: str, city: str, zip_code: str, country: str, lines: list[_Line], payable: Decimal,
    currency: str = "NOK", kid: str | None = None, namespace: str = UBL_INVOICE_NS, email: str | None = None,
) -> str:
    line_ext = sum((ln.total for ln in lines), Decimal(0))
    gross = _gross(lines)
    tax = gross - line_ext
    prepaid = gross - payable
    e = escape
    buyer_endpoint = (f'<cbc:EndpointID schemeID="0088">{buyer_gln}</cbc:EndpointID>' if buyer_gln
                      else f'<cbc:EndpointID schemeID="0192">{e(buyer_orgnr)}</cbc:EndpointID>')
    gln_ident = (f'<cac:PartyIdentification><cbc:ID schemeID="0088">{buyer_gln}</cbc:ID></cac:PartyIdentification>'
                 if buyer_gln else "")
    inv_lines = []
    for i, ln in enumerate(lines, start=1):
        inv_lines.append(f"""  <cac:InvoiceLine>
    <cbc:ID>{i}</cbc:ID>
    <cbc:InvoicedQuantity unitCode="EA">{ln.units}</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="{currency}">{ln.total}</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>{e(ln.text)}</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>{e(ln.article)}</cbc:ID></cac:SellersItemIdentification>
      <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{ln.vat}</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="{currency}">{ln.price}</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>""")
    due_xml = f"\n  <cbc:DueDate>{due.isoformat()}</cbc:DueDate>" if due else ""
    kid_xml = f"\n    <cbc:PaymentID>{e(kid)}</cbc:PaymentID>" if kid else ""
    contact = f"<cac:Contact><cbc:ElectronicMail>{e(email)}</cbc:ElectronicMail></cac:Contact>" if email else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="{namespace}"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
  <cbc:ID>{e(number)}</cbc:ID>
  <cbc:IssueDate>{issue.isoformat()}</cbc:IssueDate>{due_xml}
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>{e(number)}-REF</cbc:BuyerReference>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0192">{_SELLER['orgnr']}</cbc:EndpointID>
      <cac:PartyName><cbc:Name>{_SELLER['name']}</cbc:Name></cac:PartyName>
      <cac:PostalAddress><cbc:StreetName>{_SELLER['street']}</cbc:StreetName><cbc:CityName>{_SELLER['city']}</cbc:CityName><cbc:PostalZone>{_SELLER['zip']}</cbc:PostalZone><cac:Country><cbc:IdentificationCode>NO</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
      <cac:PartyTaxScheme><cbc:CompanyID>NO{_SELLER['orgnr']}MVA</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
      <cac:PartyLegalEntity><cbc:RegistrationName>{_SELLER['name']}</cbc:RegistrationName><cbc:CompanyID schemeID="0192">{_SELLER['orgnr']}</cbc:CompanyID></cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      {buyer_endpoint}
      {gln_ident}
      <cac:PartyName><cbc:Name>{e(buyer_name)}</cbc:Name></cac:PartyName>
      <cac:PostalAddress><cbc:StreetName>{e(street)}</cbc:StreetName><cbc:CityName>{e(city)}</cbc:CityName><cbc:PostalZone>{e(zip_code)}</cbc:PostalZone><cac:Country><cbc:IdentificationCode>{country}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
      <cac:PartyLegalEntity><cbc:RegistrationName>{e(buyer_name)}</cbc:RegistrationName><cbc:CompanyID schemeID="0192">{e(buyer_orgnr)}</cbc:CompanyID></cac:PartyLegalEntity>
      {contact}
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>{kid_xml}
    <cac:PayeeFinancialAccount><cbc:ID>{_SELLER['iban']}</cbc:ID></cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:TaxTotal><cbc:TaxAmount currencyID="{currency}">{tax}</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="{currency}">{line_ext}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="{currency}">{line_ext}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="{currency}">{gross}</cbc:TaxInclusiveAmount>
    <cbc:PrepaidAmount currencyID="{currency}">{prepaid}</cbc:PrepaidAmount>
    <cbc:PayableAmount currencyID="{currency}">{payable}</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
{chr(10).join(inv_lines)}
</Invoice>
"""


PEPPOL_DEFECTS = ["bad_orgnr", "bad_reference", "wrong_namespace"]


def write_peppol_folder(folder: Path, *, invoices: int = 30, seed: int = 90, first_number: int = 2026001) -> Manifest:
    """Peppol BIS Billing 3.0 invoices from Demo Norge AS to Norwegian business customers."""
    rng = random.Random(seed)
    manifest = Manifest()
    folder.mkdir(parents=True, exist_ok=True)
    plan: list[tuple[str, str | None]] = [("unpaid", d) for d in PEPPOL_DEFECTS]
    plan += [("paid", None), ("not_due", None)]
    plan += [("unpaid", None)] * (invoices - len(plan))
    rng.shuffle(plan)
    for i, (status, defect) in enumerate(plan):
        number = f"NO-{first_number + i}"
        lines = _lines(rng, _NO_ITEMS)
        gross = _gross(lines)
        orgnr = no_orgnr_number(rng)
        if defect == "bad_orgnr":
            orgnr = _corrupt_last(orgnr)
        kid = make_kid(f"{first_number + i}", mod11=rng.random() < 0.5)
        if defect == "bad_reference":
            kid = _bad_reference(kid, se=False)
        city, zipc = rng.choice(_NO_CITIES)
        if status == "not_due":
            issue, due = date(2026, 11, 3), date(2027, 12, 31)
            manifest.not_due += 1
        else:
            issue = date(2026, 2, 1) + timedelta(days=rng.randrange(0, 180))
            due = issue + timedelta(days=30)
        payable = Decimal(0).quantize(CENT) if status == "paid" else gross
        if status == "paid":
            manifest.paid += 1
        xml = peppol_invoice_xml(
            number=number, issue=issue, due=due, buyer_name=f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_LAST)} AS",
            buyer_orgnr=orgnr, buyer_gln=gln(rng) if rng.random() < 0.5 else None,
            street=f"{rng.choice(_STREETS)} {rng.randrange(1, 80)}", city=city, zip_code=zipc, country="NO",
            lines=lines, payable=payable, kid=kid, email="faktura@example.no",
            namespace="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2" if defect == "wrong_namespace"
            else UBL_INVOICE_NS,
        )
        (folder / f"{number}.xml").write_text(xml, encoding="utf-8")
        manifest.invoices += 1
        manifest.rows += 1
        manifest.by_kind["company"] += 1
        if defect:
            manifest.defects[defect] += 1
    return manifest


def write_demo_assets(root: Path) -> dict[str, Manifest]:
    """(Re)write every committed demo file under ``root`` (normally ``assets/demo``)."""
    for old in (root / "no" / "peppol").glob("*.xml"):
        old.unlink()
    return {
        "se/unpaid_invoices.csv": write_se_csv(root / "se" / "unpaid_invoices.csv"),
        "no/unpaid_invoices.csv": write_no_csv(root / "no" / "unpaid_invoices.csv"),
        "no/peppol/": write_peppol_folder(root / "no" / "peppol"),
    }


if __name__ == "__main__":  # python -m tests.support.synthetic [assets/demo]
    import json
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "assets" / "demo"
    for name, m in write_demo_assets(target).items():
        print(name, json.dumps(m.summary(), ensure_ascii=False))
