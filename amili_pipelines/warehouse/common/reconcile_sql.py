"""SQL that DuckDB and PostgreSQL both run as written: the reconciliation, and the source system's
current view of every invoice (the definition that the reconciliation's source rule and the
back-to-Amili detection each compute over a bounded part of the history, checked against it in
tests/warehouse/test_reconciliation_incremental.py).

One text for both stores keeps the money rules in one place. What makes it portable: explicit
GROUP BY lists, ``CAST(... AS ...)`` rather than ``::``, ``concat`` rather than ``format``,
window functions rather than ``arg_max``, ``?`` placeholders (the PostgreSQL session rewrites
them). Amounts are DECIMAL(18, 2) in both, so ``CAST(x AS VARCHAR)`` prints two decimals in both.

Every statement below is written once and run in one of two scopes (:func:`scope`): everything (a
full rebuild), or only the cases, lines and invoices whose inputs changed (an incremental run:
the scope joins the temporary key tables ``_rc_cases``, ``_rc_lines``, ``_rc_invoices``). The same
text in both scopes is what makes an incremental run equal to a full rebuild.
"""

from __future__ import annotations

from typing import NamedTuple



def last_known(reads: str) -> str:
    """Each invoice's row in its newest read among ``reads`` (a tie: the first source by name), with
    the source and the status that read gave: its last word at the source."""
    return f"""
        SELECT invoice_key, source, status FROM (
            SELECT invoice_key, source, status,
                   row_number() OVER (PARTITION BY invoice_key ORDER BY partition_date DESC, source) AS rn
            FROM {reads}
        ) ranked WHERE rn = 1"""


# (invoice_key, present, open_balance, total_amount, as_of, status): an invoice missing from its
# source's newest read is no longer in the source (paid or removed there) and shows 0 open.
SOURCE_VIEW_SQL = f"""
    WITH newest AS (SELECT source, max(partition_date) AS d FROM source_balances GROUP BY source),
    cur AS (
        SELECT b.invoice_key, b.source, b.partition_date, b.open_balance,
               CAST(NULL AS DECIMAL(18, 2)) AS total_amount, coalesce(b.is_unpaid, b.open_balance > 0) AS is_unpaid
        FROM source_balances b JOIN newest n ON n.source = b.source AND n.d = b.partition_date
    ),
    last_known AS ({last_known("source_balances")})
    SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
           CASE WHEN cur.invoice_key IS NULL THEN 0 WHEN NOT cur.is_unpaid THEN 0 ELSE cur.open_balance END
               AS open_balance,
           cur.total_amount, n.d AS as_of, k.status
    FROM last_known k JOIN newest n ON n.source = k.source
    LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
"""


def _by_case(alias: str) -> str:
    return f"JOIN _rc_cases s_ ON s_.market = {alias}.market AND s_.case_id = {alias}.case_id"


def scope(*, incremental: bool) -> dict[str, str]:
    """The template fields of every statement: empty for a full rebuild, joins on the key tables else."""
    if not incremental:
        return {"results": "reconciliation_cases",
                **{k: "" for k in ("cases_c", "cases_o", "cases_l", "lines_l", "inv_r", "inv_rc", "inv_s", "inv_o",
                                   "acts")}}
    return {
        # The rules read the rows just computed for the cases in scope (the same rows the table now holds).
        "results": "_rc_new",
        "cases_c": _by_case("c"), "cases_o": _by_case("o"), "cases_l": _by_case("l"),
        "lines_l": "JOIN _rc_lines s_ ON s_.market = l.market AND s_.line_id = l.line_id",
        "inv_r": "JOIN _rc_invoices s_ ON s_.market = r.market AND s_.invoice_key = r.invoice_key",
        "inv_rc": "JOIN _rc_invoices s_ ON s_.market = r.market AND s_.invoice_key = r.case_invoice_key",
        "inv_s": "JOIN _rc_invoices s_ ON s_.market = s.market AND s_.invoice_key = s.invoice_key",
        "inv_o": "JOIN _rc_invoices s_ ON s_.market = o.market AND s_.invoice_key = o.invoice_key",
        "acts": "JOIN (SELECT DISTINCT market, invoice_key FROM base) k_ ON k_.market = a.market"
                " AND k_.invoice_key = a.invoice_key",
    }


CASE_COLUMNS = ("market, case_id, creditor, invoice_key, invoice_number, currency, claimed_capital, paid_principal,"
                " paid_interest, paid_fees, commission, vat, paid_out, paid_direct, credited, cancelled,"
                " remaining_capital, amili_remaining_capital, case_state, is_closed, closed_reason, status,"
                " amili_claimed_capital, closed_at, case_invoice_key")

# One row per case (market + case id): what we claimed against what came back. Amili's own claimed
# capital and closing time ride along for the rules below (they are not shown in the view), and so
# does the invoice Amili's case names where it differs from the one we registered under that case
# id (case_invoice_key, for the two-cases check).
FIGURES = """
WITH reg AS (
    SELECT o.market, o.case_id, o.invoice_key, o.creditor, o.invoice_number, o.claimed_amount, o.currency
    FROM registration_outbox o {cases_o} WHERE o.state = 'registered' AND o.case_id IS NOT NULL
),
base AS (
    SELECT coalesce(c.market, r.market) AS market, coalesce(c.case_id, r.case_id) AS case_id,
           coalesce(r.creditor, c.creditor) AS creditor, coalesce(r.invoice_key, c.invoice_key) AS invoice_key,
           coalesce(r.invoice_number, c.invoice_number) AS invoice_number,
           coalesce(c.currency, r.currency) AS currency,
           coalesce(r.claimed_amount, c.claimed_capital, 0) AS claimed_capital,
           c.claimed_capital AS amili_claimed_capital, c.closed_at,
           c.remaining_capital AS amili_remaining_capital, c.state AS case_state,
           coalesce(c.is_closed, false) AS is_closed, c.closed_reason,
           CASE WHEN r.invoice_key <> c.invoice_key THEN c.invoice_key END AS case_invoice_key
    FROM (SELECT c.* FROM cases c {cases_c}) c FULL OUTER JOIN reg r ON r.market = c.market AND r.case_id = c.case_id
),
money AS (
    SELECT l.market, l.case_id,
           sum(l.principal_amount) AS paid_principal, sum(l.interest_amount) AS paid_interest,
           sum(l.fee_amount) AS paid_fees, sum(l.commission_amount) AS commission, sum(l.vat_amount) AS vat,
           sum(l.payout_amount) AS paid_out
    FROM settlement_lines l {cases_l} WHERE l.case_id IS NOT NULL GROUP BY l.market, l.case_id
),
acts AS (
    SELECT a.market, a.invoice_key,
           coalesce(sum(a.amount) FILTER (WHERE a.action = 'payment'), 0) AS paid_direct,
           coalesce(sum(a.amount) FILTER (WHERE a.action = 'crediting'), 0) AS credited
    FROM case_actions_outbox a {acts}
    WHERE a.state IN ('sent', 'waiting_for_batch') GROUP BY a.market, a.invoice_key
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
SELECT market, case_id, creditor, invoice_key, invoice_number, currency,
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
       amili_claimed_capital, closed_at, case_invoice_key
FROM figures
"""

# A full rebuild writes only the rows that differ from what is stored (writing a million rows costs
# DuckDB several times the joins that compute them). New and stored rows are matched on the case key
# and the fingerprint of every column (SqlSession.fingerprint), so no column is compared twice; a
# row on one side only is new or changed (insert it) or gone or changed (delete it). Matching whole
# rows keeps this exact when two invoices were registered to one case (two rows, one key).
# Template fields: the fingerprinted FIGURES.
FULL_DIFF = """
    CREATE TEMP TABLE _rc_diff AS
    SELECT r.market AS old_market, r.case_id AS old_case_id, r.fingerprint AS old_fingerprint, f.*
    FROM ({figures}) f
    FULL OUTER JOIN (SELECT market, case_id, fingerprint FROM reconciliation_cases) r
        ON r.market = f.market AND r.case_id = f.case_id AND r.fingerprint = f.fingerprint
    WHERE r.case_id IS NULL OR f.case_id IS NULL
"""
WRITE_DIFF = (
    # A row from before fingerprints (NULL) is matched too: it is replaced by the first full rebuild.
    "DELETE FROM reconciliation_cases WHERE EXISTS (SELECT 1 FROM _rc_diff d WHERE d.old_case_id IS NOT NULL"
    " AND d.old_market = reconciliation_cases.market AND d.old_case_id = reconciliation_cases.case_id"
    " AND d.old_fingerprint IS NOT DISTINCT FROM reconciliation_cases.fingerprint)",
    f"INSERT INTO reconciliation_cases ({CASE_COLUMNS}, fingerprint) SELECT {CASE_COLUMNS}, fingerprint"
    " FROM _rc_diff WHERE case_id IS NOT NULL",
)
# The rows of the cases in scope, typed as the table (the rules read them, and PostgreSQL would
# otherwise keep a computed 0 unscaled, printing "0" where the table prints "0.00").
NEW_ROWS = ("CREATE TEMP TABLE _rc_new AS SELECT * FROM reconciliation_cases WHERE 1 = 0",
            f"INSERT INTO _rc_new ({CASE_COLUMNS}, fingerprint) " + "{figures}")

FINDING_COLUMNS = "market, reason, severity, case_id, invoice_key, creditor, line_id, amount, detail"


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


class Rule(NamedTuple):
    reason: str
    sql: str        # a SELECT of FINDING_COLUMNS, with template fields for its scope
    keyed_by: str   # what a finding is found again by: "case" (market, case_id), "line", "invoice"
    params: str     # "grace": the creditors and their grace days, as two lists; "" none


# 1. Amili paid out more capital than we claimed.
PAID_OUT_EXCEEDS_CLAIMED = Rule("paid_out_exceeds_claimed", f"""
    SELECT r.market, 'paid_out_exceeds_claimed', 'error', r.case_id, r.invoice_key, r.creditor, NULL,
           r.paid_principal + r.paid_direct + r.credited - r.claimed_capital,
           concat('claimed ', {_text('r.claimed_capital')}, ' but principal paid out ', {_text('r.paid_principal')},
                  ' + paid directly ', {_text('r.paid_direct')}, ' + credited ', {_text('r.credited')})
    FROM {{results}} r WHERE r.paid_principal + r.paid_direct + r.credited > r.claimed_capital + 0.005
""", "case", "")
# 2. A settlement line we cannot tie to any case we registered or know. The cases are looked up in
#    the results of this scope: an incremental run's lines with a case id all have that case among
#    the recomputed ones (a changed line's case is recomputed; the other lines are taken because
#    their case is), so the few rows just computed answer it, not the whole table.
UNKNOWN_CASE = Rule("settlement_for_unknown_case", """
    SELECT l.market, 'settlement_for_unknown_case', 'error', l.case_id, l.invoice_key, l.creditor,
           l.line_id, l.payout_amount,
           concat(l.source, ' line ', l.line_id, ' (invoice ', coalesce(l.invoice_number, 'unknown'), ', case ',
                  coalesce(l.case_id, l.case_number, 'unknown'), ') matches no known case')
    FROM settlement_lines l {lines_l}
    WHERE l.case_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM {results} r WHERE r.market = l.market AND r.case_id = l.case_id)
       OR l.invoice_key IS NULL
""", "line", "")
# 3. One invoice, two cases: the debtor is chased twice. A grouped count (min <> max) over every
#    case id seen per invoice; only the few invoices it finds are de-duplicated for the message.
#    The (invoice, case id) pairs of Amili's cases and of our registered outbox rows are all in
#    reconciliation_cases, already written (its invoice, and the case's own where that differs);
#    the rest are the registrations seen and outbox rows with a case id in another state. A
#    registration seen is nearly always a pair reconciliation_cases holds already (one per registered
#    invoice): only the others are added, so the grouping is not twice as long for nothing (looked
#    up in this scope's rows: a pair left in is counted once more, which changes nothing).
TWO_CASES = Rule("invoice_with_two_cases", """
    WITH all_cases AS (
        SELECT r.market, r.invoice_key, r.case_id FROM reconciliation_cases r {inv_r} WHERE r.invoice_key IS NOT NULL
        UNION ALL SELECT r.market, r.case_invoice_key, r.case_id FROM reconciliation_cases r {inv_rc}
                  WHERE r.case_invoice_key IS NOT NULL
        UNION ALL SELECT s.market, s.invoice_key, s.case_id FROM amili_registrations_seen s {inv_s}
                  WHERE NOT EXISTS (SELECT 1 FROM {results} x WHERE x.market = s.market
                                    AND x.invoice_key = s.invoice_key AND x.case_id = s.case_id)
        UNION ALL SELECT o.market, o.invoice_key, o.case_id FROM registration_outbox o {inv_o}
                  WHERE o.case_id IS NOT NULL AND o.state <> 'registered'
    ),
    twice AS (
        SELECT market, invoice_key FROM all_cases GROUP BY market, invoice_key HAVING min(case_id) <> max(case_id)
    ),
    found AS (
        SELECT DISTINCT a.market, a.invoice_key, a.case_id
        FROM all_cases a JOIN twice t ON t.market = a.market AND t.invoice_key = a.invoice_key
    )
    SELECT market, 'invoice_with_two_cases', 'error', string_agg(case_id, ', ' ORDER BY case_id),
           invoice_key, split_part(invoice_key, '/', 1), NULL, NULL,
           concat('invoice ', invoice_key, ' has ', CAST(count(DISTINCT case_id) AS VARCHAR), ' cases at Amili')
    FROM found GROUP BY market, invoice_key
""", "invoice", "")
# 4. Amili closed the case as paid/credited, but the source system still shows it unpaid, although
#    it was read at least the creditor's grace days after the closing (the money reaches the bank
#    with the next payout and the ERP books it from the feedback file; a source read before the case
#    closed cannot know). A closing date Amili did not give counts at once. Parameters: the
#    creditors and their grace days, as two lists. Only a closed case whose invoice some source's
#    newest read shows open can qualify, so the source view is worked out for those invoices only
#    (the same view as SOURCE_VIEW_SQL, narrowed to their keys), and from the reads no older than
#    the oldest of the sources' newest: such an invoice has a row in one of those, so its last known
#    row is among them, and the older reads (a source keeps every day's) cannot change its view.
#    Each source's newest read is taken from this run's partition summary (_rc_parts), not from
#    every stored row again.
CLOSED_BUT_SOURCE_UNPAID = Rule("closed_but_source_unpaid", f"""
    WITH newest AS (SELECT source, max(partition_date) AS d FROM _rc_parts GROUP BY source),
    open_now AS (
        SELECT DISTINCT b.invoice_key FROM source_balances b JOIN newest n ON n.source = b.source AND n.d = b.partition_date
        WHERE b.partition_date >= (SELECT min(d) FROM newest)
          AND coalesce(b.is_unpaid, b.open_balance > 0) AND b.open_balance > 0.005
    ),
    cand AS (
        SELECT r.market, r.case_id, r.invoice_key, r.creditor, r.closed_reason, r.closed_at
        FROM {{results}} r JOIN open_now o ON o.invoice_key = r.invoice_key
        WHERE r.is_closed AND coalesce(r.closed_reason, '') NOT IN ('cancelled', 'withdrawn')
    ),
    hist AS (
        SELECT b.invoice_key, b.source, b.partition_date, b.open_balance, b.is_unpaid
        FROM source_balances b JOIN (SELECT DISTINCT invoice_key FROM cand) k ON k.invoice_key = b.invoice_key
        WHERE b.partition_date >= (SELECT min(d) FROM newest)
    ),
    cur AS (
        SELECT h.invoice_key, h.source, h.open_balance, coalesce(h.is_unpaid, h.open_balance > 0) AS is_unpaid
        FROM hist h JOIN newest n ON n.source = h.source AND n.d = h.partition_date
    ),
    last_known AS (
        SELECT invoice_key, source FROM (
            SELECT invoice_key, source,
                   row_number() OVER (PARTITION BY invoice_key ORDER BY partition_date DESC, source) AS rn
            FROM hist
        ) ranked WHERE rn = 1
    ),
    src AS (
        SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
               CASE WHEN cur.invoice_key IS NULL THEN 0 WHEN NOT cur.is_unpaid THEN 0 ELSE cur.open_balance END
                   AS open_balance,
               n.d AS as_of
        FROM last_known k JOIN newest n ON n.source = k.source
        LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
    ),
    grace AS (SELECT unnest(CAST(? AS VARCHAR[])) AS creditor, unnest(CAST(? AS INTEGER[])) AS days)
    SELECT r.market, 'closed_but_source_unpaid', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           s.open_balance,
           concat('case closed (', coalesce(r.closed_reason, 'closed'), ') at Amili',
                  coalesce(' on ' || {_text('CAST(r.closed_at AS DATE)')}, ''), ' but the source still shows ',
                  {_text('s.open_balance')}, ' open as of ', {_text('s.as_of')})
    FROM cand r JOIN src s ON s.invoice_key = r.invoice_key
    LEFT JOIN grace g ON g.creditor = r.creditor
    WHERE s.present AND s.open_balance > 0.005
      AND (r.closed_at IS NULL OR s.as_of >= CAST(r.closed_at AS DATE) + coalesce(g.days, 0))
""", "case", "grace")
# 5. Amili holds a different capital than we claimed, or its remaining capital disagrees with
#    claimed minus what came in.
AMOUNTS_DO_NOT_MATCH = Rule("amounts_do_not_match_case", f"""
    SELECT r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           r.amili_claimed_capital - r.claimed_capital,
           concat('we claimed ', {_text('r.claimed_capital')}, ' but Amili holds ', {_text('r.amili_claimed_capital')},
                  ' as the case capital')
    FROM {{results}} r
    WHERE r.amili_claimed_capital IS NOT NULL AND abs(r.amili_claimed_capital - r.claimed_capital) > 0.005
    UNION ALL
    SELECT r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
           r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited),
           concat('Amili shows ', {_text('r.amili_remaining_capital')}, ' capital remaining; claimed ',
                  {_text('r.claimed_capital')}, ' less paid ', {_text('r.paid_principal')}, ' less direct ',
                  {_text('r.paid_direct')}, ' less credited ', {_text('r.credited')}, ' is ',
                  {_text('r.claimed_capital - r.paid_principal - r.paid_direct - r.credited')})
    FROM {{results}} r
    WHERE NOT r.is_closed AND r.amili_remaining_capital IS NOT NULL
      AND abs(r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited)) > 0.005
""", "case", "")

# In the order they run: the unknown-case rule reads the cases already written.
RULES = (PAID_OUT_EXCEEDS_CLAIMED, UNKNOWN_CASE, TWO_CASES, CLOSED_BUT_SOURCE_UNPAID, AMOUNTS_DO_NOT_MATCH)
