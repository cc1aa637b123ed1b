"""Column-wise screens, one per rule group of rules.RULE_GROUPS: on which invoices may the group
find something?

A screen reads its group's fields as columns (a list per field, read once per chunk of invoices and
shared by the screens) and returns the positions of the invoices it cannot clear. It may return too
many (the group then runs and finds nothing) but never too few: an invoice a screen clears wrongly
would reach the agency unchecked. Each screen is its group's conditions for "no issue", in the
group's own terms; identity numbers, references and phones are judged by the exact column checks
of columns.py. A screen ignores parse issues: they only ever silence a rule, never add one, so an
invoice cleared without them is cleared with them. tests/domain/test_bulk_validation.py holds the
screens, through bulk.py, to ``validate_invoice``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain, islice
from operator import itemgetter

import numpy as np

from amili_pipelines.domain.invoice import CustomerKind, Market, SourceInvoice
from amili_pipelines.domain.validation import columns, rules
from amili_pipelines.domain.validation.identifiers import check_no_kid, check_se_orgnr, check_se_personnummer

_ZERO, _ONE, _CENT, _HUNDRED = rules._ZERO, rules._ONE, rules._CENT, rules._HUNDRED


class Columns:
    """A chunk of invoices, field by field (``customer_address.city`` for the address's).

    Read from each invoice's field dictionary (a pydantic model's fields are its ``__dict__``): a
    dictionary lookup costs less than an attribute lookup, and a whole chunk's dictionaries stay in
    the processor's cache while every column is read. A column is read when first asked for, with
    no object per invoice (no row tuples: those would feed the garbage collector's counts).
    """

    def __init__(self, invoices: Sequence[SourceInvoice], read: dict[str, list] | None = None) -> None:  # type: ignore[type-arg]
        self.invoices = invoices
        self.dicts = list(map(vars, invoices))
        self._read: dict[str, list] = read if read is not None else {}  # type: ignore[type-arg]
        self._address_dicts: list | None = None  # type: ignore[type-arg]

    @classmethod
    def of(cls, read: dict[str, list]) -> Columns:  # type: ignore[type-arg]
        """Columns already read (e.g. several chunks' put end to end); no other field can be asked for."""
        return cls((), read)

    @property
    def address_dicts(self) -> list:  # type: ignore[type-arg]
        if self._address_dicts is None:
            self._address_dicts = list(map(vars, self["customer_address"]))
        return self._address_dicts

    def __getitem__(self, name: str) -> list:  # type: ignore[type-arg]
        column = self._read.get(name)
        if column is None:
            parent, _, field = name.partition(".")
            if field:
                column = list(map(itemgetter(field), self.address_dicts))
            else:
                column = list(map(itemgetter(parent), self.dicts))
            self._read[name] = column
        return column


Screen = Callable[[Columns, Mapping[str, str | None]], list[int]]


def _invoice(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._invoice_rules: a number, both dates, the due date not first, the market's currency."""
    expected = list(map(rules.CURRENCY.__getitem__, c["market"]))
    return [i for i, (number, issued, due, currency, wanted) in enumerate(zip(
        c["invoice_number"], c["invoice_date"], c["due_date"], c["currency"], expected, strict=True))
        if not number or issued is None or due is None or due < issued or currency != wanted]


def _amounts(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._amount_rules: an open balance above 0; a total, when given, above 0 and not below it."""
    return [i for i, (bal, total) in enumerate(zip(c["open_balance"], c["total_amount"], strict=True))
            if bal is None or bal <= _ZERO or (total is not None and (total <= _ZERO or bal > total))]


# Per market, each allowed VAT rate's factor 1 + rate/100 (rules._line_rules' gross): the factor of
# a line's rate is looked up instead of computed. Decimal results and comparisons depend on the
# operands' values only, and a rate equal to an allowed one (25.0 is 25) has its factor's value.
_FACTORS = {market: {rate: _ONE + rate / _HUNDRED for rate in rates} for market, rates in rules.VAT_RATES.items()}


def _lines(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._line_rules: lines present, each consistent, with positive units and a market VAT rate,
    and, when the total and every line total are given, lines plus VAT within 1 of the total."""
    per_invoice = c["lines"]
    counts = list(map(len, per_invoice))
    lines = list(chain.from_iterable(per_invoice))
    if not lines:
        return [i for i, n in enumerate(counts) if not n]
    owner = np.repeat(np.arange(len(counts)), counts).tolist()
    markets = set(c["market"])
    line_dicts = list(map(vars, lines))
    prices, units, line_totals, vats = (list(map(itemgetter(f), line_dicts))
                                        for f in ("unit_price", "units", "total_excl_vat", "vat_percent"))
    if len(markets) == 1:  # the usual chunk: one market, one table (a missing rate, None, gets None)
        factors = list(map(_FACTORS[markets.pop()].get, vats))
    else:
        factors_of = list(map(_FACTORS.__getitem__, c["market"]))
        factors = [None if vat is None else factors_of[o].get(vat) for vat, o in zip(vats, owner, strict=True)]
    suspects = {owner[k] for k, (price, n, lt, vat, factor) in enumerate(zip(prices, units, line_totals, vats, factors,
                                                                               strict=True))
                if (vat is not None and factor is None)  # not a rate of the market
                or (n is not None and n <= _ZERO)
                or (price is not None and n is not None and lt is not None and price * n != lt
                    and abs(price * n - lt) > _CENT)}  # most lines are exact: one product, one comparison
    suspects.update(i for i, n in enumerate(counts) if not n)
    # The group's gross: 0, plus each line's total times its factor, in line order (a line without a
    # rate: times 1; one with a rate not of the market is a suspect already), summed by sum() from 0
    # as the group adds; unknown (not judged) when a line has no total.
    unknown = {owner[k] for k, lt in enumerate(line_totals) if lt is None}
    terms = [_ZERO if lt is None else lt * (_ONE if factor is None else factor)
             for lt, factor in zip(line_totals, factors, strict=True)]
    following = iter(terms)
    grosses = [sum(islice(following, n), _ZERO) for n in counts]
    suspects.update(i for i, (gross, total) in enumerate(zip(grosses, c["total_amount"], strict=True))
                    if total is not None and i not in unknown and i not in suspects and abs(gross - total) > _ONE)
    return sorted(suspects)


def _customer(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._customer_rules: a customer type, and a name (or both first and last name)."""
    return [i for i, (kind, name, first, last) in enumerate(zip(
        c["customer_kind"], c["customer_name"], c["customer_first_name"], c["customer_last_name"], strict=True))
        if kind is None or not (name or (first and last))]


_ID_CHECKS_MANY: dict[Callable[[str], str | None], Callable[[Sequence[str]], list[str | None]]] = {
    check_se_personnummer: columns.check_se_personnummer_many,
    check_se_orgnr: columns.check_se_orgnr_many,
}


def _verdicts(check: Callable[[str], str | None], values: list[str]) -> list[str | None]:
    many = _ID_CHECKS_MANY.get(check)
    if many is not None:
        return many(values)
    distinct = {v: check(v) for v in values}  # Norway's checks: stdnum, once per distinct number
    return [distinct[v] for v in values]


def _ids(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._id_rules: a domestic customer's number present and passing its check (rules.ID_CHECKS)."""
    # market -> kind -> (positions, numbers); no key object per invoice
    by_kind = {market: {kind: ([], []) for kind in (CustomerKind.PERSON, CustomerKind.COMPANY)} for market in Market}
    suspects = []
    foreign = CustomerKind.FOREIGN
    for i, (kind, market, idn) in enumerate(zip(c["customer_kind"], c["market"], c["customer_id_number"], strict=True)):
        if kind is foreign or kind is None:
            continue
        if not idn:
            suspects.append(i)
            continue
        where, values = by_kind[market][kind]
        where.append(i)
        values.append(idn)
    for market, kinds in by_kind.items():
        for kind, (where, values) in kinds.items():
            if values:
                reasons = _verdicts(rules.ID_CHECKS[(market, kind)], values)
                suspects += [i for i, reason in zip(where, reasons, strict=True) if reason is not None]
    return suspects


def _contact(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._contact_rules: a known country (another than the market's for a foreign customer),
    street, postcode and city, no GLN (rare: the group judges it), a valid phone and e-mail."""
    countries, markets = c["customer_address.country"], c["market"]
    iso, foreign = rules.ISO_3166_ALPHA2, CustomerKind.FOREIGN
    suspects = [i for i, (country, kind, market, line1, zip_code, city, gln) in enumerate(zip(
        countries, c["customer_kind"], markets, c["customer_address.line1"], c["customer_address.zip_code"],
        c["customer_address.city"], c["customer_gln"], strict=True))
        if gln or not (line1 and zip_code and city) or (country is not None and country not in iso)
        or (kind is foreign and (country is None or country == market.value))]
    phones = c["customer_phone"]
    at = [i for i, p in enumerate(phones) if p]
    ok = columns.phone_ok_many([phones[i] for i in at], [countries[i] or markets[i].value for i in at])
    suspects += [i for i, good in zip(at, ok, strict=True) if not good]
    email = rules._EMAIL.match
    suspects += [i for i, e in enumerate(c["customer_email"]) if e and email(e) is None]
    return suspects


_texts_of = itemgetter(*rules._TEXT_FIELDS)
_address_texts_of = itemgetter(*rules._ADDRESS_TEXT)


def _texts(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._text_rules: every present text printable and not spaces only (what
    rules._text_rules_each passes over). When all texts of all invoices, joined by "|", are
    printable with no "| " and no leading space, there is no other (a text of spaces only would put
    a space after a "|" or first); else the invoices are looked at text by text."""
    every = chain(chain.from_iterable(map(_texts_of, c.dicts)), chain.from_iterable(map(_address_texts_of, c.address_dicts)))
    joined = "|".join(filter(None, every))
    if joined.isprintable() and "| " not in joined and not joined.startswith(" "):
        return []
    texts = [c[f] for f in rules._TEXT_FIELDS] + [c[f"customer_address.{f}"] for f in rules._ADDRESS_TEXT]
    return sorted({i for column in texts for i, v in enumerate(column) if v and not (v.isprintable() and not v.isspace())})


def _references(c: Columns, schemes: Mapping[str, str | None]) -> list[int]:
    """rules._reference_rules: a present reference passes its scheme's check (none: no check)."""
    refs = c["payment_reference"]
    given = {source: schemes.get(source) for source in set(c["source"])}
    in_force = list(map(given.__getitem__, c["source"]))  # the source's scheme, else the market's
    if not all(in_force):
        in_force = [rules.reference_scheme_of(market, scheme) for market, scheme in zip(c["market"], in_force, strict=True)]
    suspects = []
    for scheme in set(in_force) - {"none"}:
        where = [i for i, (ref, s) in enumerate(zip(refs, in_force, strict=True)) if ref and s == scheme]
        values = [refs[i] for i in where]
        if scheme.startswith("ocr"):
            reasons = columns.check_se_ocr_many(values, require_length_digit=scheme == "ocr-length")
        else:
            reasons = [check_no_kid(v, scheme=scheme) for v in values]
        suspects += [i for i, reason in zip(where, reasons, strict=True) if reason is not None]
    return suspects


# One screen per rule group, in rules.RULE_GROUPS' order.
SCREENS: tuple[Screen, ...] = (_invoice, _amounts, _lines, _customer, _ids, _contact, _texts, _references)
# Screens whose checks run in numpy, with the fields they read: bulk.py gathers those fields chunk by
# chunk and runs these once over the whole list (numpy's cost per call would weigh on small chunks).
WHOLE_LIST: dict[Screen, tuple[str, ...]] = {
    _ids: ("customer_kind", "market", "customer_id_number"),
    _references: ("payment_reference", "source", "market"),
}
