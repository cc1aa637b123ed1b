"""Rules across invoices of one partition: uniqueness per creditor, the same invoice from two sources."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from operator import attrgetter

from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validation.rules import issue


_number_key = attrgetter("creditor", "invoice_number")
_number = attrgetter("invoice_number")


def _same(a: SourceInvoice, b: SourceInvoice) -> bool:
    return (a.open_balance == b.open_balance and a.customer_id_number == b.customer_id_number
            and a.due_date == b.due_date and a.currency == b.currency)


def cross_invoice_issues(invoices: Sequence[SourceInvoice]) -> dict[int, list[Issue]]:
    """Index into ``invoices`` -> the cross-invoice issues of that invoice."""
    # Counted in C first, by number alone (no key object per invoice): numbers that occur twice are
    # rare, and only the invoices carrying one are keyed by creditor and number, and grouped.
    numbers = list(map(_number, invoices))
    twice = {n for n, count in Counter(numbers).items() if count > 1 and n}
    candidates = [(i, _number_key(invoices[i])) for i, n in enumerate(numbers) if n in twice] if twice else []
    repeated = {k for k, n in Counter(k for _, k in candidates).items() if n > 1}
    by_number: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, k in candidates:
        if k in repeated:
            by_number[k].append(i)
    out: dict[int, list[Issue]] = defaultdict(list)
    for (_, number), idxs in by_number.items():
        if len(idxs) < 2:
            continue
        per_source: dict[str, list[int]] = defaultdict(list)
        for i in idxs:
            per_source[invoices[i].source].append(i)
        for src, same_src in per_source.items():
            if len(same_src) > 1:
                rows = ", ".join(str(invoices[i].row) for i in same_src)
                for i in same_src:
                    out[i].append(issue("invoice.number.unique", invoices[i], "invoice_number", number,
                                        f"invoice number occurs {len(same_src)} times in {src} (rows {rows})"))
        if len(per_source) > 1:
            firsts = [invoices[v[0]] for v in per_source.values()]
            identical = all(_same(firsts[0], other) for other in firsts[1:])
            names = ", ".join(sorted(per_source))
            for i in idxs:
                if identical:
                    out[i].append(issue("invoice.duplicate_across_sources", invoices[i], "invoice_number", number,
                                        f"the same invoice also arrives from {names}; it is registered once"))
                else:
                    out[i].append(issue("invoice.conflict_across_sources", invoices[i], "invoice_number", number,
                                        f"invoice number arrives from {names} with different balance, due date, "
                                        "currency or customer"))
    return out
