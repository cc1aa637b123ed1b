"""Valid invoices made up for registration tests (the sources are tested elsewhere)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    Market,
    SourceInvoice,
)
from tests.support.synthetic import no_fodselsnummer, se_orgnr, se_personnummer


def make_invoices(market: Market, n: int, *, seed: int = 7, prefix: str = "REL") -> list[SourceInvoice]:
    rng = random.Random(seed)
    creditor = "demo-se" if market is Market.SE else "demo-no"
    out = []
    for i in range(n):
        units = Decimal(rng.randint(1, 4))
        price = Decimal(rng.randint(100, 5000))
        net = units * price
        gross = (net * Decimal("1.25")).quantize(Decimal("0.01"))
        company = market is Market.SE and i % 5 == 0
        if market is Market.SE:
            id_number = se_orgnr(rng) if company else se_personnummer(rng)
        else:
            id_number = no_fodselsnummer(rng)
        invoice_date = date(2026, 6, 1) + timedelta(days=rng.randint(0, 60))
        out.append(SourceInvoice(
            source="generated", location="tests/registration", row=i + 1, creditor=creditor, market=market,
            invoice_number=f"{prefix}-{market.value}-{i:05d}", invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=30), currency="SEK" if market is Market.SE else "NOK",
            total_amount=gross, open_balance=gross, vat_amount=gross - net,
            customer_kind=CustomerKind.COMPANY if company else CustomerKind.PERSON,
            customer_name=f"Kund {i} AB" if company else f"Test Person {i}",
            customer_first_name=None if company else "Test", customer_last_name=None if company else f"Person {i}",
            customer_number=f"C{i:05d}", customer_id_number=id_number,
            customer_email=f"kund{i}@example.se", customer_phone="+46701234567" if market is Market.SE else "+4791234567",
            customer_address=Address(line1=f"Gatan {i}", zip_code="11122" if market is Market.SE else "0150",
                                     city="Stockholm" if market is Market.SE else "Oslo", country=market.value),
            lines=(InvoiceLine(description="Service", unit_price=price, units=units, total_excl_vat=net,
                               vat_percent=Decimal(25)),),
            content_hash=f"h{i}",
        ))
    return out
