"""Reconciliation: for every case, what we claimed against what came back, and what does not add up.

Per case (market + case id), with the creditor's invoice:

* claimed capital: what we handed over (registration outbox ``claimed_amount``; Amili's own
  figure when the case was registered elsewhere);
* paid out: principal, interest, fees, commission, VAT and the payout itself, summed over the
  settlement lines (Norwegian settlements, Swedish payout specifications);
* paid directly to the creditor and credited: what we reported back to Amili (actions outbox);
* cancelled: the capital still open when the case was cancelled or withdrawn;
* remaining: the capital Amili still chases (its own figure; zero once closed).

Status: ``open`` (nothing paid yet), ``partly_paid`` (some money in, case open, or closed short),
``settled`` (closed and fully covered by payments and credits), ``closed_without_payment``.
The figures are computed by the reconciliation store from every stored fact; discrepancies carry
a reason (see :mod:`amili_pipelines.warehouse.reconciliation`). A run recomputes only the cases
whose facts changed since the previous one; ``full=True`` rebuilds everything (same result).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.warehouse import Warehouse


@dataclass
class ReconciliationSummary:
    as_of: str = ""
    cases: int = 0
    open: int = 0
    partly_paid: int = 0
    settled: int = 0
    closed_without_payment: int = 0
    claimed: dict[str, str] = field(default_factory=dict)  # per currency
    paid_out: dict[str, str] = field(default_factory=dict)
    remaining: dict[str, str] = field(default_factory=dict)
    discrepancies: dict[str, int] = field(default_factory=dict)  # reason -> count
    errors: int = 0  # discrepancies that mean money is wrong
    mode: str = ""  # full | incremental
    mode_reason: str = ""
    cases_recomputed: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if not isinstance(v, dict)}
        for name in ("claimed", "paid_out", "remaining"):
            for cur, amount in getattr(self, name).items():
                out[f"{name}_{cur}"] = amount
        for reason, n in self.discrepancies.items():
            out[f"discrepancy_{reason}"] = n
        return out

    def render(self) -> str:
        currencies = sorted(set(self.claimed) | set(self.paid_out) | set(self.remaining)) or ["-"]
        lines = [
            f"Reconciliation as of {self.as_of}",
            f"  cases: {self.cases}  open: {self.open}  partly paid: {self.partly_paid}  "
            f"settled: {self.settled}  closed without payment: {self.closed_without_payment}",
            f"  {'currency':<9}{'claimed':>16}{'paid out':>16}{'remaining':>16}",
        ]
        for cur in currencies:
            lines.append(
                f"  {cur:<9}{self.claimed.get(cur, '0.00'):>16}{self.paid_out.get(cur, '0.00'):>16}"
                f"{self.remaining.get(cur, '0.00'):>16}"
            )
        if self.discrepancies:
            lines.append("  discrepancies: " + ", ".join(f"{k}={v}" for k, v in sorted(self.discrepancies.items())))
        else:
            lines.append("  discrepancies: none")
        if self.mode:
            lines.append(f"  {self.mode} run ({self.mode_reason}): {self.cases_recomputed} cases recomputed"
                         f" in {self.seconds:.2f} s")
        return "\n".join(lines)


def reconcile(warehouse: Warehouse, *, as_of: date | None = None,
              grace_days: Mapping[str, int] | None = None, full: bool = False) -> ReconciliationSummary:
    """Bring the reconciliation and its discrepancies up to date with the stored facts; summarise them.

    ``grace_days``: per creditor, the days its books get to show a case Amili closed as paid
    (``CreditorsFile.grace_days()``). ``full``: rebuild every case, not only the changed ones."""
    started = time.perf_counter()
    as_of = as_of or utcnow().date()
    with warehouse.exclusive("reconciliation"):  # one run at a time: each starts where the last one stopped
        run = warehouse.reconciliation.rebuild(as_of=as_of, grace_days=grace_days, full=full)
        totals = warehouse.reconciliation.totals()
    s = ReconciliationSummary(as_of=as_of.isoformat(), mode=run.mode, mode_reason=run.reason,
                              cases_recomputed=run.cases_recomputed)
    for status, n in totals.cases_by_status.items():
        setattr(s, status, n)
        s.cases += n
    for cur, (claimed, paid, remaining) in totals.money_by_currency.items():
        s.claimed[cur], s.paid_out[cur], s.remaining[cur] = str(claimed), str(paid), str(remaining)
    for (reason, severity), n in totals.discrepancies.items():
        s.discrepancies[reason] = s.discrepancies.get(reason, 0) + n
        if severity == "error":
            s.errors += n
    s.seconds = round(time.perf_counter() - started, 3)
    return s
