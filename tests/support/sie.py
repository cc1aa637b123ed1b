"""A reader for SIE 4 files, written from the format's rules (not from our writer): what an
importing ledger does with the file, and the checks an accountant would make."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

_TOKEN = re.compile(r'"((?:\\.|[^"\\])*)"|(\{[^}]*\})|(\S+)')


def tokens(line: str) -> list[str]:
    """Split a SIE line into fields: quoted strings (with \\" escapes), {object lists}, bare words."""
    out = []
    for quoted, objects, bare in _TOKEN.findall(line):
        if objects:
            out.append(objects)
        elif bare:
            out.append(bare)
        else:
            out.append(quoted.replace('\\"', '"'))
    return out


@dataclass
class Verification:
    series: str
    number: str
    day: date
    text: str
    registered: date | None
    transactions: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return sum((amount for _, amount in self.transactions), Decimal(0))


@dataclass
class SieFile:
    labels: dict[str, list[list[str]]]
    accounts: dict[str, str]
    years: dict[int, tuple[date, date]]
    verifications: list[Verification]

    def first(self, label: str) -> list[str]:
        return self.labels[label][0]


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def read_sie(path: Path) -> SieFile:
    raw = path.read_bytes()
    assert b"\r\n" in raw, "SIE lines end with CR LF"
    text = raw.decode("cp437")  # what #FORMAT PC8 promises; checked below
    labels: dict[str, list[list[str]]] = {}
    verifications: list[Verification] = []
    current: Verification | None = None
    in_block = False
    for line in text.split("\r\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "{":
            assert current is not None and not in_block, "a { without a #VER"
            in_block = True
            continue
        if stripped == "}":
            assert in_block, "a } without a {"
            in_block = False
            current = None
            continue
        assert stripped.startswith("#"), f"not a SIE record: {line!r}"
        fields = tokens(stripped)
        label, args = fields[0], fields[1:]
        if in_block:
            assert label == "#TRANS", f"only #TRANS inside a verification, found {label}"
            assert args[1].startswith("{"), "#TRANS account {objects} amount"
            assert re.fullmatch(r"-?\d+(\.\d{1,2})?", args[2]), f"amount {args[2]!r}"
            current.transactions.append((args[0], Decimal(args[2])))  # type: ignore[union-attr]
            continue
        labels.setdefault(label, []).append(args)
        if label == "#VER":
            series, number, day, text_ = args[:4]
            current = Verification(series, number, _day(day), text_, _day(args[4]) if len(args) > 4 else None)
            verifications.append(current)
    assert not in_block, "the file ends inside a verification"
    accounts = {a[0]: a[1] for a in labels.get("#KONTO", [])}
    years = {int(a[0]): (_day(a[1]), _day(a[2])) for a in labels.get("#RAR", [])}
    return SieFile(labels=labels, accounts=accounts, years=years, verifications=verifications)
