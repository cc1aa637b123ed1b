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
        params: list[object] = []
        if partition_date is None:
            sql = "SELECT CAST(invoice_json AS VARCHAR) FROM latest_invoices WHERE is_valid"
            if after_key is not None:
                sql += " AND invoice_key > ?"
                params.append(after_key)
        else:
            # The key filter goes before the window: a key's rows all pass it or all fail it.
            after = " AND invoice_key > ?" if after_key is not None else ""
            sql = ("SELECT CAST(invoice_json AS VARCHAR) FROM (SELECT *, row_number() OVER (PARTITION BY invoice_key"
                   f" ORDER BY extracted_at DESC, source) AS rn FROM extracted_invoices WHERE partition_date = ?{after})"
                   " ranked WHERE rn = 1 AND is_valid")
            params.append(partition_date)
            if after_key is not None:
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
