"""Reconciliation: a full rebuild and a day's changes against a bare DuckDB join of the same tables.

    .venv/bin/python benchmarks/reconciliation.py [--rows 1000000] [--repeat 3]

N registered invoices (outbox rows), N cases and N settlement lines (one per case) in a DuckDB
store. Measured in the same run, medians of ``--repeat``:

* join: a bare DuckDB join of the same tables into a table (cases full outer join the registered
  outbox rows, the settlement lines summed per case): the floor any reconciliation pays;
* full: ``reconciliation.rebuild(full=True)`` (every figure and every discrepancy rule, computed
  over everything; only rows that differ from the stored ones are written, so the first full run
  into an empty table, printed on its own, costs more);
* incremental: 1 % of the cases change (a new remaining capital and their settlement line's
  principal, seen now), then an ordinary ``rebuild``.

``--source-days N`` (default 0) also keeps N daily reads of a source that lists every invoice as
open (N x N-rows in ``source_balances``, as a source's daily export leaves them), and each change
round adds the next day's read: how a month or a year of history weighs on both runs. It also
times, after each change round, the back-to-Amili detection the same daily job runs over that
history (``detect_source_changes``: which open cases' sources show a payment, a crediting or a
cancellation Amili lacks; no goal).

Goals (issue 15): full <= 3x join; incremental <= 5 % of full. After the last incremental run a
full rebuild must give the same rows (money compared exactly), else the benchmark fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from amili_pipelines.reconciliation.actions import detect_source_changes
from amili_pipelines.warehouse import open_warehouse

AS_OF = date(2026, 11, 21)
# The facts were seen one a second from here on (a million: 11.6 days), all before any change run.
LONG_AGO = datetime(2026, 1, 1)

LOAD = [
    """INSERT INTO registration_outbox (market, invoice_key, creditor, invoice_number, idempotency_key, state,
                                        payload_json, claimed_amount, currency, case_id, created_at, updated_at)
       SELECT 'SE', concat('bench/', i), 'bench', CAST(i AS VARCHAR), concat('idem-', i), 'registered', '{}',
              CAST(1000 + i % 500 AS DECIMAL(18, 2)), 'SEK', concat('case-', i), ?, ? + to_seconds(i)
       FROM range(?) t(i)""",
    """INSERT INTO cases (market, case_id, creditor, invoice_key, invoice_number, currency, state, is_closed,
                          claimed_capital, remaining_capital, first_seen_at, last_seen_at)
       SELECT 'SE', concat('case-', i), 'bench', concat('bench/', i), CAST(i AS VARCHAR), 'SEK', 'debt_collection',
              false, CAST(1000 + i % 500 AS DECIMAL(18, 2)), CAST(1000 + i % 500 - i % 300 AS DECIMAL(18, 2)),
              ?, ? + to_seconds(i)
       FROM range(?) t(i)""",
    """INSERT INTO settlement_lines (market, line_id, source, case_id, invoice_number, creditor, invoice_key,
                                     currency, principal_amount, interest_amount, fee_amount, commission_amount,
                                     vat_amount, payout_amount, first_seen_at, last_seen_at)
       SELECT 'SE', concat('line-', i), 'se_payout_specification', concat('case-', i), CAST(i AS VARCHAR), 'bench',
              concat('bench/', i), 'SEK', CAST(i % 300 AS DECIMAL(18, 2)), 10.00, 5.00, 2.50, 0.63,
              CAST(i % 300 AS DECIMAL(18, 2)) + 11.87, ?, ? + to_seconds(i)
       FROM range(?) t(i)""",
    # Every registration's outcome is also kept as "seen at Amili" (the two-cases check reads it).
    """INSERT INTO amili_registrations_seen (market, invoice_key, case_id, registration_id, seen_at)
       SELECT 'SE', concat('bench/', i), concat('case-', i), concat('reg-', i), ? + to_seconds(i)
       FROM range(?) t(i)""",
]

# The same tables, joined bare: cases x registered outbox rows x settlement lines summed per case.
BARE_JOIN = """
    CREATE OR REPLACE TEMP TABLE bench_join AS
    SELECT coalesce(c.case_id, o.case_id) AS case_id, o.claimed_amount, c.remaining_capital,
           coalesce(m.principal, 0) AS principal, coalesce(m.payout, 0) AS payout
    FROM cases c
    FULL OUTER JOIN (SELECT * FROM registration_outbox WHERE state = 'registered') o
        ON o.market = c.market AND o.case_id = c.case_id
    LEFT JOIN (SELECT market, case_id, sum(principal_amount) AS principal, sum(payout_amount) AS payout
               FROM settlement_lines GROUP BY market, case_id) m
        ON m.market = coalesce(c.market, o.market) AND m.case_id = coalesce(c.case_id, o.case_id)
"""

# One day's read of a source listing every invoice as open (a tenth of the cases are closed as paid
# when this is used, so the closed-but-unpaid rule has work).
SOURCE_READ = """
    INSERT INTO source_balances (partition_date, source, creditor, invoice_key, invoice_number, open_balance,
                                 due_date, status, is_unpaid, location, row_number, recorded_at)
    SELECT ?, 'bench-erp', 'bench', concat('bench/', i), CAST(i AS VARCHAR), CAST(1000 + i % 500 AS DECIMAL(18, 2)),
           DATE '2026-01-01', 'unpaid', true, 'export.csv', i + 1, now()
    FROM range(?) t(i)"""
CLOSE_A_TENTH = """UPDATE cases SET is_closed = true, closed_reason = 'paid', closed_at = TIMESTAMP '2026-02-01'
                   WHERE CAST(substr(case_id, 6) AS BIGINT) % 10 = 0"""
FIRST_READ = date(2026, 3, 1)

# 1 % of the cases (a different slice each round): Amili reports a payment on each, seen at times
# spread over the day before the run (as a day's polls see them), so a run takes again only what the
# previous one saw in its last minutes (the overlap), not the previous day's changes as a whole.
CHANGE = [
    """UPDATE cases SET remaining_capital = remaining_capital - 1,
                        last_seen_at = ? - to_seconds(CAST(substr(case_id, 6) AS BIGINT) % 86400)
       WHERE CAST(substr(case_id, 6) AS BIGINT) % 100 = ?""",
    """UPDATE settlement_lines SET principal_amount = principal_amount + 1, payout_amount = payout_amount + 1,
                                   last_seen_at = ? - to_seconds(CAST(substr(line_id, 6) AS BIGINT) % 86400)
       WHERE CAST(substr(line_id, 6) AS BIGINT) % 100 = ?""",
]


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(rows: int, repeat: int, source_days: int = 0) -> int:
    with tempfile.TemporaryDirectory() as tmp, open_warehouse(str(Path(tmp) / "bench.duckdb")) as wh:
        db = wh.session
        started = time.perf_counter()
        with wh.transaction():
            for sql in LOAD:
                db.execute(sql, [LONG_AGO] * (sql.count("?") - 1) + [rows])
            if source_days:
                db.execute(CLOSE_A_TENTH)
        for day in range(source_days):
            with wh.transaction():
                db.execute(SOURCE_READ, [FIRST_READ + timedelta(days=day), rows])
        load_s = time.perf_counter() - started
        rec = wh.reconciliation
        # The first run: full into an empty table, so it writes every row (later full runs write only
        # the rows that differ); it also warms the caches for both measurements.
        first_s = _timed(lambda: rec.rebuild(as_of=AS_OF))

        join_s, full_s, incr_s, recomputed, detect_s = [], [], [], [], []
        for r in range(repeat):
            join_s.append(_timed(lambda: db.execute(BARE_JOIN)))
            full_s.append(_timed(lambda: rec.rebuild(as_of=AS_OF, full=True)))
        for r in range(repeat):
            now = datetime.now() + timedelta(days=1 + r)  # a day's changes: after the last run's watermarks and overlap
            with wh.transaction():
                for sql in CHANGE:
                    db.execute(sql, [now, r])
                if source_days:  # and the day's read of the source
                    db.execute(SOURCE_READ, [FIRST_READ + timedelta(days=source_days + r), rows])
            got = {}
            incr_s.append(_timed(lambda: got.setdefault("run", rec.rebuild(as_of=AS_OF))))
            if got["run"].mode != "incremental":
                print(f"expected an incremental run, got {got['run']}", file=sys.stderr)
                return 1
            recomputed.append(got["run"].cases_recomputed)
            if source_days:
                detect_s.append(_timed(lambda: detect_source_changes(wh, as_of=AS_OF)))

        # Row for row, money exact: what the incremental runs left equals a full rebuild.
        for table in ("reconciliation_cases", "reconciliation_findings"):
            db.execute(f"CREATE TEMP TABLE incr_{table} AS SELECT * FROM {table}")
        rec.rebuild(as_of=AS_OF, full=True)
        for table in ("reconciliation_cases", "reconciliation_findings"):
            differing = db.scalar(f"SELECT count(*) FROM ((SELECT * FROM incr_{table} EXCEPT ALL SELECT * FROM {table})"
                                  f" UNION ALL (SELECT * FROM {table} EXCEPT ALL SELECT * FROM incr_{table})) d")
            if differing:
                print(f"{table}: {differing} rows differ between the incremental runs and a full rebuild",
                      file=sys.stderr)
                return 1

    join, full, incr = (statistics.median(x) for x in (join_s, full_s, incr_s))
    vs_join, share = full / join, incr / full
    history = f", {source_days} daily reads of a {rows:,}-invoice source kept" if source_days else ""
    print(f"reconciliation: {rows:,} settlement lines x {rows:,} cases{history} (DuckDB), load {load_s:.1f} s, "
          f"medians of {repeat}, cases recomputed per change run {recomputed}")
    print(f"{'what':<34}{'median s':>10}{'min s':>9}{'max s':>9}   goal")
    print(f"{'bare DuckDB join (baseline)':<34}{join:>10.3f}{min(join_s):>9.3f}{max(join_s):>9.3f}")
    print(f"{'first full reconcile (writes all)':<34}{first_s:>10.3f}{'':>9}{'':>9}   "
          f"{first_s / join:.2f}x join (once; not a goal's figure)")
    print(f"{'full reconcile':<34}{full:>10.3f}{min(full_s):>9.3f}{max(full_s):>9.3f}   "
          f"{vs_join:.2f}x join (<= 3x: {'met' if vs_join <= 3 else 'NOT met'})")
    print(f"{'1 % of cases changed, incremental':<34}{incr:>10.3f}{min(incr_s):>9.3f}{max(incr_s):>9.3f}   "
          f"{share:.1%} of full (<= 5 %: {'met' if share <= 0.05 else 'NOT met'})")
    detection = ""
    if detect_s:
        mid = statistics.median(detect_s)
        print(f"{'back-to-Amili detection':<34}{mid:>10.3f}{min(detect_s):>9.3f}{max(detect_s):>9.3f}   (no goal)")
        detection = f" detection_s={mid:.2f}"
    print(f"RESULT reconciliation vs_join={vs_join:.2f} incremental_share={share:.3f}{detection}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="settlement lines and cases (each)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source-days", type=int, default=0,
                        help="daily reads of a source listing every invoice, kept in source_balances")
    args = parser.parse_args()
    return run(args.rows, args.repeat, args.source_days)


if __name__ == "__main__":
    sys.exit(main())
