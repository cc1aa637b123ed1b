"""DuckDB: the source system's current view of every invoice it ever reported (shared SQL).

Both reconciliation (is a closed case still unpaid at the source?) and back-to-Amili detection
(did the source book a payment Amili does not know?) read the newest partition per source.
"""

from __future__ import annotations

# (invoice_key, present, open_balance, total_amount, as_of, status): an invoice missing from its
# source's newest read is no longer in the source (paid or removed there) and shows 0 open.
SOURCE_VIEW_SQL = """
    WITH newest AS (SELECT source, max(partition_date) AS d FROM source_balances GROUP BY source),
    cur AS (
        SELECT b.invoice_key, b.source, b.partition_date, b.open_balance, NULL::DECIMAL(18, 2) AS total_amount,
               coalesce(b.is_unpaid, b.open_balance > 0) AS is_unpaid
        FROM source_balances b JOIN newest n ON n.source = b.source AND n.d = b.partition_date
    ),
    last_known AS (
        SELECT invoice_key, arg_max(source, partition_date) AS source,
               arg_max(status, partition_date) AS status
        FROM source_balances GROUP BY invoice_key
    )
    SELECT k.invoice_key, cur.invoice_key IS NOT NULL AS present,
           CASE WHEN cur.invoice_key IS NULL THEN 0 WHEN NOT cur.is_unpaid THEN 0 ELSE cur.open_balance END
               AS open_balance,
           cur.total_amount, n.d AS as_of, k.status
    FROM last_known k JOIN newest n ON n.source = k.source
    LEFT JOIN cur ON cur.invoice_key = k.invoice_key AND cur.source = k.source
"""
