"""Invoice numbers that occur more than once in a partition: written once for both databases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from amili_pipelines.warehouse.invoices import DuplicateNumberRow

# The extracted invoices, and the rows of the same day's reads that were not extracted (paid or
# not yet due): a paid copy of an open invoice's number is a copy all the same.
_SQL = """
    WITH seen AS (
        SELECT e.source, e.creditor, e.invoice_number, e.location, e.row_number,
               e.invoice_json ->> 'open_balance' AS open_balance,
               e.customer_id_number, e.due_date, e.currency, true AS extracted
        FROM extracted_invoices e
        WHERE e.partition_date = ? AND e.invoice_number IS NOT NULL AND e.invoice_number <> ''
        UNION ALL
        SELECT b.source, b.creditor, b.invoice_number, b.location, b.row_number, CAST(b.open_balance AS VARCHAR),
               NULL, b.due_date, NULL, false
        FROM source_balances b
        WHERE b.partition_date = ? AND NOT b.is_unpaid AND b.invoice_number IS NOT NULL
          AND b.invoice_number <> ''
    ),
    d AS (
        SELECT creditor, invoice_number FROM seen
        GROUP BY creditor, invoice_number HAVING count(*) > 1 AND bool_or(extracted)
    )
    SELECT s.source, s.creditor, s.invoice_number, s.location, s.row_number, s.open_balance,
           s.customer_id_number, s.due_date, s.currency, s.extracted
    FROM seen s JOIN d USING (creditor, invoice_number)
    ORDER BY s.source, s.location, s.row_number
"""


class DuplicateNumberReads:
    """``duplicate_number_rows`` of both invoice stores (they set ``self.db``)."""

    db: Any

    def duplicate_number_rows(self, *, partition_date: date) -> list[DuplicateNumberRow]:
        """Rows whose (creditor, invoice number) occurs more than once in the partition, in
        validation order; only the extracted ones carry the issues (``extracted``)."""
        rows = self.db.execute(_SQL, [partition_date, partition_date]).fetchall()
        return [DuplicateNumberRow(s, c, n, loc, row, None if bal is None else Decimal(bal), idn, due, cur, ext)
                for s, c, n, loc, row, bal, idn, due, cur, ext in rows]
