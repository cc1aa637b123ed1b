"""Reconciliation per case (what we claimed against what came back) and its discrepancies.

Rebuilt as a whole from the stored facts (outbox, cases, settlement lines, case actions, source
balances) on every run, inside one transaction, by the same SQL in both databases
(:mod:`amili_pipelines.warehouse.common.reconcile_sql`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.common.reconcile_sql import (
    COUNT_DISCREPANCIES,
    DISCREPANCY_RULES,
    INSERT_DISCREPANCY,
    RECONCILE_SQL,
)
from amili_pipelines.warehouse.reconciliation import Discrepancy, ReconciliationTotals


class SqlReconciliationStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def rebuild(self, *, as_of: date, grace_days: Mapping[str, int] | None = None) -> None:
        """Recompute ``reconciliation`` and ``reconciliation_discrepancies`` from the stored facts."""
        grace = sorted((grace_days or {}).items())
        params = {None: None, "as_of": [as_of], "grace": [[c for c, _ in grace], [d for _, d in grace]]}
        with self.db.transaction():
            self.db.execute("DELETE FROM reconciliation")
            self.db.execute("INSERT INTO reconciliation " + RECONCILE_SQL, [as_of])
            self.db.execute("DELETE FROM reconciliation_discrepancies")
            for rule, needs in DISCREPANCY_RULES:
                self.db.execute(INSERT_DISCREPANCY + rule, params[needs])
            self.db.execute(COUNT_DISCREPANCIES)

    def totals(self) -> ReconciliationTotals:
        t = ReconciliationTotals()
        t.cases_by_status = dict(self.db.execute("SELECT status, count(*) FROM reconciliation GROUP BY status").fetchall())
        for cur, claimed, paid, remaining in self.db.execute(
            "SELECT coalesce(currency, '?'), sum(claimed_capital), sum(paid_out), sum(remaining_capital) "
            "FROM reconciliation GROUP BY coalesce(currency, '?') ORDER BY 1"
        ).fetchall():
            t.money_by_currency[cur] = (Decimal(claimed), Decimal(paid), Decimal(remaining))
        for reason, severity, n in self.db.execute(
            "SELECT reason, severity, count(*) FROM reconciliation_discrepancies GROUP BY reason, severity"
        ).fetchall():
            t.discrepancies[(reason, severity)] = int(n)
        return t

    def discrepancies(self, reasons: Sequence[str]) -> list[Discrepancy]:
        """The current discrepancies with these reasons, ordered for a person to read."""
        marks = ", ".join("?" for _ in reasons)
        rows = self.db.execute(
            f"""SELECT reason, market, coalesce(split_part(invoice_key, '/', 2), ''), coalesce(case_id, ''),
                       coalesce(line_id, ''), amount, detail
                FROM reconciliation_discrepancies WHERE reason IN ({marks})
                ORDER BY reason, market, invoice_key, line_id""",
            list(reasons),
        ).fetchall()
        return [Discrepancy(*r) for r in rows]

