"""The report people look at: one self-contained HTML page per run, the newest at a stable path.

``<reports>/report_<UTC time>.html`` for every run (the newest ``keep`` are kept) and
``<reports>/latest.html``: charts as inline SVG, tables, the files for the books. Nothing is
fetched (no scripts, fonts or images from anywhere; a Content-Security-Policy says so), so the
page opens the same from a mail attachment. Every text on it is masked by content.

:func:`markdown_summary` renders the same figures for the Dagster UI (asset metadata).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from amili_pipelines.books import charts
from amili_pipelines.books.files import write_atomically
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.warehouse import Warehouse

LATEST = "latest.html"
DEFAULT_KEEP = 30


def kr(value: Any) -> str:
    """1234567.5 -> '1 234 567.50' (the currency stands in its own column)."""
    if value is None:
        return ""
    return f"{Decimal(str(value)):,.2f}".replace(",", " ")


def _mask(value: Any) -> Any:
    return value if isinstance(value, Markup) else (mask_identity_numbers(value) if isinstance(value, str) else value)


_ENV = Environment(loader=PackageLoader("amili_pipelines.books", "templates"), autoescape=select_autoescape(["j2"]),
                   finalize=_mask, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["kr"] = kr


@dataclass
class ReportSummary:
    path: str = ""
    latest: str = ""
    as_of: str = ""
    charts: int = 0
    bytes: int = 0
    open_cases: int = 0
    discrepancies: int = 0
    seconds: float = 0.0
    markdown: str = ""

    def metadata(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "markdown"}


@dataclass
class Figures:
    """Everything the report shows, read once from the store."""

    as_of: date
    headline: list[dict[str, Any]]
    ageing: list[dict[str, Any]]
    cash: list[dict[str, Any]]
    collection: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    rejections: list[dict[str, Any]]
    discrepancies: list[dict[str, Any]]


def read_figures(warehouse: Warehouse, *, as_of: date) -> Figures:
    r = warehouse.reports
    return Figures(as_of=as_of, headline=r.headline(), ageing=r.ageing(as_of=as_of), cash=r.cash_by_month(),
                   collection=r.collection(), quarantine=r.quarantine_by_rule(), rejections=r.rejections_by_reason(),
                   discrepancies=r.discrepancies())


def _table(header: list[str], rows: list[list[Any]], text_columns: int) -> dict[str, Any]:
    return {"header": header, "rows": rows, "text_columns": text_columns}


def _charts(f: Figures) -> list[dict[str, Any]]:
    ageing_rows = [[r["bucket"], r["market"], r["creditor"], r["currency"], r["cases"], kr(r["remaining_capital"])]
                   for r in f.ageing]
    cash_rows = [[r["month"].strftime("%Y-%m"), r["creditor"], r["currency"], kr(r["capital"]), kr(r["interest"]),
                  kr(r["fees"]), kr(r["commission"]), kr(r["vat"]), kr(r["paid_out"])] for r in f.cash]
    coll_rows = [[r["creditor"], r["currency"], r["cases"], kr(r["claimed"]), kr(r["collected"]),
                  f"{r['collection_rate'] or 0:.1f} %", r["median_days_to_first_payment"] or "",
                  r["median_days_to_settled"] or ""] for r in f.collection]
    rule_rows = [[r["day"].isoformat(), "quarantine", r["rule"], r["invoices"]] for r in f.quarantine]
    rule_rows += [[r["day"].isoformat(), "rejected by Amili", r["reason"], r["invoices"]] for r in f.rejections]
    return [
        {"id": "ageing", "title": "Ageing of open claims", "svg": Markup(charts.ageing_chart(f.ageing)),
         "caption": f"Capital Amili still collects, by days past the invoice's due date on {f.as_of}.",
         "table": _table(["bucket", "market", "creditor", "currency", "cases", "open capital"], ageing_rows, 4)},
        {"id": "cash", "title": "Cash collected per month", "svg": Markup(charts.cash_chart(f.cash)),
         "caption": "Capital, interest and fees Amili collected per month of settlement; below zero what Amili "
                    "kept (commission and VAT); the line is what was paid out to the creditor.",
         "table": _table(["month", "creditor", "currency", "capital", "interest", "fees", "commission", "VAT",
                          "paid out"], cash_rows, 3)},
        {"id": "collection", "title": "Collection rate and time to payment",
         "svg": Markup(charts.collection_chart(f.collection)),
         "caption": "Share of the claimed capital collected (by Amili or paid directly), and the median days from "
                    "hand-over to a case's first payment and to its last (cases paid in full).",
         "table": _table(["creditor", "currency", "cases", "claimed", "collected", "rate", "days to first payment",
                          "days to paid in full"], coll_rows, 2)},
        {"id": "rejections", "title": "Quarantine and rejections over time",
         "svg": Markup(charts.rejections_chart(f.quarantine, f.rejections)),
         "caption": "Invoices our validation held back, by rule and the day the source was read; invoices Amili "
                    "refused, by Amili's reason and the day it answered.",
         "table": _table(["day", "stage", "rule or reason", "invoices"], rule_rows, 3)},
    ]


def _discrepancy_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for d in rows:
        key = (d["severity"], d["reason"], d["market"], d["creditor"])
        counts[key][0] += 1
        counts[key][1] += Decimal(str(d["amount"] or 0))
    return [{"severity": s, "reason": r, "market": m, "creditor": c, "findings": n, "amount": a}
            for (s, r, m, c), (n, a) in sorted(counts.items())]


def _files(creditors: CreditorsFile, books_dir: Path, reports_dir: Path) -> list[dict[str, Any]]:
    out = []
    for creditor in creditors.creditors:
        folder = books_dir / creditor.key
        found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) \
            if folder.exists() else []
        out.append({"creditor": creditor.key, "files": [
            {"name": str(p.relative_to(books_dir)), "href": Path(os.path.relpath(p, reports_dir)).as_posix(),
             "about": f"({p.stat().st_size:,} bytes)".replace(",", " ")} for p in found]})
    return out


def render_html(f: Figures, *, creditors: CreditorsFile, books_dir: Path, reports_dir: Path,
                generated: datetime) -> str:
    return _ENV.get_template("report.html.j2").render(
        as_of=f.as_of.isoformat(), generated=generated.strftime("%Y-%m-%d %H:%M"), headline=f.headline,
        charts=_charts(f), discrepancies=_discrepancy_counts(f.discrepancies), details=f.discrepancies[:50],
        files=_files(creditors, books_dir, reports_dir))


def markdown_summary(f: Figures, *, latest: Path) -> str:
    """The report's figures as markdown for the Dagster UI, with bars of block characters."""
    lines = [f"**Report**: [{latest}]({latest.resolve().as_uri()}) (open it in a browser), as of {f.as_of}", "",
             "| creditor | currency | cases | settled | claimed | paid out | remaining |", "|---|---|--:|--:|--:|--:|--:|"]
    lines += [f"| {r['creditor']} | {r['currency']} | {r['cases']} | {r['settled']} | {kr(r['claimed_capital'])} | "
              f"{kr(r['paid_out'])} | {kr(r['remaining_capital'])} |" for r in f.headline]
    largest = max((Decimal(str(r["remaining_capital"] or 0)) for r in f.ageing), default=Decimal(0))
    lines += ["", "**Ageing of open claims** (days past due)", "", "| bucket | creditor | cases | open capital | |",
              "|---|---|--:|--:|---|"]
    lines += [f"| {r['bucket']} | {r['creditor']} | {r['cases']} | {kr(r['remaining_capital'])} {r['currency']} | "
              f"{charts.bar_line(r['remaining_capital'] or 0, largest)} |" for r in f.ageing]
    largest = max((Decimal(str(r["capital"] or 0)) for r in f.cash), default=Decimal(0))
    lines += ["", "**Cash collected per month**", "", "| month | creditor | capital | interest | fees | paid out | |",
              "|---|---|--:|--:|--:|--:|---|"]
    lines += [f"| {r['month']:%Y-%m} | {r['creditor']} | {kr(r['capital'])} | {kr(r['interest'])} | {kr(r['fees'])} | "
              f"{kr(r['paid_out'])} {r['currency']} | {charts.bar_line(r['capital'] or 0, largest)} |" for r in f.cash]
    lines += ["", "**Collection rate and time to payment**", "",
              "| creditor | rate | median days to first payment | to paid in full | |", "|---|--:|--:|--:|---|"]
    lines += [f"| {r['creditor']} | {r['collection_rate'] or 0:.1f} % | {r['median_days_to_first_payment'] or ''} | "
              f"{r['median_days_to_settled'] or ''} | {charts.bar_line(r['collection_rate'] or 0, 100)} |"
              for r in f.collection]
    rules: dict[str, int] = defaultdict(int)
    for r in f.quarantine:
        rules[f"quarantine: {r['rule']}"] += int(r["invoices"])
    for r in f.rejections:
        rules[f"rejected: {r['reason']}"[:80]] += int(r["invoices"])
    lines += ["", "**Quarantine and rejections** (all days)", "", "| rule or reason | invoices |", "|---|--:|"]
    lines += [f"| {k.replace('|', '/')} | {n} |" for k, n in sorted(rules.items(), key=lambda kv: -kv[1])[:15]]
    return mask_identity_numbers("\n".join(lines)) or ""


def _prune(reports_dir: Path, keep: int) -> None:
    runs = sorted(reports_dir.glob("report_*.html"))
    for old in runs[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


def write_report(warehouse: Warehouse, *, creditors: CreditorsFile, reports_dir: str | Path, books_dir: str | Path,
                 as_of: date | None = None, keep: int = DEFAULT_KEEP) -> ReportSummary:
    """Write this run's report and replace ``latest.html`` with it (both in one step each)."""
    started = time.perf_counter()
    now = utcnow()
    as_of = as_of or now.date()
    reports, books = Path(reports_dir), Path(books_dir)
    figures = read_figures(warehouse, as_of=as_of)
    page = render_html(figures, creditors=creditors, books_dir=books, reports_dir=reports, generated=now)
    data = page.encode("utf-8")
    run = write_atomically(reports / f"report_{now:%Y%m%dT%H%M%S}Z.html", data)
    latest = write_atomically(reports / LATEST, data)
    _prune(reports, keep)
    return ReportSummary(path=str(run.path), latest=str(latest.path), as_of=as_of.isoformat(), charts=4,
                         bytes=len(data), open_cases=sum(int(r["cases"]) for r in figures.ageing),
                         discrepancies=len(figures.discrepancies), seconds=round(time.perf_counter() - started, 3),
                         markdown=markdown_summary(figures, latest=latest.path))
