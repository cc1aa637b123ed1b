"""The money ledger behind every case, in both markets.

The public case documents (Sweden's ``cases``, Norway's ``cases``/``invoices``) are only a view of a
:class:`Ledger`; every amount is kept here in integer minor units and copied out after each change, so
the documents can never disagree with each other. The identity every ledger keeps (property-tested)::

    claimed   = added capital + added costs (fees) + added interest
    claimed   = paid_direct + paid_to_agency + credited + cancelled + remaining

* ``paid_direct``     the debtor paid the creditor directly (SE creditor--payments, NO DIRECT_PAYMENT)
* ``paid_to_agency``  the debtor paid Amili (simulated by the lifecycle); this is the only money
                      that produces payout specifications (SE) / settlements (NO)
* ``paid_out``        what Amili passes on to the creditor from ``paid_to_agency``:
                      capital + interest (+ SE reminder fees) − commission − VAT on commission;
                      debt-collection / NO fees are kept by Amili. Always ``paid_out <= paid_to_agency``.
* ``credited``        creditor creditings (SE) / corrections (NO)
* ``cancelled``       what was written off by a cancellation (SE) / withdrawal (NO)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .money import pct_of, to_minor

DAY = 86400.0

# The orders in which money is applied to what remains on a case. A debtor's payment covers the
# collection costs first (that is how agencies get paid); a creditor's credit note reduces the debt
# itself first.
PAYMENT_ORDER = ("costs", "interest", "capital")
CREDIT_ORDER = ("capital", "interest", "costs")


@dataclass
class Ledger:
    market: str
    case_id: str
    seq: int
    creditor: str
    stage: str
    stage_entered: float
    capital_added: int = 0
    costs_added: int = 0
    interest_added: int = 0
    rem_capital: int = 0
    rem_interest: int = 0
    rem_fees: dict[str, int] = field(default_factory=dict)
    paid_direct: int = 0
    paid_agency: int = 0
    credited: int = 0
    cancelled: int = 0
    paid_out: int = 0
    is_open: bool = True
    paused: bool = False
    flow_started: bool = True
    first_stage: str = "invoice"
    next_stage_at: float | None = None
    interest_from: float | None = None
    pay_at: float | None = None
    pay_percent: int = 100
    respite_until: float | None = None
    paused_at: float | None = None

    @property
    def rem_costs(self) -> int:
        return sum(self.rem_fees.values())

    @property
    def remaining(self) -> int:
        return self.rem_capital + self.rem_interest + self.rem_costs

    @property
    def claimed(self) -> int:
        return self.capital_added + self.costs_added + self.interest_added

    def next_at(self) -> float:
        """When something next happens to this case by itself (stage change, payment, interest)."""
        if not self.is_open or self.paused or not self.flow_started:
            return math.inf
        cands = [self.next_stage_at, self.pay_at]
        if self.interest_from is not None and self.rem_capital > 0:
            cands.append(self.interest_from + self._posting)
        return min((c for c in cands if c is not None), default=math.inf)

    _posting: float = DAY * 30

    def add_fee(self, article: str, amount_major: float) -> None:
        minor = to_minor(amount_major)
        if minor <= 0:
            return
        self.rem_fees[article] = self.rem_fees.get(article, 0) + minor
        self.costs_added += minor

    def post_interest(self, at: float, rate_percent: float) -> None:
        """Add the yearly-rate interest on the remaining capital accrued since the last posting."""
        if self.interest_from is None or at <= self.interest_from:
            return
        if self.rem_capital > 0 and rate_percent > 0:
            days = (at - self.interest_from) / DAY
            amount = pct_of(self.rem_capital, rate_percent * days / 365.0)
            if amount > 0:
                self.rem_interest += amount
                self.interest_added += amount
        self.interest_from = at

    def allocate(self, amount: int, order: tuple[str, ...]) -> dict[str, int]:
        """Take up to ``amount`` from the remaining buckets in ``order``; returns what was taken.

        Fees are reported per article (``"fee:<article>"``) because Sweden passes reminder fees on to
        the creditor while Amili keeps the others.
        """
        taken: dict[str, int] = {}
        left = amount
        for bucket in order:
            if left <= 0:
                break
            if bucket == "capital":
                t = min(left, self.rem_capital)
                self.rem_capital -= t
            elif bucket == "interest":
                t = min(left, self.rem_interest)
                self.rem_interest -= t
            else:
                t = self._take_fees(left, taken)
            if t and bucket != "costs":
                taken[bucket] = t
            left -= t
        return taken

    def _take_fees(self, left: int, taken: dict[str, int]) -> int:
        fees_taken = 0
        for article in list(self.rem_fees):
            f = min(left - fees_taken, self.rem_fees[article])
            if f > 0:
                self.rem_fees[article] -= f
                taken["fee:" + article] = f
                fees_taken += f
        return fees_taken

    def write_off_everything(self) -> int:
        """Cancel what remains (SE cancellation, NO withdrawal); returns the amount written off."""
        amount = self.remaining
        self.cancelled += amount
        self.rem_capital = self.rem_interest = 0
        self.rem_fees = {k: 0 for k in self.rem_fees}
        return amount

    def stop(self) -> None:
        """The case is closed: nothing more happens to it by itself."""
        self.is_open = False
        self.next_stage_at = None
        self.pay_at = None
