"""What changed since the last reconciliation: the keys an incremental run recomputes.

The inputs say when each of their rows last changed: ``cases.last_seen_at``,
``registration_outbox.updated_at``, ``settlement_lines.last_seen_at`` / ``linked_at`` (tied to its
case later), ``case_actions_outbox.updated_at``, ``amili_registrations_seen.seen_at``. A run
remembers the newest of each (its watermarks, in ``reconciliation_runs``) and the next one takes
every row at or after them, less a margin (``overlap``): a row whose time was taken shortly before
another process's newer row committed is still seen. A settlement line that moves from one case to
another leaves the case it left in ``reconciliation_changes`` (its new case is in the line itself).

``source_balances`` are replaced a partition at a time, so they are compared per partition: row
count, the span of ``recorded_at``, balance totals and key range (``reconciliation_source_partitions``).

From these, three key sets (temporary tables) that the statements of
:mod:`amili_pipelines.warehouse.common.reconcile_sql` join on:

* ``_rc_cases`` (market, case_id): cases whose row is recomputed. A case depends on its own row,
  its outbox row, its settlement lines and the actions on its invoice; a changed outbox row or
  action also reaches the case it was tied to before (found through the stored row's invoice key).
* ``_rc_lines`` (market, line_id): lines whose "unknown case" finding is decided again: changed
  lines and the lines of every recomputed case (whose row may have appeared or gone).
* ``_rc_invoices`` (market, invoice_key): invoices checked for two cases again: every invoice a
  changed case, outbox row or registration seen names, and every invoice already found with two
  (losing a case is the only way back to one, and those are all among them).
"""

from __future__ import annotations

from datetime import datetime

# Watermarks, in the order of the ``*_at`` columns of reconciliation_runs.
MARKS = ("cases_at", "outbox_at", "lines_at", "linked_at", "actions_at", "seen_at", "changes_at")
MARKS_SQL = """
    SELECT (SELECT max(last_seen_at) FROM cases), (SELECT max(updated_at) FROM registration_outbox),
           (SELECT max(last_seen_at) FROM settlement_lines), (SELECT max(linked_at) FROM settlement_lines),
           (SELECT max(updated_at) FROM case_actions_outbox), (SELECT max(seen_at) FROM amili_registrations_seen),
           (SELECT max(changed_at) FROM reconciliation_changes)
"""
# Before any run, or for a table that was empty: everything counts as changed.
EPOCH = datetime(1900, 1, 1)

PARTITION_COLUMNS = ("source, partition_date, row_count, first_recorded, last_recorded, open_total, open_weighted,"
                     " unpaid_rows, first_key, last_key")
# A source keeps every day's read, so this table grows by a whole export a day. Its rows are only
# ever inserted (a partition read again is deleted and inserted anew, stamped with the time), so a
# partition whose row count and span of recorded_at are as last time is unchanged: its stored
# summary is taken, and only the other partitions are summed in full.
PARTITIONS_SQL = """
    CREATE TEMP TABLE _rc_parts AS
    WITH cheap AS (
        SELECT source, partition_date, count(*) AS row_count, min(recorded_at) AS first_recorded,
               max(recorded_at) AS last_recorded
        FROM source_balances GROUP BY source, partition_date
    ),
    kept AS (
        SELECT s.source, s.partition_date, s.row_count, s.first_recorded, s.last_recorded, s.open_total,
               s.open_weighted, s.unpaid_rows, s.first_key, s.last_key
        FROM reconciliation_source_partitions s JOIN cheap c
            ON c.source = s.source AND c.partition_date = s.partition_date AND c.row_count = s.row_count
           AND c.first_recorded = s.first_recorded AND c.last_recorded = s.last_recorded
    ),
    redo AS (SELECT source, partition_date FROM cheap EXCEPT SELECT source, partition_date FROM kept)
    SELECT * FROM kept
    UNION ALL
    SELECT b.source, b.partition_date, count(*), min(b.recorded_at), max(b.recorded_at), sum(b.open_balance),
           sum(b.open_balance * b.row_number), sum(CASE WHEN b.is_unpaid THEN 1 ELSE 0 END), min(b.invoice_key),
           max(b.invoice_key)
    FROM source_balances b JOIN redo r ON r.source = b.source AND r.partition_date = b.partition_date
    GROUP BY b.source, b.partition_date
"""
PARTITIONS_CHANGED_SQL = f"""
    SELECT (SELECT count(*) FROM (SELECT {PARTITION_COLUMNS} FROM _rc_parts
                                  EXCEPT SELECT {PARTITION_COLUMNS} FROM reconciliation_source_partitions) a)
         + (SELECT count(*) FROM (SELECT {PARTITION_COLUMNS} FROM reconciliation_source_partitions
                                  EXCEPT SELECT {PARTITION_COLUMNS} FROM _rc_parts) b)
"""
SAVE_PARTITIONS = (
    "DELETE FROM reconciliation_source_partitions",
    f"INSERT INTO reconciliation_source_partitions ({PARTITION_COLUMNS}) SELECT {PARTITION_COLUMNS} FROM _rc_parts",
)

# Parameters: the cut-off of each watermark, named as in MARKS.
CHANGED_CASES = ("""
    CREATE TEMP TABLE _rc_cases AS
    SELECT DISTINCT market, case_id FROM (
        SELECT market, case_id FROM cases WHERE last_seen_at >= ?
        UNION ALL SELECT market, case_id FROM registration_outbox WHERE updated_at >= ? AND case_id IS NOT NULL
        UNION ALL SELECT r.market, r.case_id FROM reconciliation_cases r
                  JOIN registration_outbox o ON o.market = r.market AND o.invoice_key = r.invoice_key
                  WHERE o.updated_at >= ?
        UNION ALL SELECT market, case_id FROM settlement_lines
                  WHERE case_id IS NOT NULL AND (last_seen_at >= ? OR linked_at >= ?)
        UNION ALL SELECT market, case_id FROM reconciliation_changes WHERE changed_at >= ?
        UNION ALL SELECT r.market, r.case_id FROM reconciliation_cases r
                  JOIN case_actions_outbox a ON a.market = r.market AND a.invoice_key = r.invoice_key
                  WHERE a.updated_at >= ?
    ) changed
""", ("cases_at", "outbox_at", "outbox_at", "lines_at", "linked_at", "changes_at", "actions_at"))
CHANGED_LINES = ("""
    CREATE TEMP TABLE _rc_lines AS
    SELECT DISTINCT market, line_id FROM (
        SELECT market, line_id FROM settlement_lines WHERE last_seen_at >= ? OR linked_at >= ?
        UNION ALL SELECT l.market, l.line_id FROM settlement_lines l
                  JOIN _rc_cases d ON d.market = l.market AND d.case_id = l.case_id
    ) changed
""", ("lines_at", "linked_at"))
CHANGED_INVOICES = ("""
    CREATE TEMP TABLE _rc_invoices AS
    SELECT DISTINCT market, invoice_key FROM (
        SELECT market, invoice_key FROM cases WHERE last_seen_at >= ? AND invoice_key IS NOT NULL
        UNION ALL SELECT market, invoice_key FROM registration_outbox WHERE updated_at >= ?
        UNION ALL SELECT market, invoice_key FROM amili_registrations_seen WHERE seen_at >= ?
        UNION ALL SELECT market, invoice_key FROM reconciliation_findings WHERE reason = 'invoice_with_two_cases'
    ) changed
""", ("cases_at", "outbox_at", "seen_at"))
KEY_TABLES = ("_rc_cases", "_rc_lines", "_rc_invoices", "_rc_parts", "_rc_new", "_rc_diff")

def delete_findings(reason: str, keyed_by: str | None) -> str:
    """The statement that drops a rule's findings for the keys in scope (``None``: all of them)."""
    if keyed_by is None:
        return f"DELETE FROM reconciliation_findings WHERE reason = '{reason}'"
    table, key = {"case": ("_rc_cases", "case_id"), "line": ("_rc_lines", "line_id"),
                  "invoice": ("_rc_invoices", "invoice_key")}[keyed_by]
    return (f"DELETE FROM reconciliation_findings WHERE reason = '{reason}' AND EXISTS (SELECT 1 FROM {table} d"
            f" WHERE d.market = reconciliation_findings.market AND d.{key} = reconciliation_findings.{key})")


DELETE_CHANGED_CASES = ("DELETE FROM reconciliation_cases WHERE EXISTS (SELECT 1 FROM _rc_cases d"
                        " WHERE d.market = reconciliation_cases.market AND d.case_id = reconciliation_cases.case_id)")
# Moves older than every cut-off of this run were taken by this or an earlier run.
PRUNE_CHANGES = "DELETE FROM reconciliation_changes WHERE changed_at < ?"
