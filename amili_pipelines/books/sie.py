"""SIE 4 import files (type 4I, verifications only): the Swedish standard every ledger reads.

The file is IBM PC 8-bit text (``#FORMAT PC8``, code page 437) with CRLF line ends. Each Amili
payout is one ``#VER`` with its ``#TRANS`` rows; amounts are positive for debit, negative for
credit, and every verification sums to zero. The verification number is left empty: in a 4I file
the importing program numbers the verifications in its own series. ``#KSUMMA`` is not written
(it is optional).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from amili_pipelines.domain.creditors import CreditorConfig

PROGRAM = ("amili-pipelines", "1.0")
ENCODING = "cp437"  # what "#FORMAT PC8" means


def quote(text: str) -> str:
    """A SIE string field: in quotes, inner quotes escaped, no control characters."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return '"' + clean.replace("\\", "/").replace('"', '\\"') + '"'


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def fiscal_year(day: date, start_month: int) -> tuple[date, date]:
    """The fiscal year (first day, last day) that ``day`` falls in."""
    first_year = day.year if day.month >= start_month else day.year - 1
    first = date(first_year, start_month, 1)
    nxt = date(first_year + 1, start_month, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def sie_bytes(creditor: CreditorConfig, verifications: Sequence[dict[str, Any]], *, export_day: date,
              batch: int) -> bytes:
    """One SIE 4I file holding ``verifications`` (as the journal stored them)."""
    ledger = creditor.books.ledger
    dates = [date.fromisoformat(v["date"]) for v in verifications]
    latest = max([export_day, *dates])
    current = fiscal_year(latest, ledger.fiscal_year_start_month)
    years = {current}
    years.update(fiscal_year(d, ledger.fiscal_year_start_month) for d in dates)
    names = {number: name for number, name in creditor.books.ledger.chart(creditor.market.value).values()}
    used = sorted({t[0] for v in verifications for t in v["transactions"]})
    lines = [
        "#FLAGGA 0",
        f"#PROGRAM {quote(PROGRAM[0])} {quote(PROGRAM[1])}",
        "#FORMAT PC8",
        f"#GEN {ymd(export_day)}",
        "#SIETYP 4",
        f"#PROSA {quote(f'Amili: utbetalningar, export {export_day.isoformat()} nr {batch}')}",
        f"#FNAMN {quote(creditor.name)}",
    ]
    if ledger.organization_number:
        lines.append(f"#ORGNR {quote(ledger.organization_number)}")
    for first, last in sorted(years, reverse=True):  # 0 = the newest year, -1 the one before, ...
        lines.append(f"#RAR {first.year - current[0].year} {ymd(first)} {ymd(last)}")
    lines.append("#VALUTA SEK")
    lines.extend(f"#KONTO {number} {quote(names.get(number, 'Amili'))}" for number in used)
    for v in verifications:
        lines.append(f"#VER {quote(ledger.series)} \"\" {ymd(date.fromisoformat(v['date']))} {quote(v['text'])} "
                     f"{ymd(export_day)}")
        lines.append("{")
        for account, amount in v["transactions"]:
            lines.append(f"   #TRANS {account} {{}} {Decimal(amount):.2f}")
        lines.append("}")
    return ("\r\n".join(lines) + "\r\n").encode(ENCODING, errors="replace")
