"""Is a claim's size believable for this creditor? A ceiling per creditor and an outlier warning.

A well-formed open balance of 99,999,999,999,999.99 SEK passes every rule about form; the
ceiling stops it (an error: a person confirms it and raises ``max_claim`` if it is real). The
outlier warning compares a claim with what the same creditor has claimed before: it does not
block, it tells the person reading the quarantine report where to look first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from amili_pipelines.domain.creditors import DEFAULT_MAX_CLAIM
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validation.rules import issue

# An outlier: more than OUTLIER_FACTOR times the creditor's 95th percentile of earlier claims,
# judged only once there are OUTLIER_MIN_HISTORY earlier claims (fewer say too little).
OUTLIER_FACTOR = Decimal(10)
OUTLIER_MIN_HISTORY = 30
PLAUSIBILITY_RULES = ("amount.open_balance.ceiling", "amount.open_balance.outlier")


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """What the plausibility rules read of one extracted invoice."""

    source: str
    creditor: str
    invoice_key: str
    location: str
    row: int
    open_balance: Decimal
    currency: str | None


@dataclass(frozen=True, slots=True)
class ClaimHistory:
    """A creditor's earlier claims (distinct invoices of earlier partitions that passed validation)."""

    invoices: int
    p95: Decimal | None

    def outlier_threshold(self) -> Decimal | None:
        if self.invoices < OUTLIER_MIN_HISTORY or self.p95 is None or self.p95 <= 0:
            return None
        return self.p95 * OUTLIER_FACTOR


def review_threshold(max_claim: Decimal, history: ClaimHistory | None) -> Decimal:
    """The smallest open balance that one of the rules could fire on (to read only those rows)."""
    outlier = history.outlier_threshold() if history else None
    return min(max_claim, outlier) if outlier is not None else max_claim


def plausibility_issues(
    rows: Sequence[ClaimRow],
    *,
    max_claims: Mapping[str, Decimal],
    history: Mapping[str, ClaimHistory],
) -> dict[int, list[Issue]]:
    """Index into ``rows`` -> its issues. ``max_claims`` and ``history`` are per creditor key."""
    out: dict[int, list[Issue]] = {}
    for i, r in enumerate(rows):
        found: list[Issue] = []
        ceiling = max_claims.get(r.creditor, DEFAULT_MAX_CLAIM)
        currency = f" {r.currency}" if r.currency else ""
        if r.open_balance > ceiling:
            found.append(issue("amount.open_balance.ceiling", r, "open_balance", r.open_balance,  # type: ignore[arg-type]
                               f"above the ceiling of {ceiling}{currency} for one claim of {r.creditor}; if it is "
                               f"real, raise 'max_claim' for {r.creditor} in the creditors file"))
        else:
            h = history.get(r.creditor)
            threshold = h.outlier_threshold() if h else None
            if h is not None and threshold is not None and r.open_balance > threshold:
                found.append(issue("amount.open_balance.outlier", r, "open_balance", r.open_balance,  # type: ignore[arg-type]
                                   f"more than {OUTLIER_FACTOR} times what {r.creditor} usually claims (95th "
                                   f"percentile {h.p95}{currency} over {h.invoices} earlier invoices); check it"))
        if found:
            out[i] = found
    return out
