"""A batch of clean CSV invoices assembled column by column (the bulk path of InvoiceAssembler).

Per invoice, :meth:`InvoiceAssembler.build` ran ~60 µs of Python: a dict lookup, a strip and an
``isascii`` per cell, one call per parsed value. Here each field is handled once per batch as a
column (``map`` over C functions, the parser's caches), and the models are made from the columns.

Only the common case takes this path: records the CSV reader produced whole (every mapped column,
text cells, no reader error). A group of records that could carry any issue (a value that does
not parse, an unknown customer type, undecodable bytes, lines that disagree on the header) is
built by :meth:`InvoiceAssembler.build_or_report` instead, so every message and the path that
writes it stay the old ones; an unexpected failure sends the whole batch there. Whatever path an
invoice takes, its fields, their order (the stored JSON follows it), its fields-set and its
``content_hash`` are the same (tests/sources/test_columnar.py compares both paths).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import accumulate, compress, repeat
from operator import is_, is_not, itemgetter
from unicodedata import is_normalized

from pydantic import BaseModel

from amili_pipelines.domain.invoice import Address, InvoiceLine, SourceInvoice
from amili_pipelines.sources.assemble import (
    _ADDRESS_ITEMS,
    _DATE_FIELDS,
    _EMPTY_ADDRESS,
    _HEADER_AMOUNTS,
    _KINDS,
    _LINE_ITEMS,
    _PLAIN_HEADER,
    HEADER_FIELDS,
    InvoiceAssembler,
)
from amili_pipelines.sources.parsing import ParseError, nfc
from amili_pipelines.sources.readers import RECORD_ERROR

Group = list[tuple[int, Mapping[str, object]]]

# SourceInvoice's __dict__ order as InvoiceAssembler.build leaves it (pydantic writes the JSON in
# this order): the fields with a default in declaration order, then the required ones.
_INVOICE_ORDER = tuple([n for n, f in SourceInvoice.model_fields.items() if not f.is_required()]
                       + [n for n, f in SourceInvoice.model_fields.items() if f.is_required()])
_DATES = frozenset(_DATE_FIELDS)
_AMOUNTS = frozenset(_HEADER_AMOUNTS)
_HEAD_ORDER = _INVOICE_ORDER[:_INVOICE_ORDER.index("customer_address")]  # invoice_number .. customer_gln
_TAIL_ORDER = _INVOICE_ORDER[len(_HEAD_ORDER):]
assert _TAIL_ORDER == ("customer_address", "lines", "content_hash", "parse_issues", "source", "location", "row",
                       "creditor", "market"), _TAIL_ORDER
# The plain text fields of the head are the ones build() reads that way.
assert set(_HEAD_ORDER) - _DATES - _AMOUNTS - {"customer_kind"} == set(_PLAIN_HEADER)
_LINE_ORDER = tuple(InvoiceLine.model_fields)
_ADDRESS_ORDER = tuple(Address.model_fields)
_NONES = repeat(None)
_LINE_CACHE_MAX = 10_000  # distinct lines kept per source file: ~15 MB at most (million-row files)
_Q = "'\x1f'"  # between two values in the hash text: the closing quote, U+001F, the opening quote


def _maker(model: type[BaseModel], order: tuple[str, ...]) -> Callable[[tuple, set[str]], BaseModel]:
    """(values in ``order``, fields-set) -> the model, as ``_construct`` in assemble.py makes it."""
    new = model.__new__
    set_attr = object.__setattr__

    def make(values: tuple, fields_set: set[str]) -> BaseModel:
        obj = new(model)
        set_attr(obj, "__dict__", dict(zip(order, values)))
        set_attr(obj, "__pydantic_fields_set__", fields_set)
        set_attr(obj, "__pydantic_extra__", None)
        set_attr(obj, "__pydantic_private__", None)
        return obj

    return make


_make_invoice = _maker(SourceInvoice, _INVOICE_ORDER)
_make_line = _maker(InvoiceLine, _LINE_ORDER)
_make_address = _maker(Address, _ADDRESS_ORDER)


def _fields_sets(order: Sequence[str], columns: Sequence[list], n: int) -> Iterator[set[str]]:
    """Per row, the names whose value is not None: the fields-set ``_construct`` leaves (it is given
    the non-None values only). Most columns are set in every row or in none, so a row's set is
    usually a copy of one set."""
    always: list[str] = []
    varying: list[tuple[str, list]] = []
    for name, col in zip(order, columns):
        nones = sum(map(is_, col, _NONES))  # not list.count: Decimal == None asks the ABCs
        if not nones:
            always.append(name)
        elif nones != n:
            varying.append((name, col))
    base = frozenset(always)
    if not varying:
        return (set(base) for _ in range(n))
    names = [name for name, _ in varying]
    flags = zip(*(map(is_not, col, _NONES) for _, col in varying))
    return (set(base).union(compress(names, f)) for f in flags)


def _texts(col: Sequence[str]) -> list[str | None]:
    """``text()`` of every cell: stripped, NFC, None when empty."""
    out = [s or None for s in map(str.strip, col)]
    # NFC never joins across U+001F, so the column joined is NFC exactly when every cell is (usual).
    if not all(map(str.isascii, col)) and not is_normalized("NFC", "\x1f".join(filter(None, out))):
        out = [None if s is None else nfc(s) for s in out]
    return out


def _parsed(parse: Callable[[str], object], col: Sequence[str], bad: set[int]) -> list[object]:
    """``parse`` of every cell; the positions whose cell does not parse are added to ``bad``."""
    try:
        return list(map(parse, col))
    except ParseError:
        out: list[object] = []
        for k, raw in enumerate(col):
            try:
                out.append(parse(raw))
            except ParseError:
                bad.add(k)
                out.append(None)
        return out


def _getter(fields: Sequence[str]) -> Callable[[Mapping[str, object]], tuple]:
    """The values of ``fields`` of a record, as a tuple (also for one field)."""
    if len(fields) == 1:
        only = fields[0]
        return lambda rec: (rec[only],)
    return itemgetter(*fields)


def _with_default(values: list, default: object) -> list:
    return values if default is None else [default if v is None else v for v in values]


def _plain(quoted: str, separators: int) -> bool:
    """Whether ``quoted`` (values joined with ``separators`` times ``_Q``) is what joining their reprs
    gives: no value holds a quote, a backslash or anything else repr escapes (the non-printable)."""
    return quoted.count("'") == 2 * separators and "\\" not in quoted and quoted.replace(_Q, "").isprintable()


class ColumnarBatch:
    """Builds the invoices of clean CSV records for one assembler; ``fields`` are the keys (in
    order) of every record the reader produced whole."""

    def __init__(self, assembler: InvoiceAssembler, fields: Sequence[str]) -> None:
        self.asm = assembler
        self.fields = tuple(fields)
        self.keys = frozenset(self.fields)
        self.index = {f: i for i, f in enumerate(self.fields)}
        self.getter = _getter(self.fields)
        header = [f for f in HEADER_FIELDS if f in self.keys]
        self.header_getter = _getter(header) if header else None
        self.line_items = [item for item in _LINE_ITEMS if item[0] in self.keys]
        self.line_getter = _getter([f for f, _, _ in self.line_items]) if self.line_items else None
        self._line_cache: dict[tuple, object] = {}
        self._unreadable_lines: set[tuple] = set()

    def eligible(self, group: Group) -> bool:
        """Whether every record of ``group`` is whole: a record that is not carries RECORD_ERROR
        (should one have other keys all the same, reading them fails and the batch is built the
        per-invoice way)."""
        n = len(self.fields)
        return all(len(rec) == n and RECORD_ERROR not in rec for _, rec in group)

    def build(self, groups: list[Group], *, location: str) -> list[SourceInvoice]:
        """The invoices of ``groups`` (each eligible), in order."""
        if not groups:
            return []
        try:
            return self._build(groups, location)
        except Exception:  # noqa: BLE001 - anything unexpected: the per-invoice path decides, as before
            return [self.asm.build_or_report(g, location=location) for g in groups]

    def _build(self, groups: list[Group], location: str) -> list[SourceInvoice]:
        asm = self.asm
        n = len(groups)
        slow: set[int] = set()  # groups the per-invoice path builds (it writes their issues)
        heads = list(zip(*map(self.getter, [g[0][1] for g in groups])))  # one column per field
        cols = self._head_columns(heads, n, slow)
        addresses = self._addresses(heads, n)
        lines = self._lines(groups, slow)
        hashes = self._hashes(groups, slow)
        if self.header_getter is not None:
            hget = self.header_getter
            for k, g in enumerate(groups):
                if len(g) > 1:
                    first = hget(g[0][1])
                    if any(hget(rec) != first for _, rec in g[1:]):
                        slow.add(k)  # lines that disagree: the per-invoice path reports how
        head = [cols[f] for f in _HEAD_ORDER]
        tail = (addresses, lines, hashes, [()] * n, [asm.source] * n, [location] * n, [g[0][0] for g in groups],
                [asm.creditor] * n, [asm.market] * n)
        out: list[SourceInvoice] = []
        append = out.append
        for k, (g, values, fields_set) in enumerate(zip(groups, zip(*head, *tail),
                                                        _fields_sets(_INVOICE_ORDER, (*head, *tail), n))):
            append(asm.build_or_report(g, location=location) if k in slow
                   else _make_invoice(values, fields_set))  # type: ignore[arg-type]
        return out

    def _head_columns(self, heads: list[tuple], n: int, slow: set[int]) -> dict[str, list]:
        """The invoice-level fields as build() reads them from each invoice's first record."""
        asm, index = self.asm, self.index
        parser, defaults = asm.parser, asm.defaults
        cols: dict[str, list] = {}
        for f in _HEAD_ORDER:
            i = index.get(f)
            if f == "customer_kind":
                cols[f] = self._kinds(heads, n, slow)
            elif i is None:  # not in the file: the source's default (dates and amounts have none)
                cols[f] = [None if f in _DATES or f in _AMOUNTS else defaults.get(f)] * n
            elif f in _DATES:
                cols[f] = _parsed(parser.date, heads[i], slow)
            elif f in _AMOUNTS:
                cols[f] = _parsed(parser.amount, heads[i], slow)
            else:
                cols[f] = _with_default(_texts(heads[i]), defaults.get(f))
        if asm.totals_are_open_balances:
            cols["open_balance"] = [t if b is None else b for b, t in zip(cols["open_balance"], cols["total_amount"])]
        return cols

    def _kinds(self, heads: list[tuple], n: int, slow: set[int]) -> list[object]:
        i = self.index.get("customer_kind")
        default = self.asm.defaults.get("customer_kind")
        raw = _with_default(_texts(heads[i]), default) if i is not None else [default] * n
        out = []
        for k, r in enumerate(raw):
            kind = None if r is None else _KINDS.get(r.lower())
            if kind is None and r is not None:
                slow.add(k)  # unknown customer type: an issue the per-invoice path writes
            out.append(kind)
        return out

    def _addresses(self, heads: list[tuple], n: int) -> list[object]:
        parts = []
        for f, target in _ADDRESS_ITEMS:
            i = self.index.get(f)
            default = self.asm.defaults.get(f)
            col = _with_default(_texts(heads[i]), default) if i is not None else [default] * n
            if target == "country":
                col = [None if v is None else v.upper() for v in col]
            parts.append(col)
        empty = (None,) * len(parts)
        return [_EMPTY_ADDRESS if a == empty else _make_address(a, fs)
                for a, fs in zip(zip(*parts), _fields_sets(_ADDRESS_ORDER, parts, n))]

    def _lines(self, groups: list[Group], slow: set[int]) -> list[tuple]:
        """Each invoice's lines; an invoice with a line value that does not parse goes to ``slow``.

        Exports repeat the same few lines (article, units, price) thousands of times: each distinct
        set of cells is read once and its line, immutable, is shared by the invoices that have it."""
        if self.line_getter is None:
            return [()] * len(groups)
        cells = list(map(self.line_getter, (rec for g in groups for _, rec in g)))
        cache, unreadable = self._line_cache, self._unreadable_lines
        distinct = set(cells)
        new = list(distinct.difference(cache))
        if new:
            if len(cache) + len(new) > _LINE_CACHE_MAX:
                cache.clear()
                unreadable.clear()
                new = list(distinct)  # this batch's lines that were cached are gone too: read them again
            cache.update(zip(new, self._read_lines(new, unreadable)))
        made = list(map(cache.__getitem__, cells))
        if unreadable and not unreadable.isdisjoint(cells):  # the per-invoice path writes the parse issue
            owner = [k for k, g in enumerate(groups) for _ in g]
            slow.update(owner[r] for r, c in enumerate(cells) if c in unreadable)
        out: list[tuple] = []
        start = 0
        for g in groups:
            if len(g) == 1:
                line = made[start]
                out.append(() if line is None else (line,))
                start += 1
            else:
                end = start + len(g)
                out.append(tuple(x for x in made[start:end] if x is not None))
                start = end
        return out

    def _read_lines(self, cells: list[tuple], unreadable: set[tuple]) -> list[object]:
        """The line of each distinct set of cells (None when all are empty); the sets with a cell
        that does not parse are added to ``unreadable``."""
        parser = self.asm.parser
        by_target: dict[str, list] = {}
        bad: set[int] = set()
        for (_, target, kind), col in zip(self.line_items, zip(*cells)):
            if kind == "quantity":
                by_target[target] = _parsed(parser.quantity, col, bad)
            elif kind is not None:
                by_target[target] = _parsed(parser.amount, col, bad)
            else:
                by_target[target] = _texts(col)
        m = len(cells)
        parts = [by_target.get(t) or [None] * m for t in _LINE_ORDER]
        empty = (None,) * len(_LINE_ORDER)
        made = [None if t == empty else _make_line(t, fs)
                for t, fs in zip(zip(*parts), _fields_sets(_LINE_ORDER, parts, m))]
        unreadable.update(cells[r] for r in bad)
        return made

    def _hashes(self, groups: list[Group], slow: set[int]) -> list[str]:
        """``content_hash`` as :meth:`InvoiceAssembler.build` computes it: blake2b of the repr of
        every value, each followed by U+001F. Text that repr keeps as it is (the usual case) is
        quoted by joining, not repr'd value by value. A group with undecodable bytes (U+FFFD) goes
        to ``slow``."""
        per_record = [_Q.join(rec.values()) for g in groups for _, rec in g]
        width = len(self.fields)
        blob = "".join(per_record)
        if not _plain(blob, (width - 1) * len(per_record)):
            return self._hashes_by_repr(groups, slow, per_record)
        if len(per_record) == len(groups):  # every invoice on one line
            texts = ["'" + q + "'\x1f" for q in per_record]
        else:
            ends = list(accumulate(map(len, groups)))
            texts = ["'" + _Q.join(per_record[s:e]) + "'\x1f" for s, e in zip([0, *ends], ends)]
        if "\ufffd" in blob:
            slow.update(k for k, t in enumerate(texts) if "\ufffd" in t)
        blake = hashlib.blake2b
        return [blake(t.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for t in texts]

    def _hashes_by_repr(self, groups: list[Group], slow: set[int], per_record: list[str]) -> list[str]:
        """:meth:`_hashes` for a batch with a value repr changes (a quote, a tab): those records by repr."""
        width = len(self.fields)
        recs = (rec for g in groups for _, rec in g)
        texts = ["'" + q + "'" if _plain(q, width - 1) else "\x1f".join(map(repr, rec.values()))
                 for q, rec in zip(per_record, recs)]
        out = []
        start = 0
        for k, g in enumerate(groups):
            end = start + len(g)
            text = "\x1f".join(texts[start:end]) + "\x1f"
            start = end
            if "\ufffd" in text:
                slow.add(k)
            out.append(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest())
        return out
