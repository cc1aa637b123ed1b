"""The demo's ERP: a copy of the demo exports under data/, and an import of the feedback files.

A real creditor's ERP imports the files the pipeline writes for it (``books/<creditor>/erp``):
money received via Amili lowers an invoice's open balance, a case closed without payment is
written off. The demo plays that ERP: its exports live in ``data/demo-erp`` (seeded from
``assets/demo``, which stays as committed), and :func:`import_feedback` books every new file of
the manifest into them, as the ERP would before the next extract reads them. Each file is
imported once (``data/demo-erp/imported.json``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from amili_pipelines.domain.books import FEEDBACK_FIELDS
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.sources.columns import resolve_columns

DEMO_ASSETS = PROJECT_ROOT / "assets" / "demo"
ERP_FOLDER = "demo-erp"
_ASSETS_PREFIX = "assets/demo/"


def prepare_demo_erp(data_dir: Path, *, fresh: bool = False) -> Path:
    """Seed ``data/demo-erp`` from ``assets/demo`` (first run, or ``--fresh``) and write the demo's
    creditors file there (the project's ``creditors.yaml`` with its demo paths pointing at the copy).
    Returns the creditors file's path."""
    target = data_dir / ERP_FOLDER
    if fresh and target.exists():
        shutil.rmtree(target)
    if not target.exists():
        shutil.copytree(DEMO_ASSETS, target)
    config = yaml.safe_load((PROJECT_ROOT / "creditors.yaml").read_text(encoding="utf-8"))
    for creditor in config.get("creditors", []):
        for source in creditor.get("sources", []):
            path = str(source.get("path", ""))
            if path.startswith(_ASSETS_PREFIX):
                source["path"] = path[len(_ASSETS_PREFIX):]
    creditors = target / "creditors.yaml"
    text = ("# Written by `make demo` from ../../creditors.yaml: the demo ERP's exports, as its ERP imports the\n"
            "# feedback files. Edit the project's creditors.yaml instead; this file is rewritten every run.\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    creditors.write_text(text, encoding="utf-8")
    return creditors


@dataclass
class ErpImport:
    files: list[str] = field(default_factory=list)
    payments: int = 0
    capital: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # currency -> capital booked
    invoices_paid_in_full: int = 0
    invoices_reduced: int = 0
    written_off: int = 0


def _amount(text: str, *, decimal: str, thousands: str | None) -> Decimal:
    clean = text.strip().replace("\u00a0", " ")
    if thousands:
        clean = clean.replace(thousands, "")
    return Decimal(clean.replace(decimal, ".") or "0")


def _format(value: Decimal, *, decimal: str, thousands: str | None) -> str:
    text = f"{value:,.2f}"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands or "")


def _read_feedback(creditor: CreditorConfig, path: Path, kind: str) -> list[dict[str, str]]:
    dialect = creditor.books.erp_feedback.dialect()
    names = {dialect.columns[f]: f for f in FEEDBACK_FIELDS[kind]}
    text = path.read_bytes().decode(dialect.encoding)
    return [{names.get(k, k): v for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text), delimiter=dialect.delimiter)]


def _what_the_erp_books(creditor: CreditorConfig, books_dir: Path, done: set[str],
                        result: ErpImport) -> tuple[dict[str, Decimal], set[str]]:
    """invoice -> capital received, and invoices to write off, from the feedback files not yet imported."""
    folder = books_dir / creditor.key / "erp"
    manifest = folder / "manifest.json"
    received: dict[str, Decimal] = defaultdict(Decimal)
    write_off: set[str] = set()
    if not manifest.exists():
        return received, write_off
    decimal = creditor.books.erp_feedback.dialect().decimal
    for entry in json.loads(manifest.read_text(encoding="utf-8"))["files"]:
        if entry.get("format") != "csv" or entry.get("kind") not in ("payments", "closed_without_payment"):
            continue
        key = f"{entry['file']}:{entry['sha256']}"
        if key in done:
            continue
        for row in _read_feedback(creditor, folder / entry["file"], entry["kind"]):
            if entry["kind"] == "payments":
                capital = _amount(row["capital"], decimal=decimal, thousands=None)
                received[row["invoice_number"]] += capital
                result.capital[row.get("currency") or "?"] += capital
                result.payments += 1
            else:
                write_off.add(row["invoice_number"])
        done.add(key)
        result.files.append(entry["file"])
    return received, write_off


def _book_csv(path: Path, source: Any, received: dict[str, Decimal], write_off: set[str]) -> dict[str, Decimal]:
    """Lower the open balance of every line of the invoices paid; invoice -> new open balance."""
    columns = resolve_columns(preset=source.column_preset, overrides=source.columns)
    raw = path.read_bytes().decode(source.encoding)
    newline = "\r\n" if "\r\n" in raw else "\n"
    rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter=source.delimiter))
    header = rows[0]
    number_at, balance_at = header.index(columns["invoice_number"]), header.index(columns["open_balance"])
    new_balance: dict[str, Decimal] = {}
    for row in rows[1:]:
        number = row[number_at] if len(row) > balance_at else None
        if number not in received and number not in write_off:
            continue
        if number not in new_balance:
            old = _amount(row[balance_at], decimal=source.decimal, thousands=source.thousands)
            new_balance[number] = Decimal(0) if number in write_off else max(old - received[number], Decimal(0))
        row[balance_at] = _format(new_balance[number], decimal=source.decimal, thousands=source.thousands)
    if new_balance:
        out = io.StringIO()
        csv.writer(out, delimiter=source.delimiter, lineterminator=newline).writerows(rows)
        path.write_bytes(out.getvalue().encode(source.encoding))
    return new_balance


_AMOUNT_ELEMENT = r"(<cbc:{name} currencyID=\"[A-Z]+\">)([0-9.]+)(</cbc:{name}>)"


def _book_peppol(path: Path, received: dict[str, Decimal], write_off: set[str]) -> dict[str, Decimal]:
    """The ERP re-exports a paid e-invoice with its prepaid and payable amounts brought up to date."""
    text = path.read_text(encoding="utf-8")
    number = re.search(r"<cbc:ID>([^<]+)</cbc:ID>", text)
    if not number or (number.group(1) not in received and number.group(1) not in write_off):
        return {}
    payable_re = re.compile(_AMOUNT_ELEMENT.format(name="PayableAmount"))
    prepaid_re = re.compile(_AMOUNT_ELEMENT.format(name="PrepaidAmount"))
    payable, prepaid = payable_re.search(text), prepaid_re.search(text)
    if not payable or not prepaid:
        return {}
    old = Decimal(payable.group(2))
    paid = old if number.group(1) in write_off else min(received[number.group(1)], old)
    text = payable_re.sub(lambda m: f"{m.group(1)}{old - paid:.2f}{m.group(3)}", text, count=1)
    text = prepaid_re.sub(lambda m: f"{m.group(1)}{Decimal(m.group(2)) + paid:.2f}{m.group(3)}", text, count=1)
    path.write_text(text, encoding="utf-8")
    return {number.group(1): old - paid}


def import_feedback(creditors: CreditorsFile, *, books_dir: Path, erp_dir: Path) -> ErpImport:
    """Book every feedback file not yet imported into the demo ERP's exports."""
    log_path = erp_dir / "imported.json"
    done = set(json.loads(log_path.read_text(encoding="utf-8"))) if log_path.exists() else set()
    result = ErpImport()
    for creditor in creditors.creditors:
        received, write_off = _what_the_erp_books(creditor, Path(books_dir), done, result)
        if not received and not write_off:
            continue
        balances: dict[str, Decimal] = {}
        for source in creditor.sources:
            if source.kind == "csv":
                for path in sorted(creditors.base_dir.glob(source.path)):
                    balances.update(_book_csv(path, source, received, write_off))
            elif source.kind == "peppol":
                for path in sorted(creditors.base_dir.glob(source.path)):
                    balances.update(_book_peppol(path, received, write_off))
        result.invoices_paid_in_full += sum(1 for b in balances.values() if b == 0)
        result.invoices_reduced += sum(1 for b in balances.values() if b > 0)
        result.written_off += len(write_off & set(balances))
    log_path.write_text(json.dumps(sorted(done), indent=1) + "\n", encoding="utf-8")
    return result
