"""What the crash tests of the books share: a store with facts to export, the books run in a process
of its own (``books_worker``), and an ERP and a ledger that import the files as documented (the
manifest's entries of the one format they read, each file once, checked against its checksum)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.settings import PROJECT_ROOT
from amili_pipelines.warehouse import open_warehouse
from tests.support.records import entry, line, payout
from tests.support.sie import read_sie

DAY = date(2026, 6, 10)
SE = CreditorConfig(key="demo-se", name="Demo Sverige AB", market=Market.SE, account_id="a", creditor_id="c",
                    books={"erp_feedback": {"formats": ["csv", "xlsx"]}})
NO = CreditorConfig(key="demo-no", name="Demo Norge AS", market=Market.NO, organization_id="org-1",
                    books={"erp_feedback": {"formats": ["csv"]}})
CREDITORS = CreditorsFile(creditors=[SE, NO])
ERP_FORMAT = {"demo-se": "csv", "demo-no": "csv"}
LEDGER_FORMAT = {"demo-se": "si", "demo-no": "csv"}


def seed(db: Path, first: int, n: int) -> None:
    """Cases ``first``..``first+n-1``: each handed over, paid in a Swedish payout of its own, and a
    Norwegian settlement line of its own (settled before ``DAY``, so its day is complete)."""
    with open_warehouse(db) as wh:
        numbers = [f"S{i:03d}" for i in range(first, first + n)]
        wh.outbox.enqueue([entry(x) for x in numbers])
        wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{x}", OutboxState.REGISTERED, case_id=f"c-{x}")
                                   for x in numbers])
        lines, payouts = [], []
        for i, x in enumerate(numbers, start=first):
            se = line(f"l-{x}", f"c-{x}", "200.00", payout_id=f"p{i}", number=x)
            lines.append(dataclasses.replace(se, invoice_key=f"demo-se/{x}", creditor="demo-se"))
            payouts.append(dataclasses.replace(payout(f"p{i}", "175.00"), status="paid", creditor="demo-se",
                                               payout_reference=f"PO-{i}"))
            no = line(f"s-{x}", f"n-{x}", "100.00", market="NO", number=f"N{x}", settled=date(2026, 6, 1 + i % 5))
            lines.append(dataclasses.replace(no, invoice_key=f"demo-no/N{x}", creditor="demo-no"))
        wh.settlements.upsert_payouts(payouts)
        wh.settlements.upsert_lines(lines)


def run(db: Path, books: Path, day: date = DAY, kill_at: str | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "tests.books.books_worker", str(db), str(books), day.isoformat()]
    return subprocess.run([*args, *([kill_at] if kill_at else [])], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@dataclass
class Importer:
    """The creditor's ERP and ledger: every manifest entry of its format not yet imported, once, by
    name; a listed file whose bytes are not the manifest's is an error, not an import."""

    books: Path
    imported: dict[str, str] = field(default_factory=dict)  # "<creditor>/<folder>/<file>" -> sha256
    facts: Counter = field(default_factory=Counter)  # (creditor, kind, fact) -> times imported
    problems: list[str] = field(default_factory=list)

    def poll(self) -> None:
        for creditor in ("demo-se", "demo-no"):
            for folder, fmt in (("erp", ERP_FORMAT[creditor]), ("ledger", LEDGER_FORMAT[creditor])):
                self._poll(creditor, folder, fmt)

    def _poll(self, creditor: str, folder: str, fmt: str) -> None:
        where = self.books / creditor / folder
        if not (where / "manifest.json").exists():
            return
        for e in json.loads((where / "manifest.json").read_text(encoding="utf-8"))["files"]:
            name, path = f"{creditor}/{folder}/{e['file']}", where / e["file"]
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != e["sha256"]:
                self.problems.append(f"{name}: listed, but missing or not the listed bytes")
                continue
            if e["format"] != fmt:
                continue
            if name in self.imported:
                if self.imported[name] != e["sha256"]:
                    self.problems.append(f"{name}: changed after it was imported")
                continue
            self.imported[name] = e["sha256"]
            for fact in _facts(creditor, folder, e["kind"], path):
                self.facts[fact] += 1


def _facts(creditor: str, folder: str, kind: str, path: Path) -> list[tuple[str, str, str]]:
    if folder == "ledger" and path.suffix == ".si":
        return [(creditor, "verification", v.text) for v in read_sie(path).verifications]
    rows = _csv_rows(path)
    if folder == "ledger":
        return [(creditor, "verification", t) for t in sorted({r["Tekst"] for r in rows})]
    return [(creditor, kind, f"{r['invoice_number']}/{r['case_id']}") for r in rows]


def expected_facts(db: Path) -> Counter:
    """Every fact the store says was exported or booked, once."""
    with open_warehouse(db, read_only=True) as wh:
        rows = wh.connection.execute(
            "SELECT creditor, kind, CAST(row_json AS VARCHAR) FROM books_exports").fetchall()
    out: Counter = Counter()
    for creditor, kind, row_json in rows:
        row = json.loads(row_json)
        fact = row["text"] if kind == "verification" else f"{row['invoice_number']}/{row['case_id']}"
        out[(creditor, kind, fact)] += 1
    return out
