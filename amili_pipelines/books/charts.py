"""The report's charts as static SVG (matplotlib, no browser, no network, no fonts to fetch).

Text is drawn as paths, so the page looks the same on every machine; ids are salted with a
constant and no date is written, so the same figures give the same SVG.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from amili_pipelines.domain.books import AGEING_BUCKETS, UNKNOWN_BUCKET

_STYLE = {"svg.hashsalt": "amili-pipelines", "svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
          "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "axes.axisbelow": True}
_KIND_COLOURS = {"capital": "#1f6f8b", "interest": "#99a8b2", "fees": "#e6a157", "commission": "#c8553d",
                 "vat": "#f28f3b"}
_PALETTE = ["#1f6f8b", "#e6a157", "#5b8e7d", "#c8553d", "#8d6a9f", "#99a8b2", "#f2c14e", "#3d405b"]


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: no XML declaration, no DOCTYPE


def _figure(width: float = 7.5, height: float = 3.2) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _empty(fig: Figure, text: str) -> str:
    with matplotlib.rc_context(_STYLE):
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, text, ha="center", va="center", color="#666666")
    return _svg(fig)


def _f(value: Any) -> float:
    return float(value or 0)


def ageing_chart(rows: Sequence[dict[str, Any]]) -> str:
    """Open capital per ageing bucket, one bar per currency, with the number of cases on top."""
    fig = _figure()
    if not rows:
        return _empty(fig, "No open claims")
    buckets = [name for name, _ in AGEING_BUCKETS]
    if any(r["bucket"] == UNKNOWN_BUCKET for r in rows):
        buckets.append(UNKNOWN_BUCKET)
    currencies = sorted({r["currency"] or "?" for r in rows})
    money: dict[tuple[str, str], float] = defaultdict(float)
    cases: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        key = (r["bucket"], r["currency"] or "?")
        money[key] += _f(r["remaining_capital"])
        cases[key] += int(r["cases"])
    with matplotlib.rc_context(_STYLE):
        ax = fig.add_subplot()
        width = 0.8 / len(currencies)
        for i, cur in enumerate(currencies):
            xs = [b + i * width for b in range(len(buckets))]
            values = [money[(b, cur)] for b in buckets]
            bars = ax.bar(xs, values, width=width, label=cur, color=_PALETTE[i % len(_PALETTE)])
            for bar, b in zip(bars, buckets, strict=True):
                if cases[(b, cur)]:
                    ax.annotate(f"{cases[(b, cur)]}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks([b + 0.4 - width / 2 for b in range(len(buckets))], buckets)
        ax.set_xlabel("days past due")
        ax.set_ylabel("open capital")
        ax.yaxis.set_major_formatter(_thousands)
        ax.legend(frameon=False)
        ax.set_title("Open claims by days past due (number of cases on the bars)", loc="left")
    return _svg(fig)


def _thousands(value: float, _pos: int) -> str:
    return f"{value:,.0f}".replace(",", " ")


def cash_chart(rows: Sequence[dict[str, Any]]) -> str:
    """Money Amili collected per month, by kind (stacked), one panel per currency."""
    currencies = sorted({r["currency"] or "?" for r in rows})
    fig = _figure(height=3.0 * max(len(currencies), 1))
    if not rows:
        return _empty(fig, "No money collected yet")
    with matplotlib.rc_context(_STYLE):
        axes = fig.subplots(len(currencies), 1, squeeze=False)[:, 0]
        for ax, cur in zip(axes, currencies, strict=True):
            months = sorted({r["month"] for r in rows if (r["currency"] or "?") == cur})
            per: dict[tuple[date, str], float] = defaultdict(float)
            for r in rows:
                if (r["currency"] or "?") == cur:
                    for kind in ("capital", "interest", "fees", "commission", "vat", "paid_out"):
                        per[(r["month"], kind)] += _f(r[kind])
            labels = [m.strftime("%Y-%m") for m in months]
            bottom = [0.0] * len(months)
            for kind in ("capital", "interest", "fees"):
                values = [per[(m, kind)] for m in months]
                ax.bar(labels, values, bottom=bottom, label=kind, color=_KIND_COLOURS[kind])
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            kept = [-(per[(m, "commission")] + per[(m, "vat")]) for m in months]
            ax.bar(labels, kept, label="commission + VAT (kept by Amili)", color=_KIND_COLOURS["commission"])
            ax.plot(labels, [per[(m, "paid_out")] for m in months], color="#222222", marker="o", label="paid out")
            ax.axhline(0, color="#444444", linewidth=0.8)
            ax.yaxis.set_major_formatter(_thousands)
            ax.set_ylabel(cur)
            ax.set_title(f"Collected per month by kind ({cur})", loc="left")
            ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def collection_chart(rows: Sequence[dict[str, Any]]) -> str:
    """Per creditor: share of the claimed capital collected, and days to the first and last payment."""
    fig = _figure(height=3.0)
    if not rows:
        return _empty(fig, "No cases yet")
    labels = [f"{r['creditor']} ({r['currency']})" for r in rows]
    with matplotlib.rc_context(_STYLE):
        left, right = fig.subplots(1, 2)
        rates = [_f(r["collection_rate"]) for r in rows]
        left.barh(labels, rates, color=_PALETTE[0])
        for y, rate in enumerate(rates):
            left.annotate(f"{rate:.1f} %", (rate, y), va="center", xytext=(3, 0), textcoords="offset points",
                          fontsize=7)
        left.set_xlim(0, 110)
        left.set_title("Collection rate (capital)", loc="left")
        ys = range(len(rows))
        first = [_f(r["median_days_to_first_payment"]) for r in rows]
        settled = [_f(r["median_days_to_settled"]) for r in rows]
        right.barh([y + 0.2 for y in ys], first, height=0.4, label="to first payment", color=_PALETTE[1])
        right.barh([y - 0.2 for y in ys], settled, height=0.4, label="to paid in full", color=_PALETTE[2])
        right.set_yticks(list(ys), labels)
        right.set_xlabel("median days from hand-over")
        right.set_title("Time to payment", loc="left")
        right.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.18), ncols=2)
    return _svg(fig)


def _stacked_days(ax: Any, rows: Iterable[dict[str, Any]], key: str, title: str, *, top: int = 7) -> None:
    per: dict[tuple[date, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        per[(r["day"], r[key])] += int(r["invoices"])
        totals[r[key]] += int(r["invoices"])
    keep = [k for k, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    days = sorted({d for d, _ in per})
    labels = [d.isoformat() for d in days]
    bottom = [0] * len(days)
    series = [(k, [per[(d, k)] for d in days]) for k in keep]
    others = [sum(n for (d2, k), n in per.items() if d2 == d and k not in keep) for d in days]
    if any(others):
        series.append(("other", others))
    for i, (name, values) in enumerate(series):
        ax.bar(labels, values, bottom=bottom, label=name[:60], color=_PALETTE[i % len(_PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title, loc="left")
    ax.set_ylabel("invoices")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def rejections_chart(quarantine: Sequence[dict[str, Any]], rejections: Sequence[dict[str, Any]]) -> str:
    """Invoices held back by our rules and refused by Amili, per day, by rule / reason."""
    fig = _figure(width=9.0, height=5.2)
    if not quarantine and not rejections:
        return _empty(fig, "Nothing quarantined or rejected")
    with matplotlib.rc_context(_STYLE):
        top, bottom = fig.subplots(2, 1)
        if quarantine:
            _stacked_days(top, quarantine, "rule", "Quarantined by our validation, by rule (day read)")
        else:
            top.axis("off")
            top.text(0.5, 0.5, "Nothing quarantined", ha="center")
        if rejections:
            _stacked_days(bottom, rejections, "reason", "Rejected by Amili, by reason (day of the answer)")
        else:
            bottom.axis("off")
            bottom.text(0.5, 0.5, "Nothing rejected by Amili", ha="center")
    return _svg(fig)


def bar_line(value: Decimal | float, largest: Decimal | float, width: int = 24) -> str:
    """A bar of block characters for a markdown table (the same charts in the Dagster UI)."""
    if not largest:
        return ""
    n = round(width * float(value) / float(largest))
    return "█" * max(n, 1 if value else 0)
