"""A partition is extracted in one transaction, chunk by chunk: each stored chunk must be freed at
once, not held until COMMIT (a 1M-invoice partition once needed 2.5 GB that way)."""

from __future__ import annotations

import gc
from datetime import date, datetime

import pyarrow as pa

from amili_pipelines.warehouse.tables import balances_table, extraction_tables
from tests.support.records import invoice, validated

DAY = date(2026, 3, 2)


def _chunk(part: int):
    invoices = [invoice(f"MEM-{part}-{k:05d}", row=k + 2) for k in range(2_000)]
    inv_tbl, issues = extraction_tables(partition_date=DAY, source="erp", validated=[validated(i) for i in invoices])
    balances = balances_table([(DAY, "erp", i.creditor, i.invoice_key, i.invoice_number, i.open_balance, i.due_date,
                                "unpaid", True, i.location, i.row, datetime(2026, 3, 2)) for i in invoices])
    return inv_tbl, issues, balances


def test_a_stored_chunk_is_freed_before_the_transaction_commits(warehouse):
    kept = []
    with warehouse.transaction():
        warehouse.invoices.clear_partition(partition_date=DAY, source="erp")
        for part in range(3):
            gc.collect()
            before = pa.total_allocated_bytes()
            inv_tbl, issues, balances = _chunk(part)
            size = pa.total_allocated_bytes() - before
            warehouse.invoices.insert(invoices=inv_tbl, issues=issues, balances=balances)
            del inv_tbl, issues, balances
            gc.collect()
            kept.append(pa.total_allocated_bytes() - before)
        assert size > 100_000, "the chunk is big enough to notice"
        assert max(kept) < size / 10, f"the store kept {kept} bytes of {size}-byte chunks until COMMIT"
    assert warehouse.invoices.partition_sources(partition_date=DAY) == ["erp"]
