"""Asset checks on the reconciliation: they fail when money is wrong.

Blocking ERROR checks: Amili paid out more capital than we claimed; a settlement line matches no
case we know; an invoice has two cases (the debtor is chased twice). The rest of the
discrepancies (case closed while the source still shows it unpaid, amounts that do not match
the case) are a WARN check: someone should look, nothing is provably lost.
"""

import dagster as dg

from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.reconcile.assets import RECONCILIATION
from amili_pipelines.defs.resources import WarehouseResource
from amili_pipelines.warehouse.reconciliation import WARNING_REASONS


def _check(warehouse: WarehouseResource, reasons: tuple[str, ...], severity: dg.AssetCheckSeverity,
           ok_text: str) -> dg.AssetCheckResult:
    with warehouse.open() as wh:
        found = wh.reconciliation.discrepancies(reasons)
    rows = ["| reason | market | invoice | case | line | amount | detail |", "|---|---|---|---|---|---|---|"]
    for d in found[:50]:
        cells = (d.reason, d.market, d.invoice_number, d.case_id, d.line_id, "" if d.amount is None else d.amount,
                 d.detail)
        rows.append("| " + " | ".join(str(v).replace("|", "/") for v in cells) + " |")
    return dg.AssetCheckResult(
        passed=not found,
        severity=severity,
        metadata={"discrepancies": len(found), "preview": dg.MetadataValue.md("\n".join(rows) if found else ok_text)},
    )


@dg.asset_check(
    asset=RECONCILIATION, blocking=True, pool=WRITER_POOL,
    description="Amili never paid out more capital for a case than we claimed (paid out + paid directly + credited ≤ claimed).",
)
def settlements_within_claimed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _check(warehouse, ("paid_out_exceeds_claimed",), dg.AssetCheckSeverity.ERROR,
                  "No case received more than was claimed.")


@dg.asset_check(
    asset=RECONCILIATION, blocking=True, pool=WRITER_POOL,
    description="Every settlement / payout line belongs to a case we registered.",
)
def settlements_for_known_cases(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _check(warehouse, ("settlement_for_unknown_case",), dg.AssetCheckSeverity.ERROR,
                  "Every settlement line matches a known case.")


@dg.asset_check(
    asset=RECONCILIATION, blocking=True, pool=WRITER_POOL,
    description="No invoice has two cases at Amili (the debtor would be chased twice).",
)
def no_invoice_with_two_cases(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _check(warehouse, ("invoice_with_two_cases",), dg.AssetCheckSeverity.ERROR,
                  "Every invoice has at most one case.")


@dg.asset_check(
    asset=RECONCILIATION, blocking=False, pool=WRITER_POOL,
    description="Cases closed while the source still shows the invoice unpaid, and amounts that do not match the case.",
)
def reconciliation_warnings(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _check(warehouse, WARNING_REASONS, dg.AssetCheckSeverity.WARN, "Nothing to look at.")


CHECKS = [settlements_within_claimed, settlements_for_known_cases, no_invoice_with_two_cases, reconciliation_warnings]

# The blocking ERROR checks. A job that writes the books (ERP feedback, ledger) without recomputing
# the reconciliation runs them too: blocking gates only the run it is part of, so without them the
# daily job would hand money figures to the creditor's ERP that the follow-up job just refused.
MONEY_GATES = [settlements_within_claimed, settlements_for_known_cases, no_invoice_with_two_cases]
