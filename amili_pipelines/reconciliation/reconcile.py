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
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from amili_pipelines.reconciliation._util import column_names, table_exists, utcnow

TOLERANCE = Decimal("0.005")  # below one öre/øre
ERROR_REASONS = ("paid_out_exceeds_claimed", "settlement_for_unknown_case", "invoice_with_two_cases")


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
        return "\n".join(lines)


def source_balances_sql(conn: duckdb.DuckDBPyConnection) -> str:
    """SQL for the source's *current* view of each invoice: (invoice_key, present, open_balance, total_amount, as_of).

    Uses the sources engineer's ``source_balances`` table when it exists (newest partition per
    source); otherwise derives the same from ``extracted_invoices``: an invoice missing from its
    source's newest partition is no longer in the source (paid or removed there).
    """
    if table_exists(conn, "source_balances"):
        cols = column_names(conn, "source_balances")
        total = "total_amount" if "total_amount" in cols else "NULL::DECIMAL(18,2)"
        unpaid = "coalesce(is_unpaid, open_balance > 0)" if "is_unpaid" in cols else "open_balance > 0"
        return f"""
            WITH newest AS (SELECT source, max(partition_date) AS d FROM source_balances GROUP BY source),
            cur AS (
                SELECT b.invoice_key, b.source, b.partition_date, b.open_balance, {total} AS total_amount,
                       {unpaid} AS is_unpaid
                FROM source_balances b JOIN newest n ON n.source = b.source AND n.d = b.partition_date
            ),
            last_known AS (
                SELECT invoice_key, arg_max(source, partition_date) AS source FROM source_balances GROUP BY invoice_key
            )
            SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
                   CASE WHEN cur.invoice_key IS NULL THEN 0 WHEN NOT cur.is_unpaid THEN 0 ELSE cur.open_balance END
                       AS open_balance,
                   cur.total_amount, n.d AS as_of
            FROM last_known k JOIN newest n ON n.source = k.source
            LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
        """
    return """
        WITH newest AS (SELECT source, max(partition_date) AS d FROM extracted_invoices GROUP BY source),
        last_known AS (
            SELECT invoice_key, arg_max(source, partition_date) AS source FROM extracted_invoices GROUP BY invoice_key
        ),
        cur AS (
            SELECT e.invoice_key, e.source, e.open_balance, e.total_amount
            FROM extracted_invoices e JOIN newest n ON n.source = e.source AND n.d = e.partition_date
            QUALIFY row_number() OVER (PARTITION BY e.invoice_key, e.source ORDER BY e.extracted_at DESC) = 1
        )
        SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
               CASE WHEN cur.invoice_key IS NULL THEN 0 ELSE cur.open_balance END AS open_balance,
               cur.total_amount, n.d AS as_of
        FROM last_known k JOIN newest n ON n.source = k.source
        LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
    """


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


def _discrepancies(conn: duckdb.DuckDBPyConnection, as_of: date) -> None:
    conn.execute("DELETE FROM reconciliation_discrepancies")
    ins = "INSERT INTO reconciliation_discrepancies (as_of, market, reason, severity, case_id, invoice_key, creditor, line_id, amount, detail) "
    # 1. Amili paid out more capital than we claimed.
    conn.execute(
        ins + """
        SELECT as_of, market, 'paid_out_exceeds_claimed', 'error', case_id, invoice_key, creditor, NULL,
               paid_principal + paid_direct + credited - claimed_capital,
               format('claimed {} but principal paid out {} + paid directly {} + credited {}',
                      claimed_capital, paid_principal, paid_direct, credited)
        FROM reconciliation WHERE paid_principal + paid_direct + credited > claimed_capital + 0.005
        """
    )
    # 2. A settlement line we cannot tie to any case we registered or know.
    conn.execute(
        ins + """
        SELECT ?::DATE, l.market, 'settlement_for_unknown_case', 'error', l.case_id, l.invoice_key, l.creditor, l.line_id,
               l.payout_amount,
               format('{} line {} (invoice {}, case {}) matches no known case', l.source, l.line_id,
                      coalesce(l.invoice_number, '?'), coalesce(l.case_id, l.case_number, '?'))
        FROM settlement_lines l
        WHERE l.case_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM reconciliation r WHERE r.market = l.market AND r.case_id = l.case_id)
           OR l.invoice_key IS NULL
        """,
        [as_of],
    )
    # 3. One invoice, two cases: the debtor is chased twice.
    conn.execute(
        ins + """
        WITH all_cases AS (
            SELECT market, invoice_key, case_id FROM cases WHERE invoice_key IS NOT NULL
            UNION SELECT market, invoice_key, case_id FROM amili_registrations_seen
            UNION SELECT market, invoice_key, case_id FROM registration_outbox WHERE case_id IS NOT NULL
        )
        SELECT ?::DATE, market, 'invoice_with_two_cases', 'error', string_agg(case_id, ', ' ORDER BY case_id), invoice_key,
               split_part(invoice_key, '/', 1), NULL, NULL,
               format('invoice {} has {} cases at Amili', invoice_key, count(DISTINCT case_id))
        FROM all_cases GROUP BY market, invoice_key HAVING count(DISTINCT case_id) > 1
        """,
        [as_of],
    )
    # 4. Amili closed the case as paid/credited, but the source system still shows it unpaid.
    src = source_balances_sql(conn)
    conn.execute(
        ins + "WITH src AS (" + src + ")" + """
        SELECT r.as_of, r.market, 'closed_but_source_unpaid', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
               s.open_balance,
               format('case closed ({}) at Amili but the source still shows {} open (as of {})',
                      coalesce(r.closed_reason, 'closed'), s.open_balance, s.as_of)
        FROM reconciliation r JOIN src s ON s.invoice_key = r.invoice_key
        WHERE r.is_closed AND coalesce(r.closed_reason, '') NOT IN ('cancelled', 'withdrawn')
          AND s.present AND s.open_balance > 0.005
        """
    )
    # 5. Amounts that do not match the case: Amili holds a different capital than we claimed, or
    #    its remaining capital disagrees with claimed minus what came in.
    conn.execute(
        ins + """
        SELECT as_of, r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
               c.claimed_capital - r.claimed_capital,
               format('we claimed {} but Amili holds {} as the case capital', r.claimed_capital, c.claimed_capital)
        FROM reconciliation r JOIN cases c ON c.market = r.market AND c.case_id = r.case_id
        WHERE c.claimed_capital IS NOT NULL AND abs(c.claimed_capital - r.claimed_capital) > 0.005
        UNION ALL
        SELECT as_of, r.market, 'amounts_do_not_match_case', 'warning', r.case_id, r.invoice_key, r.creditor, NULL,
               r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited),
               format('Amili shows {} capital remaining; claimed {} less paid {} less direct {} less credited {} is {}',
                      r.amili_remaining_capital, r.claimed_capital, r.paid_principal, r.paid_direct, r.credited,
                      r.claimed_capital - r.paid_principal - r.paid_direct - r.credited)
        FROM reconciliation r
        WHERE NOT r.is_closed AND r.amili_remaining_capital IS NOT NULL
          AND abs(r.amili_remaining_capital - (r.claimed_capital - r.paid_principal - r.paid_direct - r.credited)) > 0.005
        """
    )


def reconcile(conn: duckdb.DuckDBPyConnection, *, as_of: date | None = None) -> ReconciliationSummary:
    """Rebuild ``reconciliation`` and ``reconciliation_discrepancies`` from the stored facts."""
    started = time.perf_counter()
    as_of = as_of or utcnow().date()
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("DELETE FROM reconciliation")
        conn.execute("INSERT INTO reconciliation " + _RECONCILE_SQL, [as_of])
        _discrepancies(conn, as_of)
        conn.execute(
            """
            UPDATE reconciliation r SET discrepancy_count = d.n
            FROM (SELECT market, case_id, count(*) AS n FROM reconciliation_discrepancies
                  WHERE case_id IS NOT NULL GROUP BY ALL) d
            WHERE d.market = r.market AND d.case_id = r.case_id
            """
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    s = ReconciliationSummary(as_of=as_of.isoformat())
    for status, n in conn.execute("SELECT status, count(*) FROM reconciliation GROUP BY ALL").fetchall():
        setattr(s, status, n)
        s.cases += n
    for cur, claimed, paid, remaining in conn.execute(
        "SELECT coalesce(currency, '?'), sum(claimed_capital), sum(paid_out), sum(remaining_capital) "
        "FROM reconciliation GROUP BY ALL ORDER BY 1"
    ).fetchall():
        s.claimed[cur], s.paid_out[cur], s.remaining[cur] = str(claimed), str(paid), str(remaining)
    for reason, severity, n in conn.execute(
        "SELECT reason, severity, count(*) FROM reconciliation_discrepancies GROUP BY ALL"
    ).fetchall():
        s.discrepancies[reason] = s.discrepancies.get(reason, 0) + n
        if severity == "error":
            s.errors += n
    s.seconds = round(time.perf_counter() - started, 3)
    return s
