"""Records (one per invoice line, canonical field names) -> canonical SourceInvoices.

Tabular exports repeat the invoice header on every line; consecutive records with the same
invoice number form one invoice. A record without an invoice number is an invoice of its own
(it will be quarantined, never dropped). Values that cannot be read become ``None`` plus a parse
issue naming location, row, field, source column and the (masked) raw value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel

from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    Market,
    SourceInvoice,
)
from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.domain.masking import mask_id_number
from amili_pipelines.sources.columns import (
    AMOUNT_FIELDS,
    CUSTOMER_KIND_WORDS,
    DATE_FIELDS,
    HEADER_FIELDS,
    LINE_FIELDS,
)
from amili_pipelines.sources.parsing import ParseError, ValueParser, masked_cut, nfc, text
from amili_pipelines.sources.readers import RECORD_ERROR, snippet

if TYPE_CHECKING:
    from amili_pipelines.sources.columnar import ColumnarBatch

# Invoices assembled per batch on the columnar path: big enough that per-column work dominates.
_BATCH_GROUPS = 2_000
_ADDRESS = {"address_line1": "line1", "address_line2": "line2", "address_line3": "line3",
            "zip_code": "zip_code", "city": "city", "country": "country"}
_LINE = {"line_description": "description", "line_article_number": "article_number",
         "line_unit_price": "unit_price", "line_units": "units", "line_total_excl_vat": "total_excl_vat",
         "line_vat_percent": "vat_percent"}
_PLAIN_HEADER = tuple(f for f in HEADER_FIELDS if f not in _ADDRESS and f not in DATE_FIELDS
                      and f not in AMOUNT_FIELDS and f != "customer_kind")
_SENSITIVE = frozenset({"customer_id_number"})
_KINDS = {k: CustomerKind(v) for k, v in CUSTOMER_KIND_WORDS.items()}
_EMPTY_ADDRESS = Address()
_DATE_FIELDS = tuple(sorted(DATE_FIELDS))
_HEADER_AMOUNTS = ("total_amount", "open_balance", "vat_amount")
_ADDRESS_ITEMS = tuple(_ADDRESS.items())
# How each line cell is read: money (two decimals at most), a quantity (units, unit price, VAT
# rate: more decimals are real, 0,333 h or 1,2345 kr/kWh) or text.
_QUANTITIES = frozenset({"line_units", "line_unit_price", "line_vat_percent"})
_LINE_ITEMS = tuple((f, target, "quantity" if f in _QUANTITIES else "amount" if f in AMOUNT_FIELDS else None)
                    for f, target in _LINE.items())


def _shown(field: str, raw: object) -> str:
    """The raw cell as an issue's value: masked first, then cut (a number cut in two escapes the masker)."""
    if field in _SENSITIVE:
        s = mask_id_number(str(raw)[:200]) or ""
        return s if len(s) <= 60 else s[:57] + "..."
    return masked_cut(raw, 60, "...")


class InvoiceAssembler:
    """Builds SourceInvoices for one source; ``columns`` names the source column behind each field."""

    def __init__(
        self,
        *,
        source: str,
        creditor: str,
        market: Market,
        parser: ValueParser,
        columns: Mapping[str, str] | None = None,
        defaults: Mapping[str, str] | None = None,
        totals_are_open_balances: bool = False,
        record_fields: Sequence[str] | None = None,
    ) -> None:
        self.source = source
        self.creditor = creditor
        self.market = market
        self.parser = parser
        self.columns = dict(columns or {})
        self.defaults = dict(defaults or {})
        self.totals_are_open_balances = totals_are_open_balances
        # The keys, in order, of every record the reader produced whole with text cells (CSV):
        # such records are assembled in batches, column by column (see columnar.py).
        self.record_fields = tuple(record_fields) if record_fields else None
        self._columnar: ColumnarBatch | None = None

    def __getstate__(self) -> dict[str, object]:  # pickled for worker processes: the batch builder is rebuilt there
        state = dict(self.__dict__)
        state["_columnar"] = None
        return state

    # -- issues -----------------------------------------------------------------------------
    def _issue(self, rule: str, field: str, raw: object, why: str, location: str, row: int) -> Issue:
        col = self.columns.get(field)
        col_txt = f" (column {col!r})" if col and col != field else ""
        shown = _shown(field, raw) if raw is not None else None
        return Issue(
            rule=rule, severity=Severity.ERROR, field=field,
            message=f"{location} row {row}: {field}{col_txt}: {why}",
            value=shown, location=location, row=row,
        )

    def _disagreements(self, group: list[tuple[int, Mapping[str, object]]], location: str) -> list[Issue]:
        """A multi-line invoice takes its header from its first line: a later line that says another
        currency, customer or due date would otherwise be silently overruled."""
        out = []
        number = text(group[0][1].get("invoice_number"))
        for f, values in _disagreeing(self.parser, group):
            col = self.columns.get(f)
            col_txt = f" (column {col!r})" if col and col != f else ""
            shown = ", ".join(f"row {r}: {snippet(_shown(f, raw), 40)!r}" for r, raw in values)
            rows = ", ".join(str(r) for r, _ in values)
            out.append(Issue(rule="invoice.lines.disagree", severity=Severity.ERROR, field=f,
                             message=f"{location} rows {rows}: {f}{col_txt}: the lines of invoice "
                                     f"{snippet(number, 40)!r} disagree ({shown}); fix the export so every line "
                                     "of an invoice carries the same value",
                             location=location, row=values[0][0]))
        return out

    # -- grouping ---------------------------------------------------------------------------
    def invoices(self, records: Iterable[tuple[int, Mapping[str, object]]], *, location: str) -> Iterator[SourceInvoice]:
        """``records`` yields (1-based row number, record) in file order."""
        if self.record_fields is not None:
            yield from self._batched(records, location=location)
            return
        group: list[tuple[int, Mapping[str, object]]] = []
        current: str | None = None
        for row, rec in records:
            number = text(rec.get("invoice_number"))
            if group and (number is None or number != current):
                yield self.build_or_report(group, location=location)
                group = []
            group.append((row, rec))
            current = number
            if number is None:  # no number: an invoice of its own
                yield self.build_or_report(group, location=location)
                group = []
                current = None
        if group:
            yield self.build_or_report(group, location=location)

    def _batched(self, records: Iterable[tuple[int, Mapping[str, object]]], *, location: str) -> Iterator[SourceInvoice]:
        """:meth:`invoices` (same grouping) with whole records built a batch at a time."""
        batch: list[list[tuple[int, Mapping[str, object]]]] = []
        group: list[tuple[int, Mapping[str, object]]] = []
        current: str | None = None
        try:
            for row, rec in records:
                number = text(rec.get("invoice_number"))
                if group and (number is None or number != current):
                    batch.append(group)
                    group = []
                    if len(batch) >= _BATCH_GROUPS:
                        done, batch = batch, []  # emptied first: the except below builds only unbuilt groups
                        yield from self._build_batch(done, location)
                group.append((row, rec))
                current = number
                if number is None:  # no number: an invoice of its own
                    batch.append(group)
                    group = []
                    current = None
        except Exception:
            # The reader failed: the invoices completed before it are kept, as record by record.
            yield from self._build_batch(batch, location)
            raise
        if group:
            batch.append(group)
        yield from self._build_batch(batch, location)

    def _build_batch(self, batch: list[list[tuple[int, Mapping[str, object]]]], location: str) -> list[SourceInvoice]:
        if not batch:
            return []
        columnar = self._columnar
        if columnar is None:
            from amili_pipelines.sources.columnar import ColumnarBatch  # noqa: PLC0415 - it builds on this module

            columnar = self._columnar = ColumnarBatch(self, self.record_fields or ())
        whole = [columnar.eligible(g) for g in batch]
        if all(whole):
            return columnar.build(batch, location=location)
        built = iter(columnar.build([g for g, ok in zip(batch, whole) if ok], location=location))
        return [next(built) if ok else self.build_or_report(g, location=location) for g, ok in zip(batch, whole)]

    def build_or_report(self, group: list[tuple[int, Mapping[str, object]]], *, location: str) -> SourceInvoice:
        """:meth:`build`, or, when one record breaks it, an invoice carrying that as its issue: the
        rest of the file is still read, and this record is quarantined with its row, not lost."""
        try:
            return self.build(group, location=location)
        except Exception as exc:  # noqa: BLE001 - any failure on one record stays on that record
            row = group[0][0]
            rows = ", ".join(str(r) for r, _ in group)
            try:
                number = text(group[0][1].get("invoice_number"))
            except Exception:  # noqa: BLE001
                number = None
            issue = Issue(rule="parse.record", severity=Severity.ERROR, field="record", location=location, row=row,
                          message=f"{location} row {rows}: the record could not be read ({type(exc).__name__}: "
                                  f"{snippet(exc)})")
            key = hashlib.blake2b(f"{location}\x1f{rows}".encode("utf-8", "replace"), digest_size=16).hexdigest()
            return _invoice({"source": self.source, "location": location, "row": row, "creditor": self.creditor,
                             "market": self.market, "invoice_number": number if number and len(number) <= 100 else None,
                             "lines": (), "content_hash": key, "parse_issues": (issue,)})

    def build(self, group: list[tuple[int, Mapping[str, object]]], *, location: str) -> SourceInvoice:
        """One invoice from its records. Values are typed here, so the models are built with
        ``model_construct`` (no second round of pydantic validation: it was a third of the cost)."""
        row, head = group[0]
        issues: list[Issue] = []
        defaults = self.defaults
        values: dict[str, object] = {}
        get = head.get
        for f in _PLAIN_HEADER:
            v = get(f)
            if v is not None:
                v = v.strip() or None if type(v) is str else text(v)  # noqa: E721 - exact str is the hot path
                if v is not None and not v.isascii():
                    v = nfc(v)
            if v is None:
                v = defaults.get(f)
            if v is not None:
                values[f] = v
        parser = self.parser
        for f in _DATE_FIELDS:
            raw = get(f)
            if raw is None:
                continue
            try:
                d = parser.date(raw)
            except ParseError as exc:
                issues.append(self._issue("parse.date", f, raw, str(exc), location, row))
                d = None
            if d is not None:
                values[f] = d
        for f in _HEADER_AMOUNTS:
            raw = get(f)
            if raw is None:
                continue
            try:
                a = parser.amount(raw)
            except ParseError as exc:
                issues.append(self._issue("parse.amount", f, raw, str(exc), location, row))
                a = None
            if a is not None:
                values[f] = a
        # Only a source that says so delivers the full amount as the open balance; an empty balance
        # cell is quarantined instead (a paid invoice must never be claimed at its total).
        if self.totals_are_open_balances and "open_balance" not in values and "total_amount" in values:
            values["open_balance"] = values["total_amount"]
        raw_kind = text(get("customer_kind")) or defaults.get("customer_kind")
        if raw_kind is not None:
            kind = _KINDS.get(raw_kind.lower())
            if kind is None:
                issues.append(self._issue("parse.customer_kind", "customer_kind", raw_kind,
                                          f"unknown customer type {raw_kind!r} (expected person, company or foreign)",
                                          location, row))
            else:
                values["customer_kind"] = kind
        addr = {}
        for f, target in _ADDRESS_ITEMS:
            v = text(get(f)) or defaults.get(f)
            if v is not None:
                addr[target] = v.upper() if target == "country" else v
        values["customer_address"] = _address(addr) if addr else _EMPTY_ADDRESS

        lines = []
        for idx, (lrow, rec) in enumerate(group):
            line: dict[str, object] = {}
            rget = rec.get
            for f, target, kind in _LINE_ITEMS:
                raw = rget(f)
                if raw is None:
                    continue
                if kind is not None:
                    try:
                        v = parser.quantity(raw) if kind == "quantity" else parser.amount(raw)
                    except ParseError as exc:
                        issues.append(self._issue("parse.amount", f"lines[{idx}].{target}", raw, str(exc), location, lrow))
                        v = None
                else:
                    v = text(raw)
                if v is not None:
                    line[target] = v
            if line:
                lines.append(_line(line))

        # Undecodable bytes (wrong encoding configured) would reach Amili as garbled names.
        digest = hashlib.blake2b(digest_size=16)
        parts: list[str] = []
        for _, rec in group:
            parts.extend(map(repr, rec.values()))
        # Same bytes as updating the digest per value with repr(v) + b"\x1f" (content_hash is stable).
        joined = "\x1f".join(parts) + "\x1f" if parts else ""
        # U+FFFD is printable, so repr keeps it: one search finds whether any record needs a look.
        suspicious = "\ufffd" in joined
        for lrow, rec in group:
            err = rec.get(RECORD_ERROR)
            if err is not None:
                issues.append(Issue(rule="parse.record", severity=Severity.ERROR, field="record",
                                    message=f"{location} row {lrow}: {err}", location=location, row=lrow))
            if suspicious:
                for k, v in rec.items():
                    if isinstance(v, str) and "\ufffd" in v:
                        issues.append(self._issue("parse.encoding", k, v, "text contains undecodable bytes "
                                                  "(check the source's encoding)", location, row))
        if len(group) > 1:
            issues.extend(self._disagreements(group, location))
        if joined:
            digest.update(joined.encode("utf-8", "surrogatepass"))
        values.update(source=self.source, location=location, row=row, creditor=self.creditor, market=self.market,
                      lines=tuple(lines), content_hash=digest.hexdigest(), parse_issues=tuple(issues))
        return _invoice(values)


_MISSING = object()


def _comparable(parser: ValueParser, field: str, raw: object) -> object:
    """What two lines must share for ``field``: the parsed value where there is one."""
    try:
        if field in DATE_FIELDS:
            return parser.date(raw)
        if field in AMOUNT_FIELDS:
            return parser.amount(raw)
    except ParseError:
        pass  # reported as a parse issue already; compare the text
    value = text(raw)
    return value.casefold() if field == "customer_kind" and value else value


def _header(rec: Mapping[str, object]) -> tuple[tuple[object, ...], tuple[type, ...]]:
    """A record's invoice-level cells with their types (in JSON, 1 == true, yet they parse apart)."""
    values = tuple(map(rec.get, HEADER_FIELDS))
    return values, tuple(map(type, values))


def _disagreeing(parser: ValueParser, group: list[tuple[int, Mapping[str, object]]],
                 ) -> Iterator[tuple[str, list[tuple[int, object]]]]:
    """(field, [(row, raw value)]) for every invoice-level field whose lines say different things.
    An empty cell on a later line says nothing, so it does not disagree."""
    # Exports repeat the header on every line, byte for byte: equal raw cells parse to equal
    # values, so only a field whose cells differ needs parsing (this ran for every field of
    # every multi-line invoice, a fifth of extraction).
    head = _header(group[0][1])
    if all(_header(rec) == head for _, rec in group[1:]):
        return
    differ: list[str] = []
    for f in HEADER_FIELDS:
        first = _MISSING
        for _, rec in group:
            raw = rec.get(f)
            if raw is None:
                continue
            if first is _MISSING:
                first = raw
            elif raw != first or type(raw) is not type(first):  # JSON: 1 == true, yet they parse apart
                differ.append(f)
                break
    for f in differ:
        seen: dict[object, tuple[int, object]] = {}
        for row, rec in group:
            raw = rec.get(f)
            value = _comparable(parser, f, raw) if raw is not None else None
            if value is not None and value not in seen:
                seen[value] = (row, raw)
        if len(seen) > 1:
            yield f, list(seen.values())


def _construct(model: type[BaseModel]):  # type: ignore[no-untyped-def]
    """``model(**values)`` without validation: every value is already of the field's type."""
    defaults = {name: f.get_default(call_default_factory=True) for name, f in model.model_fields.items()
                if not f.is_required()}
    names = frozenset(model.model_fields)
    new = model.__new__
    set_attr = object.__setattr__

    def build(values: dict[str, object]) -> BaseModel:
        obj = new(model)
        d = dict(defaults)
        d.update(values)
        set_attr(obj, "__dict__", d)
        set_attr(obj, "__pydantic_fields_set__", set(values))
        set_attr(obj, "__pydantic_extra__", None)
        set_attr(obj, "__pydantic_private__", None)
        return obj

    build.names = names  # type: ignore[attr-defined]
    return build


_address = _construct(Address)
_line = _construct(InvoiceLine)
_invoice_build = _construct(SourceInvoice)


def _invoice(values: dict[str, object]) -> SourceInvoice:
    if "customer_address" not in values:
        values["customer_address"] = _EMPTY_ADDRESS
    return _invoice_build(values)  # type: ignore[return-value]


def zero_if_none(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


__all__ = ["InvoiceAssembler", "LINE_FIELDS"]
