"""The disagreement check between an invoice's lines parses only fields whose cells differ; it must
find exactly what parsing every field of every line finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from amili_pipelines.sources.assemble import _comparable, _disagreeing
from amili_pipelines.sources.columns import HEADER_FIELDS
from amili_pipelines.sources.parsing import ValueParser

PARSER = ValueParser(decimal=",", thousands=" ")
FIELDS = ("currency", "due_date", "open_balance", "customer_kind", "customer_id_number", "customer_name")
# Values that are equal as Python objects yet parse apart (1 and True), equal after parsing yet
# written apart ("1,00" and "1"), unparseable, empty.
RAW = st.sampled_from([None, "SEK", "EUR", "2026-05-01", "2026-5-1", "1,00", "1", 1, True, 1.0, "Person", "person",
                       " Anna ", "Anna", "x", ""])


def _exact(group):
    """Every field of every line parsed, as before the fast path."""
    for f in HEADER_FIELDS:
        seen = {}
        for row, rec in group:
            raw = rec.get(f)
            value = _comparable(PARSER, f, raw) if raw is not None else None
            if value is not None and value not in seen:
                seen[value] = (row, raw)
        if len(seen) > 1:
            yield f, list(seen.values())


@settings(max_examples=400, deadline=None)
@given(st.lists(st.fixed_dictionaries({f: RAW for f in FIELDS}), min_size=2, max_size=4))
def test_fast_path_finds_what_parsing_every_line_finds(records):
    group = [(i + 2, {k: v for k, v in rec.items() if v is not None}) for i, rec in enumerate(records)]
    assert list(_disagreeing(PARSER, group)) == list(_exact(group))


def test_lines_that_repeat_the_header_agree():
    rec = {"currency": "SEK", "due_date": "2026-05-01", "open_balance": "1 000,00", "customer_name": "Anna"}
    assert list(_disagreeing(PARSER, [(2, rec), (3, dict(rec)), (4, {**rec, "customer_name": None})])) == []
