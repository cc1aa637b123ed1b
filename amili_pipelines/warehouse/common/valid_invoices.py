"""The valid invoices registration queues, page by page: written once for both databases."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from pydantic import TypeAdapter

from amili_pipelines.domain.invoice import SourceInvoice

_INVOICES = TypeAdapter(list[SourceInvoice])


class ValidInvoiceReads:
    """``valid_invoices`` of both invoice stores (they set ``self.db``)."""

    db: Any

    def valid_invoices(self, *, partition_date: date | None = None,
                       creditors: Collection[str] | None = None, after_key: str | None = None,
                       limit: int | None = None) -> list[SourceInvoice]:
        """Valid invoices ready to register, the newest extraction per invoice key.

        With ``partition_date``: the invoices extracted in that partition. Without: the newest
        extraction of every invoice ever extracted. An invoice key extracted from several sources
        (identical duplicates) is returned once. ``after_key`` and ``limit`` page through them in
        invoice-key order (keyset pages: a whole partition need not fit in memory).
        """
        if creditors is not None and not creditors:
            return []
        if partition_date is not None:
            return self._partition_page(partition_date, creditors, after_key, limit)
        params: list[object] = []
        sql = "SELECT CAST(invoice_json AS VARCHAR) FROM latest_invoices WHERE is_valid"
        if after_key is not None:
            sql += " AND invoice_key > ?"
            params.append(after_key)
        if creditors is not None:
            sql += f" AND creditor IN ({', '.join('?' for _ in creditors)})"
            params.extend(sorted(creditors))
        sql += " ORDER BY invoice_key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = [r[0] for r in self.db.execute(sql, params).fetchall()]
        if not rows:
            return []
        return _INVOICES.validate_json("[" + ",".join(rows) + "]")

    def _partition_page(self, partition_date: date, creditors: Collection[str] | None, after_key: str | None,
                        limit: int | None) -> list[SourceInvoice]:
        # The newest row per key is chosen on the narrow columns, and only the page's winners carry
        # their JSON: ranking whole rows re-sorted every remaining invoice of the partition for
        # each page (1M invoices: 4.5 s a page, most of the queueing time).
        params: list[object] = [partition_date]
        after = ""
        if after_key is not None:
            after = " AND invoice_key > ?"
            params.append(after_key)
        who = ""
        if creditors is not None:
            who = f" AND creditor IN ({', '.join('?' for _ in creditors)})"
            params.extend(sorted(creditors))
        page = f" LIMIT {int(limit)}" if limit is not None else ""
        sql = ("WITH ranked AS (SELECT invoice_key, source, extracted_at, creditor, is_valid, row_number() OVER"
               " (PARTITION BY invoice_key ORDER BY extracted_at DESC, source) AS rn FROM extracted_invoices"
               f" WHERE partition_date = ?{after}),"
               f" page AS (SELECT invoice_key, source, extracted_at FROM ranked WHERE rn = 1 AND is_valid{who}"
               f" ORDER BY invoice_key{page})"
               " SELECT e.invoice_key, CAST(e.invoice_json AS VARCHAR) FROM extracted_invoices e JOIN page p"
               " ON e.invoice_key = p.invoice_key AND e.source = p.source AND e.extracted_at = p.extracted_at"
               " WHERE e.partition_date = ? ORDER BY e.invoice_key")
        params.append(partition_date)
        rows, last = [], None
        for key, body in self.db.execute(sql, params).fetchall():
            if key != last:  # the same row twice in one extraction of a source: once is enough
                rows.append(body)
                last = key
        if not rows:
            return []
        return _INVOICES.validate_json("[" + ",".join(rows) + "]")
