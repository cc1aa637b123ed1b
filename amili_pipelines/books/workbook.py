"""The controllers' workbook: one Excel file per creditor and period, ready to send.

Sheets: *Summary* (the creditor's totals as of the period's end, and money per month of the
period), *Reconciliation* (every case), *Open cases* (with ageing bucket and days past due),
*Payouts* (money paid out in the period: per Swedish payout, per Norwegian settlement day) and
*Discrepancies*. Amounts are numbers shown in kr, headers are frozen, every table has filters.
Identity numbers are masked (the column by rule, every other text by content).

Periods are ``YYYY-MM`` (a month) or ``YYYY`` (a calendar year); a period still running is shown
up to the as-of day. Files: ``<books>/<creditor>/workbooks/<creditor>_<period>.xlsx``.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from amili_pipelines.books.files import Sheet, masked, write_atomically, xlsx_bytes
from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.masking import mask_id_number
from amili_pipelines.warehouse import Warehouse

_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_IDENTIFIERS = frozenset({"invoice_number", "case_id", "case_number", "line_id", "reference", "currency"})


class BadPeriod(ValueError):
    """Not ``YYYY-MM`` or ``YYYY``."""


def period_bounds(period: str) -> tuple[date, date]:
    m = _PERIOD.match(period)
    if not m:
        raise BadPeriod(f"period {period!r}: expected YYYY-MM (a month) or YYYY (a year)")
    year = int(m.group(1))
    if m.group(2):
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise BadPeriod(f"period {period!r}: no month {month}")
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return date(year, 1, 1), date(year, 12, 31)


def default_periods(as_of: date) -> list[str]:
    """The month and the year the as-of day falls in."""
    return [f"{as_of:%Y-%m}", f"{as_of:%Y}"]


@dataclass
class WorkbookSummary:
    as_of: str = ""
    files: list[str] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        out = asdict(self)
        out["files"] = "\n".join(self.files)
        return out


def _cells(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    out = []
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            if c == "customer_id_number":
                v = mask_id_number(v)
            elif isinstance(v, str) and c not in _IDENTIFIERS:
                v = masked(v)
            cells.append(v)
        out.append(cells)
    return out


def _sheet(title: str, rows: list[dict[str, Any]], columns: list[str], money: set[str], note: str) -> Sheet:
    return Sheet(title=title, header=[c.replace("_", " ") for c in columns], rows=_cells(rows, columns),
                 money_columns=frozenset(i for i, c in enumerate(columns) if c in money), note=note)


_MONEY = {"claimed_capital", "paid_principal", "paid_interest", "paid_fees", "commission", "vat", "paid_out",
          "paid_direct", "credited", "cancelled", "remaining_capital", "remaining_interest", "remaining_fees",
          "remaining_total", "capital", "interest", "fees", "amount"}


def workbook_bytes(warehouse: Warehouse, creditor: CreditorConfig, *, period: str, as_of: date) -> bytes:
    start, end = period_bounds(period)
    until = min(end, as_of)
    r = warehouse.reports
    head = f"{creditor.name} ({creditor.key}), period {start} – {end}"
    totals = [row for row in r.headline() if row["creditor"] == creditor.key]
    sheets = [
        _sheet("Summary", totals, ["currency", "cases", "open", "partly_paid", "settled", "closed_without_payment",
                                   "claimed_capital", "paid_principal", "paid_interest", "paid_fees", "commission",
                                   "vat", "paid_out", "paid_direct", "credited", "cancelled", "remaining_capital"],
               _MONEY, f"{head}: totals as of {as_of} (every case handed over so far)"),
        _sheet("Per month", r.cash_by_month(creditor=creditor.key, start=start, end=until),
               ["month", "currency", "capital", "interest", "fees", "commission", "vat", "paid_out"], _MONEY,
               f"{head}: money Amili collected per month of settlement, up to {until}"),
        _sheet("Reconciliation", r.reconciliation(creditor=creditor.key),
               ["invoice_number", "case_id", "currency", "status", "claimed_capital", "paid_principal",
                "paid_interest", "paid_fees", "commission", "vat", "paid_out", "paid_direct", "credited", "cancelled",
                "remaining_capital", "case_stage", "closed_reason", "discrepancy_count"], _MONEY,
               f"{head}: every case, claimed against what came back, as of {as_of}"),
        _sheet("Open cases", r.open_cases(creditor=creditor.key, as_of=until),
               ["bucket", "days_overdue", "invoice_number", "case_id", "case_number", "customer_name",
                "customer_id_number", "currency", "claimed_capital", "remaining_capital", "remaining_interest",
                "remaining_fees", "remaining_total", "case_stage", "case_status", "due_date"], _MONEY,
               f"{head}: cases Amili still collects, aged on {until} (identity numbers masked)"),
        _sheet("Payouts", r.payouts(creditor=creditor.key, start=start, end=until),
               ["payout_date", "reference", "status", "currency", "cases", "capital", "interest", "fees",
                "commission", "vat", "paid_out"], _MONEY,
               f"{head}: money paid out in the period, up to {until}"),
        _sheet("Discrepancies", r.discrepancies(creditor=creditor.key),
               ["severity", "reason", "invoice_number", "case_id", "line_id", "amount", "detail"], _MONEY,
               f"{head}: what does not add up, as of {as_of}"),
    ]
    return xlsx_bytes(sheets, stamp=as_of, title=f"{creditor.name}: Amili {period}")


def workbook_path(books_dir: Path, creditor: str, period: str) -> Path:
    return books_dir / creditor / "workbooks" / f"{creditor}_{period}.xlsx"


def write_workbooks(warehouse: Warehouse, *, creditors: CreditorsFile, books_dir: str | Path,
                    as_of: date | None = None, periods: list[str] | None = None) -> WorkbookSummary:
    """Write each creditor's workbook for ``periods`` (default: the as-of month and year)."""
    started = time.perf_counter()
    as_of = as_of or utcnow().date()
    periods = periods or default_periods(as_of)
    for p in periods:
        period_bounds(p)  # refuse a bad period before anything is written
    summary = WorkbookSummary(as_of=as_of.isoformat())
    for creditor in creditors.creditors:
        for period in periods:
            written = write_atomically(workbook_path(Path(books_dir), creditor.key, period),
                                       workbook_bytes(warehouse, creditor, period=period, as_of=as_of))
            summary.files.append(str(written.path))
            if written.changed:
                summary.written += 1
            else:
                summary.unchanged += 1
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
