"""The ledger: one verification per Amili payout, so nobody re-keys payouts by hand.

For every payout (Sweden: a paid bank transfer with its specification lines; Norway: the
settlements of one settlement day, booked once the day is over):

===================  ======  ================================================
account (role)       side    amount
===================  ======  ================================================
bank                 debit   what reached the bank (the payout)
commission           debit   Amili's commission (a cost)
input VAT            debit   the VAT on the commission (deductible)
receivables          credit  the capital collected (the invoices' open balance)
interest             credit  interest collected and passed on
fees                 credit  fees passed on (Swedish reminder fees)
rounding             either  Amili's payout total against its lines (at most ROUNDING_LIMIT)
===================  ======  ================================================

The verification balances by construction (paid out = capital + interest + fees - commission -
VAT) and is checked before it is stored. The books store keeps what each verification booked of
each line, and a verification is stored as booked: its file is rebuilt byte for byte. When Amili
changes a booked payout (a late line, a line corrected or moved), the difference is booked in a
follow-up verification dated the day it is booked (the payout's period may be closed); the bank
is debited with Amili's transfer once, a change of the transfer only by the change. A
verification that would fall in a period the creditor has closed (``books.closed_through``) is
dated the first open day and says so (``verifications_moved``, a line for a person). A Swedish
payout whose lines differ from its transfer by more than rounding (``ROUNDING_LIMIT``), or a line
in another currency than the ledger's, is not booked: the run names it (``payouts_held``, which
``alerts.attention`` turns into a line for a person). Sweden gets SIE 4I (``sie.py``); Norway the
same journal as CSV and Excel (SAF-T is out of scope).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from amili_pipelines.books.erp import may_assign
from amili_pipelines.books.files import Manifest, Sheet, csv_bytes, remove_leftovers, write_counted, xlsx_bytes
from amili_pipelines.books.sie import sie_bytes
from amili_pipelines.domain.books import ROUNDING_LIMIT, first_open_day
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.money import ZERO
from amili_pipelines.warehouse import Warehouse
from amili_pipelines.warehouse.books import LedgerLine


LEDGER_CURRENCY = {"SE": "SEK", "NO": "NOK"}


class UnbalancedVerification(ValueError):
    """A verification whose debits and credits differ: never written."""


@dataclass
class LedgerSummary:
    day: str = ""
    verifications: dict[str, int] = field(default_factory=dict)  # creditor -> new verifications
    booked: dict[str, str] = field(default_factory=dict)  # creditor -> paid out booked now (bank debit)
    held: list[str] = field(default_factory=list)  # payouts that cannot be booked as Amili reports them
    moved: list[str] = field(default_factory=list)  # verifications dated after the creditor's closed periods
    files_written: int = 0
    files_unchanged: int = 0
    files_rewritten: int = 0
    files_total: int = 0
    folders: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("verifications", "booked", "held", "moved")}
        out["folders"] = ", ".join(self.folders)
        out["payouts_held"] = len(self.held)
        if self.held:
            out["held"] = "; ".join(self.held)
        out["verifications_moved"] = len(self.moved)
        if self.moved:
            out["moved"] = "; ".join(self.moved)
        for creditor, n in sorted(self.verifications.items()):
            out[f"new_verifications_{creditor.replace('-', '_')}"] = n
        for creditor, amount in sorted(self.booked.items()):
            out[f"booked_{creditor.replace('-', '_')}"] = amount
        return out


def verification(creditor: CreditorConfig, lines: list[LedgerLine], *, bank: Decimal | None = None,
                 booked_on: date | None = None) -> dict[str, Any]:
    """The verification of one payout (its lines), as the journal stores and files show it.

    ``bank`` is what reached the bank (default: Amili's payout total, else the lines' sum).
    ``booked_on`` marks a follow-up of a payout booked before (a late line, or Amili corrected a
    booked line): it books the difference, dated the day it is booked, because the period of the
    payout may be closed and a ledger is corrected by a new verification, never by changing one.
    A verification whose own date is in a period the creditor closed (``books.closed_through``) is
    dated the first open day; its text says so and names the payout's date, and the stored row keeps
    its own date (``natural_date``): the accountant must see why it is not where its payout is.
    """
    chart = creditor.books.ledger.chart(creditor.market.value)
    first = lines[0]
    total = {name: sum((getattr(ln, name) for ln in lines), ZERO)
             for name in ("principal", "interest", "fees", "commission", "vat", "paid_out")}
    if bank is None:
        bank = first.payout_total if first.payout_total is not None else total["paid_out"]
    rows = [
        ("bank", bank), ("commission", total["commission"]), ("input_vat", total["vat"]),
        ("receivables", -total["principal"]), ("interest", -total["interest"]), ("fees", -total["fees"]),
        ("rounding", total["paid_out"] - bank),  # Amili's payout total against the sum of its lines
    ]
    transactions = [[chart[role][0], f"{amount:.2f}"] for role, amount in rows if amount != ZERO]
    if sum((Decimal(a) for _, a in transactions), ZERO) != ZERO:
        raise UnbalancedVerification(f"payout {first.payout_key} of {creditor.key} does not balance: {transactions}")
    natural = first.payout_date if booked_on is None else booked_on
    day = first_open_day(natural, creditor.books.closed_through)
    moved = day != natural
    if creditor.market.value == "SE":
        text = f"Amili utbetalning {first.payout_reference or first.payout_key}"
        if booked_on is not None or moved:  # the date the verification no longer carries
            text += f" {first.payout_date.isoformat()}"
        text += ", ändring" if booked_on is not None else ""
        text += ", bokförd i öppen period" if moved else ""
    else:
        text = f"Amili oppgjør {first.payout_date.isoformat()}"
        text += ", endring" if booked_on is not None else ""
        text += ", bokført i åpen periode" if moved else ""
    row = {"date": day.isoformat(), "text": text, "reference": first.payout_reference or "",
           "currency": first.currency or "", "lines": len(lines), "bank": f"{bank:.2f}",
           "transactions": transactions}
    if moved:  # only then: rows stored before this setting existed stay byte for byte what they were
        row["natural_date"] = natural.isoformat()
    return row


@dataclass(frozen=True)
class Booking:
    verifications: int
    bank: Decimal
    held: list[str]  # payouts not booked, each with why
    moved: list[str] = field(default_factory=list)  # verifications dated after the closed periods, each with its own date


def book_new_payouts(warehouse: Warehouse, creditor: CreditorConfig, day: date) -> Booking:
    """Book every payout not yet booked and every change to a booked one."""
    # Parallel runs (production profile): one at a time books a creditor's payouts.
    with warehouse.exclusive(f"books/{creditor.key}/ledger"):
        return _book_new_payouts(warehouse, creditor, day)


def _book_new_payouts(warehouse: Warehouse, creditor: CreditorConfig, day: date) -> Booking:
    if not may_assign(warehouse.books.last_export_day(creditor.key), day):
        return Booking(0, ZERO, [])
    market = creditor.market.value
    groups: dict[str, list[LedgerLine]] = defaultdict(list)
    for line in warehouse.books.unbooked_lines(creditor.key, market=market, complete_before=day):
        groups[line.payout_key].append(line)
    booked_bank: dict[str, Decimal] = defaultdict(Decimal)  # verification key (without #n) -> bank booked
    if groups:
        for e in warehouse.books.exported(creditor.key):
            if e.kind == "verification":
                booked_bank[e.item_key.split("#")[0]] += Decimal(e.row["bank"])
    new, held, moved = [], [], []
    bank = ZERO
    for payout_key, lines in groups.items():
        key = f"SE:{payout_key}" if market == "SE" else f"NO:{creditor.key}:{payout_key}"
        first = lines[0]
        follow_up = key in booked_bank
        foreign = sorted({ln.currency for ln in lines if ln.currency and ln.currency != LEDGER_CURRENCY[market]})
        if foreign:  # a journal in kronor never adds another currency's amounts to them
            held.append(f"{first.payout_reference or payout_key}: lines in {', '.join(foreign)}, the ledger "
                        f"is kept in {LEDGER_CURRENCY[market]}")
            continue
        paid = None
        if first.payout_total is not None:
            # The bank saw Amili's transfer once: a follow-up books only a change of that total.
            difference = (first.payout_lines_total if first.payout_lines_total is not None
                          else sum((ln.paid_out for ln in lines), ZERO)) - first.payout_total
            if abs(difference) > ROUNDING_LIMIT:
                held.append(f"{first.payout_reference or payout_key}: its lines pay out "
                            f"{first.payout_total + difference:.2f}, Amili's transfer is {first.payout_total:.2f}")
                continue
            paid = first.payout_total - booked_bank[key] if follow_up else first.payout_total
        elif follow_up:
            paid = sum((ln.paid_out for ln in lines), ZERO)
        v = verification(creditor, lines, bank=paid, booked_on=day if follow_up else None)
        bank += Decimal(v["bank"])
        new.append((key, v, lines))
        if "natural_date" in v:
            moved.append(f"{first.payout_reference or payout_key} of {v['natural_date']} dated {v['date']} "
                         f"(closed through {creditor.books.closed_through})")
    warehouse.books.record_verifications(creditor.key, market, day, new)
    return Booking(len(new), bank, held, moved)


def _journal_sheet(creditor: CreditorConfig, verifications: list[dict[str, Any]]) -> tuple[list[str], list[list]]:
    names = {number: name for number, name in creditor.books.ledger.chart(creditor.market.value).values()}
    header = ["Bilag", "Dato", "Konto", "Kontonavn", "Tekst", "Debet", "Kredit", "Valuta", "Referanse"]
    rows = []
    for n, v in enumerate(verifications, start=1):
        for account, amount in v["transactions"]:
            value = Decimal(amount)
            rows.append([n, date.fromisoformat(v["date"]), account, names.get(account, ""), v["text"],
                         value if value > 0 else None, -value if value < 0 else None, v["currency"], v["reference"]])
    return header, rows


def render(creditor: CreditorConfig, verifications: list[dict[str, Any]], *, ext: str, day: date,
           batch: int) -> bytes:
    if ext == "si":
        return sie_bytes(creditor, verifications, export_day=day, batch=batch)
    header, rows = _journal_sheet(creditor, verifications)
    if ext == "xlsx":
        return xlsx_bytes([Sheet(title="Bilag", header=header, rows=rows, money_columns=frozenset({5, 6}))],
                          stamp=day, title=f"{creditor.name}: Amili {day.isoformat()}")
    dialect = creditor.books.erp_feedback.dialect()

    def text(v: Any) -> Any:
        if isinstance(v, Decimal):
            return f"{v:.2f}".replace(".", dialect.decimal)
        return v.strftime(dialect.date_format) if isinstance(v, date) else v

    return csv_bytes(header, [[text(v) for v in r] for r in rows], delimiter=dialect.delimiter,
                     encoding=dialect.encoding)


def ledger_formats(creditor: CreditorConfig) -> list[str]:
    return ["si"] if creditor.market.value == "SE" else list(creditor.books.erp_feedback.formats)


def write_ledger(warehouse: Warehouse, *, creditors: CreditorsFile, books_dir: str | Path,
                 day: date | None = None) -> LedgerSummary:
    """Book every new Amili payout for ``day`` (default today) and (re)write the journal files."""
    started = time.perf_counter()
    day = day or utcnow().date()
    summary = LedgerSummary(day=day.isoformat())
    for creditor in creditors.creditors:
        booking = book_new_payouts(warehouse, creditor, day)
        if booking.verifications:
            summary.verifications[creditor.key] = booking.verifications
            summary.booked[creditor.key] = f"{booking.bank:.2f}"
        summary.held.extend(f"{creditor.key} {why}" for why in booking.held)
        summary.moved.extend(f"{creditor.key} {what}" for what in booking.moved)
        folder = Path(books_dir) / creditor.key / "ledger"
        # One run at a time reads the booked verifications and writes the folder's files and manifest:
        # a run that read them before another run booked more must not save its older manifest last.
        with warehouse.exclusive(f"books/{creditor.key}/ledger-files"):
            batches: dict[tuple[date, int], list[dict[str, Any]]] = defaultdict(list)
            for e in warehouse.books.exported(creditor.key):
                if e.kind == "verification":
                    batches[(e.export_day, e.batch)].append(e.row)
            if batches:
                _write_journal_files(creditor, batches, folder, day=day, summary=summary)
                summary.folders.append(str(folder))
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _write_journal_files(creditor: CreditorConfig, batches: dict[tuple[date, int], list[dict[str, Any]]],
                         folder: Path, *, day: date, summary: LedgerSummary) -> None:
    """(Re)write every batch's files that are missing, differ, or belong to ``day``; update the manifest."""
    remove_leftovers(folder)
    manifest = Manifest(folder)
    stem = "amili" if creditor.market.value == "SE" else "journal"
    for (export_day, batch), verifications in sorted(batches.items()):
        for ext in ledger_formats(creditor):
            path = folder / f"{creditor.key}_{stem}_{export_day.isoformat()}_{batch}.{ext}"
            summary.files_total += 1
            totals = {"bank": f"{sum((Decimal(v['bank']) for v in verifications), ZERO):.2f}"}
            manifest.check_same_rows(path, rows=len(verifications), totals=totals)
            if export_day != day and manifest.knows(path):
                summary.files_unchanged += 1
                continue
            written = write_counted(path, render(creditor, verifications, ext=ext, day=export_day, batch=batch), summary)
            manifest.add(written, kind="verifications", day=export_day.isoformat(), batch=batch, format=ext,
                         rows=len(verifications), totals=totals, of="ledger")
    manifest.save()
