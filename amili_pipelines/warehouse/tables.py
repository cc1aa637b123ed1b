"""Arrow layouts of the bulk-written tables, shared by every store implementation.

Bulk writes go through Arrow, never row by row. These builders turn domain objects into tables
in the column order of the schema and need no connection, so a worker process can build them.
Decimals travel as text and are cast by the database: building Arrow decimal128 arrays from
Python Decimals fails on values with more than two places, a cast rounds them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

import pyarrow as pa

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.money import money
from amili_pipelines.domain.outbox import OutboxEntry
from amili_pipelines.domain.validated import ValidatedInvoice

_vars = attrgetter("__dict__")

INVOICE_COLUMNS = (
    "partition_date", "source", "invoice_key", "creditor", "market", "location", "row_number",
    "invoice_number", "invoice_date", "due_date", "currency", "total_amount", "open_balance",
    "customer_kind", "customer_name", "customer_id_number", "payment_reference", "line_count",
    "content_hash", "is_valid", "invoice_json", "extracted_at",
)
INVOICE_DECIMALS = frozenset({"total_amount", "open_balance"})
ISSUE_COLUMNS = (
    "partition_date", "source", "invoice_key", "rule", "severity", "field", "value", "message",
    "location", "row_number",
)
BALANCE_COLUMNS = (
    "partition_date", "source", "creditor", "invoice_key", "invoice_number", "open_balance", "due_date",
    "status", "is_unpaid", "location", "row_number", "recorded_at",
)
BALANCE_DECIMALS = frozenset({"open_balance"})


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


# The invoice attributes copied into columns, read from each invoice's __dict__ in one C call.
_INVOICE_FIELDS = ("creditor", "market", "location", "row", "invoice_number", "invoice_date", "due_date", "currency",
                   "total_amount", "open_balance", "customer_kind", "customer_name", "customer_id_number",
                   "payment_reference", "lines", "content_hash")
_invoice_fields = itemgetter(*_INVOICE_FIELDS)


def extraction_tables(
    *, partition_date: date, source: str, validated: Sequence[ValidatedInvoice], extracted_at: datetime | None = None,
) -> tuple[pa.Table | None, pa.Table | None]:
    """(extracted invoices, their issues) of one chunk, in the schema's column order.

    Built column by column (a comprehension or ``map`` per column, not 19 appends per invoice:
    that loop was half the cost of this function)."""
    if not validated:
        return None, None
    extracted_at = extracted_at or utcnow()
    invoices = [v.invoice for v in validated]
    (creditor, market, location, row, number, invoice_date, due_date, currency, total, balance, kind, name,
     id_number, reference, lines, content_hash) = zip(*map(_invoice_fields, map(_vars, invoices)))
    keys = [inv.invoice_key for inv in invoices]
    n = len(validated)
    cols: dict[str, list] = {
        "partition_date": [partition_date] * n,
        "source": [source] * n,
        "invoice_key": keys,
        "creditor": list(creditor),
        "market": [m.value for m in market],
        "location": list(location),
        "row_number": list(row),
        "invoice_number": list(number),
        "invoice_date": list(invoice_date),
        "due_date": list(due_date),
        "currency": list(currency),
        "total_amount": [None if v is None else format(v, "f") for v in total],
        "open_balance": [None if v is None else format(v, "f") for v in balance],
        "customer_kind": [k.value if k else None for k in kind],
        "customer_name": list(name),
        "customer_id_number": list(id_number),
        "payment_reference": list(reference),
        "line_count": list(map(len, lines)),
        "content_hash": list(content_hash),
        "is_valid": [v.is_valid for v in validated],
        "invoice_json": [inv.model_dump_json() for inv in invoices],
        "extracted_at": [extracted_at] * n,
    }
    assert tuple(cols) == INVOICE_COLUMNS
    issues = [(key, i) for key, v in zip(keys, validated) if v.issues for i in v.issues]
    return pa.table(cols), issues_table(partition_date=partition_date, source=source, issues=issues)


def issues_table(
    *, partition_date: date, source: str | None,
    issues: Iterable[tuple[str, Issue]] | Iterable[tuple[str, str, Issue]],
) -> pa.Table | None:
    """Issues given as (invoice_key, issue) with a fixed ``source``, or (source, invoice_key, issue)."""
    cols: dict[str, list] = {c: [] for c in ISSUE_COLUMNS}
    c_src, c_key, c_rule, c_sev, c_field, c_val, c_msg, c_loc, c_row = (cols[c] for c in ISSUE_COLUMNS[1:])
    for item in issues:
        if source is None:
            src, key, i = item  # type: ignore[misc]
        else:
            (key, i), src = item, source  # type: ignore[misc]
        c_src.append(src)
        c_key.append(key)
        c_rule.append(i.rule)
        c_sev.append(i.severity.value)
        c_field.append(i.field)
        c_val.append(i.value)
        c_msg.append(i.message)
        c_loc.append(i.location)
        c_row.append(i.row)
    n = len(c_key)
    if not n:
        return None
    cols["partition_date"] = [partition_date] * n
    return pa.table(cols)


def balances_table(rows: list[tuple]) -> pa.Table | None:
    """Rows in ``BALANCE_COLUMNS`` order (open_balance as Decimal or None) as a table."""
    if not rows:
        return None
    cols = {c: list(vals) for c, vals in zip(BALANCE_COLUMNS, zip(*rows), strict=True)}
    cols["open_balance"] = [_dec(v) for v in cols["open_balance"]]
    return pa.table(cols)


def record_columns(record_type: type) -> list[str]:
    """Field names of a domain dataclass, in declaration order (the table's column order)."""
    return [f.name for f in dataclasses.fields(record_type)]


def records_table(records: Sequence[Any], columns: Sequence[str], *, booleans: frozenset[str] = frozenset()) -> pa.Table:
    """Domain dataclasses as a table; column types follow the schema's naming convention: money
    columns (``*_amount``, ``amount``, the case capital columns) decimal(18,2), ``*_date`` date,
    ``*_at`` timestamp, the rest text."""
    data: dict[str, pa.Array] = {}
    for c in columns:
        vals = [getattr(r, c) for r in records]
        if c in booleans:
            data[c] = pa.array(vals, type=pa.bool_())
        elif c.endswith("_amount") or c == "amount" or c in _MONEY_COLUMNS:
            data[c] = pa.array([money(v) for v in vals], type=pa.decimal128(18, 2))
        elif c.endswith("_date"):
            data[c] = pa.array(vals, type=pa.date32())
        elif c.endswith("_at"):
            data[c] = pa.array(vals, type=pa.timestamp("us"))
        else:
            data[c] = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
    return pa.table(data)


_MONEY_COLUMNS = frozenset({
    "claimed_capital", "remaining_capital", "remaining_interest", "remaining_fees", "remaining_total",
    "added_interest", "added_fees",
})


def outbox_entries_table(entries: Sequence[OutboxEntry]) -> pa.Table:
    """The rows to queue; a stored request body is kept as its exact text (JSON columns keep text as given)."""
    return pa.table({
        "market": [e.market.value for e in entries],
        "invoice_key": [e.invoice_key for e in entries],
        "creditor": [e.creditor for e in entries],
        "invoice_number": [e.invoice_number for e in entries],
        "idempotency_key": [e.idempotency_key for e in entries],
        "content_hash": [e.content_hash for e in entries],
        "payload_json": [e.body.decode() if e.body is not None else json.dumps(e.payload, default=str)
                         for e in entries],
        "payload_is_body": pa.array([e.body is not None for e in entries], type=pa.bool_()),
        "claimed_amount": pa.array([e.claimed_amount for e in entries], type=pa.decimal128(18, 2)),
        "currency": [e.currency for e in entries],
    })
