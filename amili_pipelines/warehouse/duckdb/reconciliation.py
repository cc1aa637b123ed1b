"""DuckDB: reconciliation per case (what we claimed against what came back) and its discrepancies.

Rebuilt as a whole from the stored facts (outbox, cases, settlement lines, case actions, source
balances) on every run, inside one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from amili_pipelines.warehouse.duckdb.connection import Session
from amili_pipelines.warehouse.duckdb.source_view import SOURCE_VIEW_SQL
from amili_pipelines.warehouse.reconciliation import Discrepancy, ReconciliationTotals

_RECONCILE_SQL = """
WITH reg AS (
    SELECT market, case_id, invoice_key, creditor, invoice_number, claimed_amount, currency
    FROM registration_outbox WHERE state = 'registered' AND case_id IS NOT NULL
),
base AS (
    SELECT coalesce(c.market, r.market) AS market, coalesce(c.case_id, r.case_id) AS case_id,
           coalesce(r.creditor, c.creditor) AS creditor, coalesce(r.invoice_key, c.invoice_key) AS invoice_key,
           coalesce(r.invoice_number, c.invoice_number) AS invoice_number,
           coalesce(c.currency, r.currency) AS currency,
           coalesce(r.claimed_amount, c.claimed_capital, 0) AS claimed_capital,
           c.claimed_capital AS amili_claimed_capital,
           c.remaining_capital AS amili_remaining_capital, c.state AS case_state,
           coalesce(c.is_closed, false) AS is_closed, c.closed_reason
    FROM cases c FULL OUTER JOIN reg r ON r.market = c.market AND r.case_id = c.case_id
),
money AS (
    SELECT market, case_id,
           sum(principal_amount) AS paid_principal, sum(interest_amount) AS paid_interest,
           sum(fee_amount) AS paid_fees, sum(commission_amount) AS commission, sum(vat_amount) AS vat,
           sum(payout_amount) AS paid_out
    FROM settlement_lines WHERE case_id IS NOT NULL GROUP BY ALL
),
acts AS (
    SELECT market, invoice_key,
           coalesce(sum(amount) FILTER (WHERE action = 'payment'), 0) AS paid_direct,
           coalesce(sum(amount) FILTER (WHERE action = 'crediting'), 0) AS credited
    FROM case_actions_outbox WHERE state IN ('sent', 'waiting_for_batch') GROUP BY ALL
),
joined AS (
    SELECT b.*, coalesce(m.paid_principal, 0) AS paid_principal, coalesce(m.paid_interest, 0) AS paid_interest,
           coalesce(m.paid_fees, 0) AS paid_fees, coalesce(m.commission, 0) AS commission,
           coalesce(m.vat, 0) AS vat, coalesce(m.paid_out, 0) AS paid_out,
           coalesce(a.paid_direct, 0) AS paid_direct, coalesce(a.credited, 0) AS credited
    FROM base b
    LEFT JOIN money m ON m.market = b.market AND m.case_id = b.case_id
    LEFT JOIN acts a ON a.market = b.market AND a.invoice_key = b.invoice_key
),
figures AS (
    SELECT *,
           greatest(claimed_capital - paid_principal - paid_direct - credited, 0) AS uncovered
    FROM joined
)
SELECT ?::DATE AS as_of, market, case_id, creditor, invoice_key, invoice_number, currency,
       claimed_capital, paid_principal, paid_interest, paid_fees, commission, vat, paid_out, paid_direct, credited,
       CASE WHEN is_closed AND closed_reason IN ('cancelled', 'withdrawn') THEN uncovered ELSE 0 END AS cancelled,
       CASE WHEN is_closed THEN 0 ELSE coalesce(amili_remaining_capital, uncovered) END AS remaining_capital,
       amili_remaining_capital, case_state, is_closed, closed_reason,
       CASE
           WHEN is_closed AND paid_principal + paid_direct = 0 THEN 'closed_without_payment'
           WHEN is_closed AND uncovered <= 0.005 THEN 'settled'
           WHEN paid_principal + paid_direct > 0 THEN 'partly_paid'
           WHEN is_closed THEN 'closed_without_payment'
           ELSE 'open'
       END AS status,
       0 AS discrepancy_count
FROM figures
"""

_INSERT = ("INSERT INTO reconciliation_discrepancies (as_of, market, reason, severity, case_id, invoice_key, creditor,"
           " line_id, amount, detail) ")

# 1. Amili paid out more capital than we claimed.
_PAID_OUT_EXCEEDS_CLAIMED = """
    SELECT as_of, market, 'paid_out_exceeds_claimed', 'error', case_id, invoice_key, creditor, NULL,
           paid_principal + paid_direct + credited - claimed_capital,
           format('claimed {:.2f} but principal paid out {:.2f} + paid directly {:.2f} + credited {:.2f}',
                  claimed_capital, paid_principal, paid_direct, credited)
    FROM reconciliation WHERE paid_principal + paid_direct + credited > claimed_capital + 0.005
"""
# 2. A settlement line we cannot tie to any case we registered or know.
_UNKNOWN_CASE = """
    SELECT ?::DATE, l.market, 'settlement_for_unknown_case', 'error', l.case_id, l.invoice_key, l.creditor, l.line_id,
           l.payout_amount,
           format('{} line {} (invoice {}, case {}) matches no known case', l.source, l.line_id,
                  coalesce(l.invoice_number, '?'), coalesce(l.case_id, l.case_number, '?'))
    FROM settlement_lines l
    WHERE l.case_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM reconciliation r WHERE r.market = l.market AND r.case_id = l.case_id)
       OR l.invoice_key IS NULL
"""
# 3. One invoice, two cases: the debtor is chased twice.
_TWO_CASES = """
    WITH all_cases AS (
        SELECT market, invoice_key, case_id FROM cases WHERE invoice_key IS NOT NULL
        UNION SELECT market, invoice_key, case_id FROM amili_registrations_seen
        UNION SELECT market, invoice_key, case_id FROM registration_outbox WHERE case_id IS NOT NULL
    )
    SELECT ?::DATE, market, 'invoice_with_two_cases', 'error', string_agg(case_id, ', ' ORDER BY case_id), invoice_key,
           split_part(invoice_key, '/', 1), NULL, NULL,
           format('invoice {} has {} cases at Amili', invoice_key, count(DISTINCT case_id))
    FROM all_cases GROUP BY market, invoice_key HAVING count(DISTINCT case_id) > 1
"""
# 4. Amili closed the case as paid/credited, but the source system still shows it unpaid, although
#    it was read at least the creditor's grace days after the closing (the money reaches the bank
#    with the next payout and the ERP books it from the feedback file; a source read before the case
#    closed cannot know). A closing date Amili did not give counts at once.
_CLOSED_BUT_SOURCE_UNPAID = f"""
    WITH src AS ({SOURCE_VIEW_SQL}),
    grace AS (SELECT unnest(?::VARCHAR[]) AS creditor, unnest(?::INTEGER[]) AS days)
    SELECT r.as_of, r.market, 'closed_but_source_unpaid', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           s.open_balance,
           format('case closed ({{}}) at Amili{{}} but the source still shows {{:.2f}} open as of {{}}',
                  coalesce(r.closed_reason, 'closed'), coalesce(' on ' || c.closed_at::DATE, ''),
                  s.open_balance, s.as_of)
    FROM reconciliation r JOIN src s ON s.invoice_key = r.invoice_key
    LEFT JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
    LEFT JOIN grace g ON g.creditor = r.creditor
    WHERE r.is_closed AND coalesce(r.closed_reason, '') NOT IN ('cancelled', 'withdrawn')
      AND s.present AND s.open_balance > 0.005
      AND (c.closed_at IS NULL OR s.as_of >= c.closed_at::DATE + coalesce(g.days, 0))
"""
# 5. Amili holds a different capital than we claimed, or its remaining capital disagrees with
#    claimed minus what came in.
_AMOUNTS_DO_NOT_MATCH = """
    SELECT as_of, r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           c.claimed_capital - r.claimed_capital,
           format('we claimed {:.2f} but Amili holds {:.2f} as the case capital', r.claimed_capital, c.claimed_capital)
    FROM reconciliation r JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
    WHERE c.claimed_capital IS NOT NULL AND abs(c.claimed_capital - r.claimed_capital) > 0.005
    UNION ALL
    SELECT as_of, r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited),
           format('Amili shows {:.2f} capital remaining; claimed {:.2f} less paid {:.2f} less direct {:.2f} '
                  'less credited {:.2f} is {:.2f}',
                  r.amili_remaining_capital, r.claimed_capital, r.paid_principal, r.paid_direct, r.credited,
                  r.claimed_capital - r.paid_principal - r.paid_direct - r.credited)
    FROM reconciliation r
    WHERE NOT r.is_closed AND r.amili_remaining_capital IS NOT NULL
      AND abs(r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited)) > 0.005
"""


class DuckDBReconciliationStore:
    def __init__(self, session: Session) -> None:
        self.db = session

    def rebuild(self, *, as_of: date, grace_days: Mapping[str, int] | None = None) -> None:
        """Recompute ``reconciliation`` and ``reconciliation_discrepancies`` from the stored facts."""
        grace = sorted((grace_days or {}).items())
        with self.db.transaction():
            self.db.execute("DELETE FROM reconciliation")
            self.db.execute("INSERT INTO reconciliation " + _RECONCILE_SQL, [as_of])
            self.db.execute("DELETE FROM reconciliation_discrepancies")
            self.db.execute(_INSERT + _PAID_OUT_EXCEEDS_CLAIMED)
            self.db.execute(_INSERT + _UNKNOWN_CASE, [as_of])
            self.db.execute(_INSERT + _TWO_CASES, [as_of])
            self.db.execute(_INSERT + _CLOSED_BUT_SOURCE_UNPAID, [[c for c, _ in grace], [d for _, d in grace]])
            self.db.execute(_INSERT + _AMOUNTS_DO_NOT_MATCH)
            self.db.execute(
                """
                UPDATE reconciliation r SET discrepancy_count = d.n
                FROM (SELECT market, case_id, count(*) AS n FROM reconciliation_discrepancies
                      WHERE case_id IS NOT NULL GROUP BY ALL) d
                WHERE d.market = r.market AND d.case_id = r.case_id
                """
            )

    def totals(self) -> ReconciliationTotals:
        t = ReconciliationTotals()
        t.cases_by_status = dict(self.db.execute("SELECT status, count(*) FROM reconciliation GROUP BY ALL").fetchall())
        for cur, claimed, paid, remaining in self.db.execute(
            "SELECT coalesce(currency, '?'), sum(claimed_capital), sum(paid_out), sum(remaining_capital) "
            "FROM reconciliation GROUP BY ALL ORDER BY 1"
        ).fetchall():
            t.money_by_currency[cur] = (Decimal(claimed), Decimal(paid), Decimal(remaining))
        for reason, severity, n in self.db.execute(
            "SELECT reason, severity, count(*) FROM reconciliation_discrepancies GROUP BY ALL"
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

