"""SQL that DuckDB and PostgreSQL both run as written: the reconciliation, and the source system's
current view of every invoice (read by reconciliation and by the back-to-Amili detection).

One text for both stores keeps the money rules in one place. What makes it portable: explicit
GROUP BY lists, ``CAST(... AS ...)`` rather than ``::``, ``concat`` rather than ``format``,
window functions rather than ``arg_max``, ``?`` placeholders (the PostgreSQL session rewrites
them). Amounts are DECIMAL(18, 2) in both, so ``CAST(x AS VARCHAR)`` prints two decimals in both.
"""

from __future__ import annotations

# (invoice_key, present, open_balance, total_amount, as_of, status): an invoice missing from its
# source's newest read is no longer in the source (paid or removed there) and shows 0 open.
SOURCE_VIEW_SQL = """
    WITH newest AS (SELECT source, max(partition_date) AS d FROM source_balances GROUP BY source),
    cur AS (
        SELECT b.invoice_key, b.source, b.partition_date, b.open_balance,
               CAST(NULL AS DECIMAL(18, 2)) AS total_amount, coalesce(b.is_unpaid, b.open_balance > 0) AS is_unpaid
        FROM source_balances b JOIN newest n ON n.source = b.source AND n.d = b.partition_date
    ),
    last_known AS (
        SELECT invoice_key, source, status FROM (
            SELECT invoice_key, source, status,
                   row_number() OVER (PARTITION BY invoice_key ORDER BY partition_date DESC, source) AS rn
            FROM source_balances
        ) ranked WHERE rn = 1
    )
    SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
           CASE WHEN cur.invoice_key IS NULL THEN 0 WHEN NOT cur.is_unpaid THEN 0 ELSE cur.open_balance END
               AS open_balance,
           cur.total_amount, n.d AS as_of, k.status
    FROM last_known k JOIN newest n ON n.source = k.source
    LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
"""

RECONCILE_SQL = """
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
    FROM settlement_lines WHERE case_id IS NOT NULL GROUP BY market, case_id
),
acts AS (
    SELECT market, invoice_key,
           coalesce(sum(amount) FILTER (WHERE action = 'payment'), 0) AS paid_direct,
           coalesce(sum(amount) FILTER (WHERE action = 'crediting'), 0) AS credited
    FROM case_actions_outbox WHERE state IN ('sent', 'waiting_for_batch') GROUP BY market, invoice_key
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
SELECT CAST(? AS DATE) AS as_of, market, case_id, creditor, invoice_key, invoice_number, currency,
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

INSERT_DISCREPANCY = ("INSERT INTO reconciliation_discrepancies (as_of, market, reason, severity, case_id, invoice_key,"
                      " creditor, line_id, amount, detail) ")


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


# 1. Amili paid out more capital than we claimed.
PAID_OUT_EXCEEDS_CLAIMED = f"""
    SELECT as_of, market, 'paid_out_exceeds_claimed', 'error', case_id, invoice_key, creditor, NULL,
           paid_principal + paid_direct + credited - claimed_capital,
           concat('claimed ', {_text('claimed_capital')}, ' but principal paid out ', {_text('paid_principal')},
                  ' + paid directly ', {_text('paid_direct')}, ' + credited ', {_text('credited')})
    FROM reconciliation WHERE paid_principal + paid_direct + credited > claimed_capital + 0.005
"""
# 2. A settlement line we cannot tie to any case we registered or know.
UNKNOWN_CASE = """
    SELECT CAST(? AS DATE), l.market, 'settlement_for_unknown_case', 'error', l.case_id, l.invoice_key, l.creditor,
           l.line_id, l.payout_amount,
           concat(l.source, ' line ', l.line_id, ' (invoice ', coalesce(l.invoice_number, 'unknown'), ', case ',
                  coalesce(l.case_id, l.case_number, 'unknown'), ') matches no known case')
    FROM settlement_lines l
    WHERE l.case_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM reconciliation r WHERE r.market = l.market AND r.case_id = l.case_id)
       OR l.invoice_key IS NULL
"""
# 3. One invoice, two cases: the debtor is chased twice.
TWO_CASES = """
    WITH all_cases AS (
        SELECT market, invoice_key, case_id FROM cases WHERE invoice_key IS NOT NULL
        UNION SELECT market, invoice_key, case_id FROM amili_registrations_seen
        UNION SELECT market, invoice_key, case_id FROM registration_outbox WHERE case_id IS NOT NULL
    )
    SELECT CAST(? AS DATE), market, 'invoice_with_two_cases', 'error', string_agg(case_id, ', ' ORDER BY case_id),
           invoice_key, split_part(invoice_key, '/', 1), NULL, NULL,
           concat('invoice ', invoice_key, ' has ', CAST(count(DISTINCT case_id) AS VARCHAR), ' cases at Amili')
    FROM all_cases GROUP BY market, invoice_key HAVING count(DISTINCT case_id) > 1
"""
# 4. Amili closed the case as paid/credited, but the source system still shows it unpaid, although
#    it was read at least the creditor's grace days after the closing (the money reaches the bank
#    with the next payout and the ERP books it from the feedback file; a source read before the case
#    closed cannot know). A closing date Amili did not give counts at once. Parameters: the
#    creditors and their grace days, as two lists.
CLOSED_BUT_SOURCE_UNPAID = f"""
    WITH src AS ({SOURCE_VIEW_SQL}),
    grace AS (SELECT unnest(CAST(? AS VARCHAR[])) AS creditor, unnest(CAST(? AS INTEGER[])) AS days)
    SELECT r.as_of, r.market, 'closed_but_source_unpaid', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           s.open_balance,
           concat('case closed (', coalesce(r.closed_reason, 'closed'), ') at Amili',
                  coalesce(' on ' || {_text('CAST(c.closed_at AS DATE)')}, ''), ' but the source still shows ',
                  {_text('s.open_balance')}, ' open as of ', {_text('s.as_of')})
    FROM reconciliation r JOIN src s ON s.invoice_key = r.invoice_key
    LEFT JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
    LEFT JOIN grace g ON g.creditor = r.creditor
    WHERE r.is_closed AND coalesce(r.closed_reason, '') NOT IN ('cancelled', 'withdrawn')
      AND s.present AND s.open_balance > 0.005
      AND (c.closed_at IS NULL OR s.as_of >= CAST(c.closed_at AS DATE) + coalesce(g.days, 0))
"""
# 5. Amili holds a different capital than we claimed, or its remaining capital disagrees with
#    claimed minus what came in.
AMOUNTS_DO_NOT_MATCH = f"""
    SELECT as_of, r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           c.claimed_capital - r.claimed_capital,
           concat('we claimed ', {_text('r.claimed_capital')}, ' but Amili holds ', {_text('c.claimed_capital')},
                  ' as the case capital')
    FROM reconciliation r JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
    WHERE c.claimed_capital IS NOT NULL AND abs(c.claimed_capital - r.claimed_capital) > 0.005
    UNION ALL
    SELECT as_of, r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited),
           concat('Amili shows ', {_text('r.amili_remaining_capital')}, ' capital remaining; claimed ',
                  {_text('r.claimed_capital')}, ' less paid ', {_text('r.paid_principal')}, ' less direct ',
                  {_text('r.paid_direct')}, ' less credited ', {_text('r.credited')}, ' is ',
                  {_text('r.claimed_capital - r.paid_principal - r.paid_direct - r.credited')})
    FROM reconciliation r
    WHERE NOT r.is_closed AND r.amili_remaining_capital IS NOT NULL
      AND abs(r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited)) > 0.005
"""
COUNT_DISCREPANCIES = """
    UPDATE reconciliation SET discrepancy_count = d.n
    FROM (SELECT market, case_id, count(*) AS n FROM reconciliation_discrepancies
          WHERE case_id IS NOT NULL GROUP BY market, case_id) d
    WHERE d.market = reconciliation.market AND d.case_id = reconciliation.case_id
"""
# (statement, its parameters: "as_of" the date, "grace" the creditors' grace days, None none), in order
DISCREPANCY_RULES = (
    (PAID_OUT_EXCEEDS_CLAIMED, None), (UNKNOWN_CASE, "as_of"), (TWO_CASES, "as_of"), (CLOSED_BUT_SOURCE_UNPAID, "grace"),
    (AMOUNTS_DO_NOT_MATCH, None),
)
