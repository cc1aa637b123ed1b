"""The single-invoice rules over a whole list of invoices at once: for each invoice, exactly what
``validate_invoice`` gives it, at a fraction of the cost per invoice.

rules.RULE_GROUPS lists the rules in groups, in the order of their issues. Each group has a
column-wise screen (screens.py) that clears, over many invoices at once, those on which the group
surely finds nothing; then each invoice gets the groups its screens could not clear, run in
group order, so its issues come in ``validate_invoice``'s order. Most invoices are
cleared by every screen and cost no rule call at all. An invoice's parse issues come first and
silence what they silence in ``validate_invoice``; an unreadable document gets them only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validation import rules
from amili_pipelines.domain.validation.screens import SCREENS, WHOLE_LIST, Columns


# Screens read every invoice once per field: a slice of invoices this size stays in the processor's
# cache between those passes (over a whole partition each pass would fetch every invoice from memory
# again, which costs more than the checks). The numpy screens (screens.WHOLE_LIST) run once over the
# whole list instead, on the fields gathered chunk by chunk.
CHUNK = 512


def single_invoice_issues(invoices: Sequence[SourceInvoice], reference_schemes: Mapping[str, str | None], *,
                          chunk: int = CHUNK) -> dict[int, list[Issue]]:
    """Index into ``invoices`` -> ``validate_invoice(inv, reference_scheme=reference_schemes.get(inv.source))``,
    for the invoices where that is not empty."""
    groups = rules.RULE_GROUPS
    to_run: dict[int, int] = defaultdict(int)  # invoice -> the groups to run on it, one bit each
    gathered: dict[str, list] = {f: [] for fields in WHOLE_LIST.values() for f in fields}  # type: ignore[type-arg]
    for start in range(0, len(invoices), chunk):
        columns = Columns(invoices[start:start + chunk])
        for g, screen in enumerate(SCREENS):
            if screen not in WHOLE_LIST:
                for i in screen(columns, reference_schemes):
                    to_run[start + i] |= 1 << g
        for f, column in gathered.items():
            column += columns[f]
        for i, parse_issues in enumerate(columns["parse_issues"]):
            if parse_issues:
                to_run[start + i] |= 0  # its parse issues are its first issues
    whole = Columns.of(gathered)
    for g, screen in enumerate(SCREENS):
        if screen in WHOLE_LIST:
            for i in screen(whole, reference_schemes):
                to_run[i] |= 1 << g
    found: dict[int, list[Issue]] = {}
    for i in sorted(to_run):
        inv = invoices[i]
        # validate_invoice's start: the parse issues, and the fields they name
        out = list(inv.parse_issues)
        fields = {p.field for p in inv.parse_issues} if out else rules.NO_FIELDS
        if "document" not in fields:  # an unreadable document gets its parse issues only
            bits = to_run[i]
            scheme = rules.reference_scheme_of(inv.market, reference_schemes.get(inv.source))
            for g, group in enumerate(groups):
                if bits >> g & 1:
                    group(inv, fields, scheme, out)
        if out:
            found[i] = out
    return found
